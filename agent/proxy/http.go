package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/elazarl/goproxy"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/sysproxy"
	"github.com/greengate/greengate/rules/policy"
)

// requestPath is the "ask a parent" page the block page links to. The proxy
// answers it itself, only on hosts it blocks, so no real site's page is ever
// shadowed.
const requestPath = "/greengate/request"

// onRequest decides a plain-HTTP proxy request (absolute URL) before goproxy
// forwards it.
func (p *Proxy) onRequest(r *http.Request, gctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	if resp, _ := p.route(r, profileOf(r), false); resp != nil {
		return r, resp
	}
	gctx.RoundTripper = goproxy.RoundTripperFunc(p.roundTrip)
	return r, nil
}

// An upgraded plain-HTTP connection is spliced: nothing on it is decided
// again. That is acceptable for a WebSocket, whose frames go to the URL
// that was decided, and for nothing else: after "Upgrade: h2c" the client
// would send HTTP/2 requests for any path and any host. So an upgrade to
// anything but a WebSocket is sent as a plain request (a server may
// always ignore Upgrade, RFC 9110 7.8), and a 101 that does not answer a
// WebSocket upgrade with a WebSocket is not passed on.

// plainUpgrade takes any upgrade but a WebSocket's out of r.
func plainUpgrade(r *http.Request) {
	if _, ok := r.Header["Upgrade"]; !ok || isWebSocketUpgrade(r.Header) {
		return
	}
	r.Header.Del("Upgrade")
	r.Header.Del("HTTP2-Settings")
	r.Header.Del("Connection") // names the fields just removed
}

func isWebSocketUpgrade(h http.Header) bool {
	return headerHasToken(h, "Connection", "upgrade") && headerHasToken(h, "Upgrade", "websocket")
}

// onResponse refuses a 101 that is not a WebSocket's, before goproxy
// would splice (or half-pass) it.
func (p *Proxy) onResponse(resp *http.Response, gctx *goproxy.ProxyCtx) *http.Response {
	if resp == nil || resp.StatusCode != http.StatusSwitchingProtocols {
		return resp
	}
	req := gctx.Req
	if req == nil {
		req = resp.Request
	}
	if req != nil && isWebSocketUpgrade(req.Header) && isWebSocketUpgrade(resp.Header) {
		return resp
	}
	_ = resp.Body.Close()
	p.log.Info("proxy: refused an origin's switch to a protocol that is not a WebSocket", "upgrade", resp.Header.Get("Upgrade"))
	return p.textResponse(req, http.StatusBadGateway, "GreenGate: the site switched to a protocol the filter cannot check")
}

// route decides a plain-HTTP proxy request and readies an allowed one for
// its origin: (nil, true) means forward r. Otherwise the proxy answers
// itself, with the returned response; for the lane (lane.go), which
// answers nothing itself, it returns (nil, false) instead, before any
// side effect, and the request is served again by the server.
func (p *Proxy) route(r *http.Request, m *connProfile, lane bool) (*http.Response, bool) {
	answer := func(code int, msg string) (*http.Response, bool) {
		if lane {
			return nil, false
		}
		return p.textResponse(r, code, msg), true
	}
	port := r.URL.Port()
	if port == "" {
		port = "80"
		if r.URL.Scheme == "https" {
			port = "443"
		}
	}
	host, nport, err := ParseAuthority(net.JoinHostPort(r.URL.Hostname(), port))
	if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
		err = errors.New("unsupported scheme")
	}
	if err != nil {
		return answer(http.StatusBadRequest, "GreenGate: bad request target")
	}
	if !httpPortAllowed(nport) {
		return answer(http.StatusForbidden, "GreenGate: plain HTTP to port "+port+" is not allowed")
	}
	d, ok := p.begin(r.RemoteAddr, m)
	if !ok {
		return answer(http.StatusServiceUnavailable, "GreenGate: filter not ready")
	}

	v := p.decideHTTP(&d, host, r.URL)
	if v.Action == policy.Block && lane {
		return nil, false
	}
	// What is decided is what is contacted: the request line's host, in
	// the normal form that was decided, so "Host.Example." and
	// "host.example" are one destination. The Host header follows it (the
	// server already ignores a Host header on an absolute URL, RFC 9112
	// 3.2.2; setting it keeps that so if the server ever changes).
	authority := hostPort(host, nport)
	if r.URL.Port() == "" {
		authority = strings.TrimSuffix(authority, ":"+port)
	}
	r.URL.Host = authority
	r.Host = r.URL.Host
	if !lane {
		plainUpgrade(r)
	}

	switch v.Action {
	case policy.Block:
		if r.URL.Path == requestPath {
			return p.requestResponse(r, &d), true
		}
		p.record(&d, v, blocklog.ActionBlock, host, redactedURL(r.URL), v.Reason.String())
		return p.blockResponse(r, d.eng, v, host), true
	case policy.SafeSearch:
		if v.SafeParam != "" {
			k, val, _ := strings.Cut(v.SafeParam, "=")
			q := r.URL.Query()
			q.Set(k, val)
			r.URL.RawQuery = q.Encode()
		}
		if v.SafeHost != "" {
			// Dial the enforced host under the search engine's name, as
			// its DNS-based enforcement intends; the URL's host keys the
			// connection pool, so a safe request never reuses a
			// connection to the unrestricted host.
			r.URL.Host = hostPort(v.SafeHost, nport)
		}
	}
	return nil, true
}

// decideHTTP decides host with the request's path and query, both as sent
// and percent-decoded, so "/%62ad" cannot slip past an entry for "/bad".
func (p *Proxy) decideHTTP(d *decision, host string, u *url.URL) policy.Verdict {
	raw := u.EscapedPath()
	if raw == "" {
		raw = "/"
	}
	dec := u.Path
	if dec == "" {
		dec = "/"
	}
	if u.RawQuery != "" {
		raw += "?" + u.RawQuery
		if q, err := url.QueryUnescape(u.RawQuery); err == nil {
			dec += "?" + q
		} else {
			dec += "?" + u.RawQuery
		}
	}
	v := d.decide(host, raw)
	if v.Action != policy.Block && dec != raw {
		if dv := d.decide(host, dec); dv.Action == policy.Block {
			return dv
		}
	}
	return v
}

// roundTrip forwards through the proxy's transport and turns failures into a
// short answer of our own instead of goproxy's error text.
func (p *Proxy) roundTrip(req *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
	var resp *http.Response
	var err error
	if simple(req) {
		resp, err = p.up.roundTrip(req.Context(), req)
	} else {
		resp, err = p.tr.RoundTrip(req)
	}
	return p.forwarded(req, resp, err), nil
}

// forwarded is the answer to req for the origin's resp and err: resp
// itself, or a short answer of our own.
func (p *Proxy) forwarded(req *http.Request, resp *http.Response, err error) *http.Response {
	if err == nil && (resp.StatusCode < 100 || resp.StatusCode > 999) {
		// ReadResponse takes "000"; passed on, it would panic the
		// server's WriteHeader. Say what happened instead.
		_ = resp.Body.Close()
		err = fmt.Errorf("origin answered status %d", resp.StatusCode)
	}
	if err == nil {
		return resp
	}
	if errors.Is(err, ErrForbiddenDestination) {
		p.log.Warn("proxy: refused a request to a forbidden destination", "url", redactedURL(req.URL), "err", err)
		return p.textResponse(req, http.StatusForbidden, "GreenGate: this destination is not reachable through the proxy")
	}
	p.log.Debug("proxy: origin request failed", "url", redactedURL(req.URL), "err", err)
	return p.textResponse(req, http.StatusBadGateway, "GreenGate: the site could not be reached")
}

// redactedURL is the URL as logged: no user info.
func redactedURL(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

func (p *Proxy) textResponse(r *http.Request, code int, msg string) *http.Response {
	resp := goproxy.NewResponse(r, "text/plain; charset=utf-8", code, msg+"\n")
	resp.Header.Set("X-Content-Type-Options", "nosniff")
	resp.Header.Set("Cache-Control", "no-store")
	return resp
}

// serveLocal answers requests addressed to the proxy itself (not absolute
// URLs): the "ask a parent" page, and a short note for anything else.
func (p *Proxy) serveLocal(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == requestPath {
		d, ok := p.begin(r.RemoteAddr, profileOf(r))
		if !ok {
			http.Error(w, "GreenGate: filter not ready", http.StatusServiceUnavailable)
			return
		}
		resp := p.requestResponse(r, &d)
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = copyBody(w, resp)
		return
	}
	if r.URL.Path == PACPath {
		p.servePAC(w, r)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.Error(w, "GreenGate is a proxy: set it as your browser's HTTP and HTTPS proxy.", http.StatusBadRequest)
}

// PACPath is where the proxy serves a proxy auto-config file naming itself,
// for system or browser settings that take a PAC URL
// (http://127.0.0.1:8899/proxy.pac): the agent can then move without the
// settings changing.
const PACPath = sysproxy.PACPath

// servePAC answers with the PAC of package sysproxy (fail closed, no
// DIRECT fallback) naming the address the request arrived on, which is
// the one this client can reach.
func (p *Proxy) servePAC(w http.ResponseWriter, r *http.Request) {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		http.Error(w, "GreenGate: no local address", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, sysproxy.PAC(local.String()))
}

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/internal/connlimit"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
)

// Browsers send an unencrypted ws:// WebSocket through a proxy as a
// CONNECT to port 80 with the HTTP upgrade inside the tunnel. That is the
// one thing a port-80 tunnel may carry: the request inside is read before
// anything is dialled, must be a WebSocket upgrade for the CONNECT host,
// and is decided on its path as plain HTTP is. Only that head goes to the
// origin; the tunnel is spliced only once the origin answers 101 with a
// WebSocket. Any other answer (an ordinary server's 200, 400 or 404) is
// passed on and the tunnel closed: otherwise every later request in it,
// for any path and any Host, would reach the origin undecided. Any other
// plain HTTP must come to the proxy as plain HTTP, where every request is
// decided, not only a tunnel's first.

// wsPort is the port whose tunnels carry ws:// WebSockets.
const wsPort = 80

// maxTunnelHead bounds the request head read from a port-80 tunnel.
const maxTunnelHead = 16 << 10

// errNotWebSocket is a port-80 tunnel carrying something else.
var errNotWebSocket = errors.New("not a WebSocket upgrade")

// readHead reads an HTTP request head (through the blank line) from src,
// at most maxTunnelHead bytes, and returns its bytes and the request.
func readHead(src io.Reader) ([]byte, *http.Request, error) {
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		if len(head) >= maxTunnelHead {
			return nil, nil, fmt.Errorf("request head over %d bytes", maxTunnelHead)
		}
		n, err := src.Read(buf[:min(len(buf), maxTunnelHead-len(head))])
		head = append(head, buf[:n]...)
		if err != nil && !bytes.Contains(head, []byte("\r\n\r\n")) {
			return nil, nil, fmt.Errorf("reading the request head: %w", err)
		}
	}
	end := bytes.Index(head, []byte("\r\n\r\n")) + 4
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head[:end])))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the request head: %w", err)
	}
	return head, req, nil
}

// checkUpgrade returns the path and query of a WebSocket upgrade for host,
// or errNotWebSocket.
func checkUpgrade(req *http.Request, host string) (string, error) {
	if req.Method != http.MethodGet || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") ||
		!headerHasToken(req.Header, "Connection", "upgrade") {
		return "", errNotWebSocket
	}
	if req.URL.IsAbs() {
		return "", fmt.Errorf("%w: absolute target in a tunnel", errNotWebSocket)
	}
	h := req.Host
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if port != "80" {
			return "", fmt.Errorf("%w: Host %q names another port", errNotWebSocket, req.Host)
		}
		h = hh
	}
	n, err := hostname.NormalizeRequest(h)
	if err != nil || n != host {
		return "", fmt.Errorf("%w: Host %q is not the tunnel's %s", errNotWebSocket, req.Host, host)
	}
	return req.URL.RequestURI(), nil
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// tunnelRefusal answers inside a tunnel, where the client speaks HTTP.
func tunnelRefusal(w io.Writer, code int, msg string) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s\n",
		code, http.StatusText(code), len(msg)+1, msg)
}

// serveWebSocketTunnel carries a port-80 tunnel (see above) whose CONNECT
// host was allowed: src is the client's bytes after the CONNECT.
func (p *Proxy) serveWebSocketTunnel(ctx context.Context, d *decision, conn net.Conn, src io.Reader, host string) {
	_ = conn.SetReadDeadline(time.Now().Add(p.cfg.HelloTimeout))
	head, req, err := readHead(src)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		p.log.Debug("proxy: port-80 tunnel closed before a request head", "client", d.client, "host", host, "err", err)
		return
	}
	pathQuery, err := checkUpgrade(req, host)
	if err != nil {
		p.log.Debug("proxy: port-80 tunnel refused", "client", d.client, "host", host, "err", err)
		tunnelRefusal(conn, http.StatusForbidden, "GreenGate: a tunnel to port 80 carries only WebSockets for its own host; send plain HTTP to the proxy")
		return
	}
	u := req.URL
	u.Scheme, u.Host = "http", host
	if pv := p.decideHTTP(d, host, u); pv.Action == policy.Block {
		p.record(d, pv, blocklog.ActionBlock, host, redactedURL(u), "websocket: "+pv.Reason.String())
		tunnelRefusal(conn, http.StatusForbidden, "GreenGate: "+host+pathQuery+" is blocked ("+blockWhat(d.eng, pv)+")")
		return
	}
	if slot := connlimit.Of(conn); slot != nil && !slot.Busy() {
		return // taken back by the per-client limit while waiting for the head
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	up, err := p.dial(dctx, "tcp", hostPort(host, wsPort))
	cancel()
	if err != nil {
		p.log.Info("proxy: WebSocket origin unreachable", "host", host, "err", err)
		tunnelRefusal(conn, http.StatusBadGateway, "GreenGate: the site could not be reached")
		return
	}
	defer up.Close()
	// Only the decided head goes out. Bytes the client sent after it wait
	// until the origin has switched protocols: before that they would be
	// further HTTP requests, for any path and any Host, that nobody
	// decided.
	end := bytes.Index(head, []byte("\r\n\r\n")) + 4
	after := io.MultiReader(bytes.NewReader(head[end:]), src)
	_ = up.SetWriteDeadline(time.Now().Add(p.cfg.DialTimeout))
	if _, err := up.Write(head[:end]); err != nil {
		tunnelRefusal(conn, http.StatusBadGateway, "GreenGate: the site could not be reached")
		return
	}
	_ = up.SetWriteDeadline(time.Time{})
	upR, ok := p.switched(conn, up, req, host)
	if !ok {
		return
	}
	p.splice(conn, after, &readConn{Conn: up, r: upR})
}

// switched reads the origin's answer to the upgrade req. A 101 to a
// WebSocket is passed to the client and the tunnel may carry frames:
// switched returns the origin's bytes after it. Any other answer is
// passed on with "Connection: close" and the tunnel ends (false), as
// does a 101 to something other than a WebSocket.
func (p *Proxy) switched(conn, up net.Conn, req *http.Request, host string) (io.Reader, bool) {
	_ = up.SetReadDeadline(time.Now().Add(p.cfg.ReadHeaderTimeout))
	br := bufio.NewReaderSize(up, 4096)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		p.log.Debug("proxy: WebSocket origin gave no answer", "host", host, "err", err)
		tunnelRefusal(conn, http.StatusBadGateway, "GreenGate: the site gave no usable answer")
		return nil, false
	}
	_ = up.SetReadDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
			p.log.Info("proxy: origin switched a port-80 tunnel to something else", "host", host, "upgrade", resp.Header.Get("Upgrade"))
			tunnelRefusal(conn, http.StatusBadGateway, "GreenGate: the site switched to a protocol other than WebSocket")
			return nil, false
		}
		if err := resp.Write(conn); err != nil {
			return nil, false
		}
		return br, true
	}
	// Not upgraded: the origin's answer, then the end of the tunnel.
	// The body is bounded by the tunnel's idle timeout, as a tunnel is.
	defer resp.Body.Close()
	resp.Close = true
	resp.Header.Del("Connection")
	_ = up.SetReadDeadline(time.Now().Add(p.cfg.TunnelIdleTimeout))
	_ = conn.SetWriteDeadline(time.Now().Add(p.cfg.TunnelIdleTimeout))
	if err := resp.Write(conn); err != nil {
		p.log.Debug("proxy: passing on a WebSocket origin's refusal", "host", host, "err", err)
	}
	return nil, false
}

// readConn is an origin connection whose first bytes were already read
// into r.
type readConn struct {
	net.Conn
	r io.Reader
}

func (c *readConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// CloseWrite half-closes the connection under c.
func (c *readConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

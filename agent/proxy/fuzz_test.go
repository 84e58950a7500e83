package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/match"
	"github.com/greengate/greengate/rules/policy"
)

// FuzzParseAuthority: never panics; on success the host is in normal form
// and re-parsing host:port gives the same answer (what is checked is what
// is dialled); on failure the outputs are empty and the error is typed.
func FuzzParseAuthority(f *testing.F) {
	for _, s := range []string{"allowed.test:443", "[::1]:443", "BLOCKED.TEST.:443", "127.0.0.1:0443",
		"a:+1", "x:65536", "[::ffff:127.0.0.1]:80", "2130706433:80", "xn--bcher-kva.example:443", "bücher.example:443", ":443", "h:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := proxy.ParseAuthority(s)
		if err != nil {
			if host != "" || port != 0 || !errors.Is(err, proxy.ErrBadAuthority) {
				t.Fatalf("%q: error %v with outputs %q %d", s, err, host, port)
			}
			return
		}
		if port == 0 {
			t.Fatalf("%q: port 0 accepted", s)
		}
		if n, err := hostname.NormalizeRequest(host); err != nil || n != host {
			t.Fatalf("%q: host %q not in normal form (%q, %v)", s, host, n, err)
		}
		a := host
		if strings.Contains(host, ":") {
			a = "[" + host + "]"
		}
		h2, p2, err := proxy.ParseAuthority(a + ":" + itoa(port))
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("%q: round trip gave %q %d %v", s, h2, p2, err)
		}
	})
}

func itoa(p uint16) string {
	var b [5]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + p%10)
		p /= 10
		if p == 0 {
			return string(b[i:])
		}
	}
}

// FuzzPrefersChinese: never panics, reads a bounded prefix, and agrees with
// the obvious cases.
func FuzzPrefersChinese(f *testing.F) {
	for _, s := range []string{"zh-CN,zh;q=0.9", "en;q=0.5,zh;q=0.8", "zh;q=0,en", "ZH", "zhx", "en-US", ";;;,,,q=", "zh;q=1.5", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := proxy.PrefersChinese(s)
		if len(s) > 1024 && got != proxy.PrefersChinese(s[:1024]) {
			t.Fatalf("looked past the first 1 KiB")
		}
		if !strings.ContainsAny(strings.ToLower(s), "z") && got {
			t.Fatalf("%q: Chinese without a zh tag", s)
		}
		if got != proxy.PrefersChinese("zh;q=0.0001,"+s) {
			// A malformed (over-long) q-value counts as refused, so the
			// prefix must change nothing.
			t.Fatalf("%q: refused prefix changed the answer", s)
		}
	})
}

// FuzzRequestTarget plays a child typing URLs: whatever the request line,
// the proxy never panics and never dials a blocked host, however the name
// is spelled (case, trailing dots, percent-encoding, ports, userinfo, IDNA).
func FuzzRequestTarget(f *testing.F) {
	for _, s := range []string{"http://blocked.test/", "http://BLOCKED.test./x", "http://user@blocked.test:8080/",
		"http://blocked%2etest/", "http://xn--blocked.test/", "http://allowed.test/?u=http://blocked.test/",
		"http://[::1]:80/", "http://allowed.test@blocked.test/", "http://blocked.test%00.allowed.test/", "https://blocked.test/", "//blocked.test/"} {
		f.Add(s, "blocked.test")
	}
	eng := testEngine(f, nil)
	f.Fuzz(func(t *testing.T, target, hostHeader string) {
		d := &dialer{}
		p, err := proxy.New(proxy.Config{Engine: func() *policy.Engine { return eng }, DialContext: d.DialContext})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: " + hostHeader + "\r\n\r\n")))
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		for _, a := range d.dialled() {
			h, _, err := net.SplitHostPort(a)
			if err != nil {
				t.Fatalf("%q: dialled unparseable %q", target, a)
			}
			if h == "blocked.test" || strings.HasSuffix(h, ".blocked.test") {
				t.Fatalf("%q (Host %q): dialled blocked %q", target, hostHeader, a)
			}
			if n, err := hostname.NormalizeRequest(h); err != nil || n != h {
				t.Fatalf("%q: dialled %q, not in normal form", target, a)
			}
		}
	})
}

// FuzzOriginAnswer plays an origin (or an attacker on its network path)
// that answers anything at all: the proxy never panics or hangs on it,
// and the next request, to a sane origin, gets its own answer.
func FuzzOriginAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nzz",
		"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"garbage\r\n\r\n", "",
	} {
		f.Add(s)
	}
	eng := testEngine(f, nil)
	var answer atomic.Pointer[string]
	raw := rawOrigin(f, func(int) string { return *answer.Load() }, func(int) bool { return true })
	sane := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sane "+r.URL.Path) }))
	defer sane.Close()
	d := &dialer{}
	d.route("allowed.test:80", raw)
	d.route("sane.test:80", sane.Listener.Addr().String())
	p, err := proxy.New(proxy.Config{Engine: func() *policy.Engine { return eng }, DialContext: d.DialContext})
	if err != nil {
		f.Fatal(err)
	}
	serve := func(t *testing.T, url string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", url, nil)
		req.RemoteAddr = "127.0.0.1:40000"
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() {
				// The server's way to cut a client's connection: fine.
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					panic(v)
				}
			}()
			p.ServeHTTP(w, req.WithContext(ctx))
		}()
		select {
		case <-done:
		case <-time.After(8 * time.Second):
			t.Fatalf("GET %s hung", url)
		}
		return w
	}
	// The same through the lane, on one client connection: the answer,
	// then the sane one, or the connection closed, never a second answer
	// the origin smuggled into the first.
	addr, stop := serveUntil(f, p)
	defer func() {
		if err := stop(); err != nil {
			f.Error(err)
		}
	}()
	viaLane := func(t *testing.T, data string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(8 * time.Second))
		br := bufio.NewReader(c)
		ask := func(url string) (*http.Response, string, error) {
			if _, err := io.WriteString(c, "GET "+url+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				return nil, "", err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return nil, "", err
			}
			b, err := io.ReadAll(resp.Body)
			return resp, string(b), err
		}
		resp, _, err := ask("http://allowed.test/x")
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("after the answer %q: the lane hung", data)
		}
		if err != nil || resp.Close {
			return // the lane closed the connection: nothing more to get
		}
		resp, body, err := ask("http://sane.test/after")
		if err == nil && (resp.StatusCode != 200 || body != "sane /after") {
			t.Fatalf("after the answer %q, the lane's next answer was %d %q", data, resp.StatusCode, body)
		}
	}
	f.Fuzz(func(t *testing.T, data string) {
		answer.Store(&data)
		serve(t, "http://allowed.test/x")
		w := serve(t, "http://sane.test/after")
		if w.Code != 200 || w.Body.String() != "sane /after" {
			t.Fatalf("after the answer %q, a sane origin's answer came back as %d %q", data, w.Code, w.Body.String())
		}
		viaLane(t, data)
	})
}

// FuzzWebSocketTunnelHead plays a child writing anything into a ws://
// tunnel (CONNECT mixed.test:80, whose /bad is listed): the proxy never
// panics or hangs, and never dials for a request whose path, however
// written, is under the listed one.
func FuzzWebSocketTunnelHead(f *testing.F) {
	for _, s := range []string{
		"GET /ok HTTP/1.1\r\nHost: mixed.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /bad HTTP/1.1\r\nHost: mixed.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /%62ad HTTP/1.1\r\nHost: MIXED.test.\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n\r\n",
		"GET //bad HTTP/1.1\r\nHost: mixed.test:80\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET http://mixed.test/bad HTTP/1.1\r\nHost: mixed.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: mixed.test\r\n\r\n", "\r\n\r\n", "",
	} {
		f.Add(s)
	}
	h := startTB(f, nil)
	h.dial.route("mixed.test:80", wsOriginTB(f))
	f.Fuzz(func(t *testing.T, data string) {
		before := len(h.dial.dialled())
		c, _, code := h.connectB(t, "mixed.test:80")
		if code != 200 {
			t.Fatalf("CONNECT: %d", code)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, data)
		_ = c.(*net.TCPConn).CloseWrite()
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%q: tunnel hung", data)
			}
		}
		dialled := len(h.dial.dialled()) > before
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(data)))
		if !dialled || err != nil {
			return
		}
		for _, p := range []string{req.URL.EscapedPath(), req.URL.Path} {
			if n := match.NormalizePath(p); n == "/bad" || strings.HasPrefix(n, "/bad/") {
				t.Fatalf("%q: dialled for the listed path %q", data, p)
			}
		}
	})
}

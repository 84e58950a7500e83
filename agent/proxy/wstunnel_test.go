package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/proxy"
)

// wsOrigin answers a WebSocket upgrade with 101 and then echoes.
func wsOrigin(t *testing.T) string { return wsOriginTB(t) }

func wsOriginTB(t testing.TB) string {
	t.Helper()
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Path: %s\r\n\r\n", r.URL.RequestURI())
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	}))
	t.Cleanup(ws.Close)
	return ws.Listener.Addr().String()
}

const wsHeaders = "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// TestWebSocketTunnel plays a browser opening ws:// through the proxy:
// CONNECT host:80, then the upgrade inside the tunnel. Port 80 is not in
// ConnectPorts (the default), so the tunnel carries only that.
func TestWebSocketTunnel(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.dial.route("allowed.test:80", wsOrigin(t))
	h.dial.route("mixed.test:80", wsOrigin(t))
	tunnel := func(t *testing.T, authority, request string) (*bufio.Reader, net.Conn) {
		t.Helper()
		c, br, code := h.connect(t, authority)
		if code != 200 {
			t.Fatalf("CONNECT %s: %d", authority, code)
		}
		io.WriteString(c, request)
		return br, c
	}
	t.Run("an upgrade for the tunnel's host goes through", func(t *testing.T) {
		br, c := tunnel(t, "allowed.test:80", "GET /chat?room=1 HTTP/1.1\r\nHost: allowed.test\r\n"+wsHeaders+"early-frame")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 || resp.Header.Get("X-Path") != "/chat?room=1" {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		got := make([]byte, len("early-frame"))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "early-frame" {
			t.Fatalf("bytes sent with the upgrade: %q %v", got, err)
		}
		io.WriteString(c, "ping")
		got = make([]byte, 4)
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
			t.Fatalf("echo %q %v", got, err)
		}
	})
	refused := func(t *testing.T, authority, request, want string) {
		t.Helper()
		before := len(h.dial.dialled())
		br, _ := tunnel(t, authority, request)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 403 {
			t.Fatalf("%q: %v %v, want 403", request, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), want) {
			t.Fatalf("refusal %q lacks %q", body, want)
		}
		if len(h.dial.dialled()) != before {
			t.Fatalf("%q: the origin was dialled", request)
		}
	}
	t.Run("a listed path is blocked inside the tunnel", func(t *testing.T) {
		refused(t, "mixed.test:80", "GET /bad/socket HTTP/1.1\r\nHost: mixed.test\r\n"+wsHeaders, "is blocked")
		ev := h.ev.all()
		if len(ev) == 0 || ev[len(ev)-1].URL != "http://mixed.test/bad/socket" || ev[len(ev)-1].Action != blocklog.ActionBlock {
			t.Fatalf("block log: %+v", ev)
		}
	})
	t.Run("a percent-encoded listed path too", func(t *testing.T) {
		refused(t, "mixed.test:80", "GET /%62ad HTTP/1.1\r\nHost: mixed.test\r\n"+wsHeaders, "is blocked")
	})
	t.Run("plain HTTP is not tunnelled", func(t *testing.T) {
		refused(t, "allowed.test:80", "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "only WebSockets")
	})
	t.Run("another host inside is refused", func(t *testing.T) {
		refused(t, "allowed.test:80", "GET / HTTP/1.1\r\nHost: blocked.test\r\n"+wsHeaders, "only WebSockets")
		refused(t, "allowed.test:80", "GET / HTTP/1.1\r\nHost: allowed.test:8080\r\n"+wsHeaders, "only WebSockets")
		refused(t, "allowed.test:80", "GET http://blocked.test/ HTTP/1.1\r\nHost: allowed.test\r\n"+wsHeaders, "only WebSockets")
	})
	t.Run("a blocked host is refused at the CONNECT", func(t *testing.T) {
		_, _, code := h.connect(t, "blocked.test:80")
		if code != 403 {
			t.Fatalf("CONNECT blocked.test:80: %d", code)
		}
	})
	t.Run("an endless head is cut", func(t *testing.T) {
		c, _, code := h.connect(t, "allowed.test:80")
		if code != 200 {
			t.Fatal(code)
		}
		before := len(h.dial.dialled())
		io.WriteString(c, "GET / HTTP/1.1\r\nX: "+strings.Repeat("a", 20<<10))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("tunnel still open after an oversized head")
			}
		}
		if len(h.dial.dialled()) != before {
			t.Fatal("dialled")
		}
	})
}

// TestPort80OpenedByConfig: with 80 in ConnectPorts, a port-80 tunnel is a
// tunnel like any other (the documented trade-off).
func TestPort80OpenedByConfig(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *proxy.Config) { c.ConnectPorts = []uint16{443, 80} })
	h.dial.route("allowed.test:80", wsOrigin(t))
	c, br, code := h.connect(t, "allowed.test:80")
	if code != 200 {
		t.Fatal(code)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 400 { // the origin's own answer to a non-upgrade
		t.Fatalf("%v %v", resp, err)
	}
}

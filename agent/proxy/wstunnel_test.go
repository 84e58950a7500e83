package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// TestWebSocketTunnelWithoutUpgrade is issue 12's tunnel: an ordinary
// origin answers the upgrade with something other than 101, and the
// client goes on sending requests inside the tunnel, for another path
// and other hosts. Not one of them may reach the origin: the proxy
// passes the origin's answer on and closes.
func TestWebSocketTunnelWithoutUpgrade(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+r.URL.RequestURI())
		mu.Unlock()
		io.WriteString(w, "ordinary page for "+r.Host+r.URL.RequestURI())
	}))
	t.Cleanup(origin.Close)
	h := start(t, nil)
	h.dial.route("allowed.test:80", origin.Listener.Addr().String())
	for _, upgrade := range []string{"websocket", "h2c"} {
		t.Run(upgrade, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			c, br, code := h.connect(t, "allowed.test:80")
			if code != 200 {
				t.Fatalf("CONNECT: %d", code)
			}
			head := "GET /x HTTP/1.1\r\nHost: allowed.test\r\n" + strings.Replace(wsHeaders, "websocket", upgrade, 1)
			// Pipelined in one write, and again after the answer.
			later := "GET /bad HTTP/1.1\r\nHost: mixed.test\r\n\r\nGET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n"
			io.WriteString(c, head+later)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("first answer: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			io.WriteString(c, "GET /bad HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(br)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Error("tunnel still open after an answer that is not 101")
			}
			time.Sleep(50 * time.Millisecond) // let a forwarded request land
			mu.Lock()
			got := append([]string(nil), seen...)
			mu.Unlock()
			for _, s := range got {
				if s != "allowed.test/x" {
					t.Errorf("origin served %q through the tunnel (all: %q)", s, got)
				}
			}
			if strings.Contains(string(rest), "ordinary page") {
				t.Errorf("a second answer came through the tunnel: %q", rest)
			}
			if upgrade == "websocket" && (resp.StatusCode != 200 || len(got) != 1) {
				t.Errorf("the origin's answer to the upgrade: %d, origin saw %q", resp.StatusCode, got)
			}
		})
	}
}

// switchingOrigin switches protocols for any request asking to (as an
// h2c server would) and afterwards reads what comes as HTTP/1.1
// requests, recording each: what reaches it after the switch was
// never decided.
func switchingOrigin(t *testing.T, upgrade string) (addr string, seen func() []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got []string
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					mu.Lock()
					got = append(got, req.Host+req.URL.RequestURI())
					mu.Unlock()
					if req.Header.Get("Upgrade") != "" {
						fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", upgrade)
						continue
					}
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	return ln.Addr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// TestPlainHTTPUpgradeStaysDecided: a plain-HTTP request asking to
// upgrade to anything but a WebSocket is sent as a plain request, and a
// 101 for anything but a WebSocket upgrade is not passed on: the
// connection never becomes one whose requests nobody decides.
func TestPlainHTTPUpgradeStaysDecided(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, reqUpgrade, respUpgrade string }{
		{"h2c", "h2c", "h2c"},
		{"h2c answered as a WebSocket", "h2c", "websocket"},
		{"a WebSocket answered as h2c", "websocket", "h2c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, nil)
			addr, seen := switchingOrigin(t, tc.respUpgrade)
			h.dial.route("allowed.test:80", addr)
			c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET http://allowed.test/x HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: %s\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", tc.reqUpgrade)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err == nil && resp.StatusCode == http.StatusSwitchingProtocols {
				t.Errorf("the proxy passed on a 101 %s to a %s upgrade", resp.Header.Get("Upgrade"), tc.reqUpgrade)
			}
			// Whatever the answer, what follows on this connection is
			// HTTP the proxy must decide, never bytes for the origin.
			io.WriteString(c, "GET /bad HTTP/1.1\r\nHost: mixed.test\r\n\r\n")
			_, _ = io.ReadAll(br)
			time.Sleep(50 * time.Millisecond)
			for _, s := range seen() {
				if s != "allowed.test/x" {
					t.Errorf("origin got %q, never decided (all: %q)", s, seen())
				}
			}
		})
	}
}

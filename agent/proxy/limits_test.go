package proxy_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/proxy"
)

// TestLimits plays a client that holds resources: slow headers, huge
// headers, a silent tunnel, idle tunnels and more connections than allowed.
func TestLimits(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	h := start(t, func(c *proxy.Config) {
		c.ReadHeaderTimeout = 200 * time.Millisecond
		c.HelloTimeout = 200 * time.Millisecond
		c.TunnelIdleTimeout = 300 * time.Millisecond
		c.MaxHeaderBytes = 4 << 10
		c.MaxConns = 3
		// Every connection its own client: this test is about the
		// global limit (starve_test.go is about the per-client one).
		c.ClientKey = func(client, _ net.Addr) string { return client.String() }
	})
	echo := newTLSOrigin(t, ca, "E", true)
	h.dial.route("allowed.test:443", echo.addr())

	closedWithin := func(t *testing.T, c net.Conn, d time.Duration) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
	}
	t.Run("slow headers are cut at ReadHeaderTimeout", func(t *testing.T) {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET http://allowed.test/ HTTP/1.1\r\nHost: allo")
		closedWithin(t, c, 3*time.Second)
	})
	t.Run("a connection that never sends a request is cut at ReadHeaderTimeout", func(t *testing.T) {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		closedWithin(t, c, 3*time.Second)
	})
	t.Run("oversized headers are refused", func(t *testing.T) {
		body := rawRequest(t, h.addr, "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\nConnection: close\r\n\r\n")
		if !strings.Contains(body, " 431 ") {
			t.Fatalf("got %.100q", body)
		}
	})
	t.Run("a tunnel that never sends a hello is closed and never dialled", func(t *testing.T) {
		before := len(h.dial.dialled())
		c, _, code := h.connect(t, "allowed.test:443")
		if code != 200 {
			t.Fatal(code)
		}
		closedWithin(t, c, 3*time.Second)
		if len(h.dial.dialled()) != before {
			t.Fatal("dialled without a hello")
		}
	})
	t.Run("an idle tunnel is closed", func(t *testing.T) {
		c, br, code := h.connect(t, "allowed.test:443")
		if code != 200 {
			t.Fatal(code)
		}
		tc := tls.Client(bufConn{c, br}, &tls.Config{ServerName: "allowed.test", RootCAs: ca.pool})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		_ = tc.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := tc.Read(make([]byte, 1)); err == nil {
			t.Fatal("read data from an idle echo")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("idle tunnel not closed")
		}
	})
	t.Run("a download that trickles is not idle", func(t *testing.T) {
		// The origin sends a byte every 100 ms for 3 s while the client
		// sends nothing: three idle timeouts long, never idle. A proxy of
		// its own with a 1 s idle timeout: the 300 ms above leaves too
		// little room for a scheduling stall when -race and the rest of
		// the suite share two cores.
		h := start(t, func(c *proxy.Config) {
			c.TunnelIdleTimeout = time.Second
			c.ClientKey = func(client, _ net.Addr) string { return client.String() }
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{ca.cert}})
			for i := 0; i < 30; i++ {
				if _, err := tc.Write([]byte{'A' + byte(i)}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			_ = tc.CloseWrite()
		}()
		h.dial.route("trickle.test:443", ln.Addr().String())
		c, br, code := h.connect(t, "trickle.test:443")
		if code != 200 {
			t.Fatal(code)
		}
		tc := tls.Client(bufConn{c, br}, &tls.Config{ServerName: "trickle.test", RootCAs: ca.pool})
		_ = tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(tc)
		if len(got) != 30 {
			t.Fatalf("got %q, %v: the tunnel was cut while bytes flowed", got, err)
		}
	})
	t.Run("connections beyond MaxConns wait for a slot", func(t *testing.T) {
		var held []net.Conn
		for i := 0; i < 3; i++ {
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			// Complete a request so the slot is surely taken.
			fmt.Fprint(c, "GET http://blocked.test/ HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			held = append(held, c)
		}
		extra, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		fmt.Fprint(extra, "GET http://blocked.test/ HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
		_ = extra.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		if _, err := extra.Read(make([]byte, 1)); err == nil {
			t.Fatal("served a fourth connection with MaxConns 3")
		}
		held[0].Close()
		_ = extra.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
		if err != nil || resp.StatusCode != 403 {
			t.Fatalf("after a slot freed: %v %v", resp, err)
		}
		for _, c := range held[1:] {
			c.Close()
		}
	})
}

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
	"sync/atomic"
	"testing"
	"time"
)

// countingOrigin echoes the request's method and path, and counts the
// connections it accepted.
func countingOrigin(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			chunk := strings.Repeat("B", 32<<10)
			for i := 0; i < 4096; i++ { // 128 MiB: more than any socket buffers hold
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
			return
		case "/head":
			w.Header().Set("Content-Length", "100")
			if r.Method == http.MethodHead {
				return
			}
			io.WriteString(w, strings.Repeat("h", 100))
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	}))
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	o.Start()
	t.Cleanup(o.Close)
	return o, &conns
}

func fetch(t *testing.T, c *http.Client, method, url, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, url, err)
	}
	return string(b)
}

// TestOriginConnectionsAreReused checks that plain GETs share one origin
// connection and each gets its own answer, and that a POST (with a body,
// so through the Transport) still works between them.
func TestOriginConnectionsAreReused(t *testing.T) {
	t.Parallel()
	o, conns := countingOrigin(t)
	h := start(t, nil)
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c := h.client(nil)
	for i := 0; i < 50; i++ {
		want := fmt.Sprintf("GET /p%d?q=%d ", i, i)
		if got := fetch(t, c, "GET", fmt.Sprintf("http://allowed.test/p%d?q=%d", i, i), ""); got != want {
			t.Fatalf("request %d: %q, want %q", i, got, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("50 sequential GETs used %d origin connections, want 1", n)
	}
	if got := fetch(t, c, "POST", "http://allowed.test/form", "a=1"); got != "POST /form a=1" {
		t.Fatalf("POST: %q", got)
	}
	if got := fetch(t, c, "HEAD", "http://allowed.test/head", ""); got != "" {
		t.Fatalf("HEAD answered a body: %q", got)
	}
	if got := fetch(t, c, "GET", "http://allowed.test/after-head", ""); got != "GET /after-head " {
		t.Fatalf("GET after HEAD: %q", got)
	}
}

// TestAbandonedBodyIsNotReused: a client that stops reading a big answer
// must not leave its rest on a connection the next request gets.
func TestAbandonedBodyIsNotReused(t *testing.T) {
	t.Parallel()
	o, conns := countingOrigin(t)
	h := start(t, nil)
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	for i := 0; i < 5; i++ {
		c := h.client(nil)
		resp, err := c.Get("http://allowed.test/big")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // unread: the client drops its connection
		c.CloseIdleConnections()
		if got := fetch(t, h.client(nil), "GET", "http://allowed.test/small", ""); got != "GET /small " {
			t.Fatalf("after an abandoned body: %q", got)
		}
	}
	if n := conns.Load(); n < 6 {
		t.Errorf("%d origin connections for 5 abandoned bodies and 5 small GETs: an abandoned one was reused", n)
	}
}

// TestConcurrentClientsGetTheirOwnAnswers: many clients over a shared
// pool of origin connections, each answer for its own request.
func TestConcurrentClientsGetTheirOwnAnswers(t *testing.T) {
	t.Parallel()
	o, _ := countingOrigin(t)
	h := start(t, nil)
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	var wg sync.WaitGroup
	errs := make(chan string, 8*40)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			c := h.client(nil)
			for i := 0; i < 40; i++ {
				path := fmt.Sprintf("/g%d/%d", g, i)
				req, _ := http.NewRequest("GET", "http://allowed.test"+path, nil)
				resp, err := c.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "GET "+path+" " {
					errs <- fmt.Sprintf("%s answered %q", path, b)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// rawOrigin answers every request on a connection with answer(n), n
// counting the requests of the connection; close says whether to close
// it after that answer, without saying so in the answer. A connection
// waits at most 5 s for each request, so none outlives a stuck test.
func rawOrigin(t testing.TB, answer func(n int) string, closeAfter func(n int) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, answer(n)); err != nil || closeAfter(n) {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestOriginQuirks: an origin that drops a kept-alive connection without
// saying so (the next request is sent again on a fresh one), a body that
// ends when the connection does, an interim 103 before the answer, and
// bytes past an answer's end.
func TestOriginQuirks(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	h.dial.route("drops.test:80", rawOrigin(t,
		func(int) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
		func(int) bool { return true }))
	h.dial.route("eof.test:80", rawOrigin(t,
		func(int) string { return "HTTP/1.1 200 OK\r\n\r\nuntil the end" },
		func(int) bool { return true }))
	var answered atomic.Int64 // across connections
	h.dial.route("switches.test:80", rawOrigin(t,
		func(int) string {
			if answered.Add(1) == 1 {
				return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"
		},
		func(int) bool { return false }))
	h.dial.route("hints.test:80", rawOrigin(t,
		func(int) string {
			return "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"
		},
		func(int) bool { return false }))
	h.dial.route("extra.test:80", rawOrigin(t,
		func(n int) string {
			if n == 0 {
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"
		},
		func(int) bool { return false }))
	c := h.client(nil)
	// Bytes after an answer's end, sent unasked: not the next answer.
	for i, want := range []string{"ok", "ok"} {
		if got := fetch(t, c, "GET", "http://extra.test/", ""); got != want {
			t.Fatalf("after an answer with bytes past its end, request %d got %q, want %q", i, got, want)
		}
	}
	// An unasked-for 101: what follows on that connection is not an
	// answer to the next request.
	resp, err := c.Get("http://switches.test/")
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("an unasked-for 101: %v %v, want 502", resp, err)
	}
	resp.Body.Close()
	if got := fetch(t, h.client(nil), "GET", "http://switches.test/next", ""); got != "fresh" {
		t.Fatalf("after a 101, the next GET got %q", got)
	}
	for i := 0; i < 4; i++ {
		if got := fetch(t, c, "GET", "http://drops.test/", ""); got != "ok" {
			t.Fatalf("dropping origin, request %d: %q", i, got)
		}
		if got := fetch(t, c, "GET", "http://eof.test/", ""); got != "until the end" {
			t.Fatalf("close-delimited body, request %d: %q", i, got)
		}
		if got := fetch(t, c, "GET", "http://hints.test/", ""); got != "final" {
			t.Fatalf("after a 103, request %d: %q", i, got)
		}
	}
}

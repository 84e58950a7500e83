package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/rules/policy"
)

// laneStreams are what a client may write on one connection: the common
// requests the lane serves, and what a child or a broken client writes to
// make the lane and the server disagree on where a request ends.
var laneStreams = []string{
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"HEAD http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://blocked.test/a HTTP/1.1\r\nHost: blocked.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http://blocked.test/b HTTP/1.1\r\nHost: blocked.test\r\n\r\n",
	// The lane's request, then the server's, then the lane's again.
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n" +
		"POST http://allowed.test/p HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 4\r\n\r\nbody" +
		"GET http://allowed.test/c HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	// Bodies on a GET, hiding a blocked request.
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 51\r\n\r\nGET http://blocked.test/ HTTP/1.1\r\nHost: blocked.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://blocked.test/b HTTP/1.1\r\nHost: blocked.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nGET /",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 0\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: identity\r\n\r\n",
	// Host fields: folded, doubled, missing, malformed.
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n blocked.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nhost: blocked.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: a b\r\n\r\n",
	// Line ends, versions, sizes, names and values.
	"GET http://allowed.test/a HTTP/1.1\nHost: allowed.test\n\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.0\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/2.0\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nX-Big: " + strings.Repeat("x", 5000) + "\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nX-Huge: " + strings.Repeat("x", 70000) + "\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nBad Name: x\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nX: a\x00b\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nX: a\rb\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nExpect: 100-continue\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\nProxy-Connection: keep-alive\r\nConnection: X-Secret\r\nX-Secret: 1\r\nProxy-Authorization: Basic eDp5\r\n\r\n",
	"GET http://allowed.test:22/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://ALLOWED.test./a?q=%62&r=%zz HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://blocked.test/greengate/request HTTP/1.1\r\nHost: blocked.test\r\n\r\n",
	"GET https://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://user:pw@allowed.test/a#frag HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http:///a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET /a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"get http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"\r\nGET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\nCONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n",
	"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http",
	"GET http://allowed.test/chunked HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http://allowed.test/until-close HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"HEAD http://allowed.test/until-close HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	// Answers of the proxy's own (no origin), and bodies that come in
	// pieces.
	"GET http://nowhere.test/a HTTP/1.1\r\nHost: nowhere.test\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
	"GET http://allowed.test/pieces HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http://allowed.test/b HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
}

// laneWorld is a proxy, with or without the lane, and an origin that
// records what reaches it.
type laneWorld struct {
	h      *harness
	mu     sync.Mutex
	origin []string
}

func newLaneWorld(t testing.TB, lane bool) *laneWorld {
	w := &laneWorld{}
	o := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		keys := make([]string, 0, len(r.Header))
		for k, v := range r.Header {
			keys = append(keys, k+"="+strings.Join(v, ","))
		}
		slices.Sort(keys)
		w.mu.Lock()
		w.origin = append(w.origin, fmt.Sprintf("%s %s host=%s %v close=%v body=%q", r.Method, r.RequestURI, r.Host, keys, r.Close, b))
		w.mu.Unlock()
		switch r.URL.Path {
		case "/chunked":
			_, _ = io.WriteString(rw, "piece-one,")
			rw.(http.Flusher).Flush()
			_, _ = io.WriteString(rw, "piece-two")
		case "/pieces":
			// A known length, written in pieces with pauses, so the
			// proxy has written some before the rest arrives.
			rw.Header().Set("Content-Length", "30000")
			for i := range 3 {
				_, _ = io.WriteString(rw, strings.Repeat(string(rune('a'+i)), 9999)+"\n")
				rw.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond)
			}
		case "/until-close":
			// An HTTP/1.0-style answer: no length, ended by closing.
			c, brw, _ := http.NewResponseController(rw).Hijack()
			_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close")
			_ = brw.Flush()
			_ = c.Close()
		default:
			fmt.Fprintf(rw, "origin %s %s", r.Method, r.RequestURI)
		}
	}))
	t.Cleanup(o.Close)
	mod := func(c *proxy.Config) {
		c.IdleTimeout = 100 * time.Millisecond
		c.ReadHeaderTimeout = 100 * time.Millisecond
		c.HelloTimeout = 100 * time.Millisecond
	}
	var pmod func(*proxy.Proxy)
	if !lane {
		pmod = proxy.WithoutLane
	}
	w.h = startP(t, mod, pmod)
	w.h.dial.route("allowed.test:80", o.Listener.Addr().String())
	w.h.dial.route("allowed.test:443", o.Listener.Addr().String())
	return w
}

// statusLine finds status lines anywhere: an answer of unknown length
// runs into the next one's.
var statusLine = regexp.MustCompile(`HTTP/1\.[01] (\d{3}) `)

// bodyMark finds what bodies say, whatever their framing: the origin's
// answers, runs of its /pieces, the proxy's own notes and pages. A
// stream's pieces are marks of their own: passed on as they come, they
// may be chunked apart.
var bodyMark = regexp.MustCompile(`origin [A-Z]+ \S+|piece-one|piece-two|until close|a{1000}|b{1000}|c{1000}|GreenGate: [^\r\n]*|This page is blocked`)

// play writes stream on a fresh connection and returns what came back
// (the status codes, then what the bodies say) and what reached the
// origin.
func (w *laneWorld) play(t testing.TB, stream string) (codes []string, origin []string) {
	w.mu.Lock()
	w.origin = nil
	w.mu.Unlock()
	c, err := net.Dial("tcp", w.h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Timeouts of 100 ms end every stream well before this, except one
	// whose body never comes (the server waits for bodies as long as the
	// client likes): both sides then time out here alike.
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	go func() { _, _ = io.WriteString(c, stream) }()
	got, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); err != nil && !isReset(err) && !(ok && ne.Timeout()) {
		t.Fatalf("reading the answers to %q: %v", stream, err)
	}
	for _, m := range statusLine.FindAllSubmatch(got, -1) {
		codes = append(codes, string(m[1]))
	}
	for _, m := range bodyMark.FindAll(got, -1) {
		if len(m) > 40 {
			m = m[:40]
		}
		codes = append(codes, string(m))
	}
	// The origin may still be finishing a request the proxy gave up on.
	time.Sleep(10 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return codes, slices.Clone(w.origin)
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func checkLaneAgrees(t *testing.T, lane, server *laneWorld, stream string) {
	var sc, so []string
	done := make(chan struct{})
	go func() { defer close(done); sc, so = server.play(t, stream) }()
	lc, lo := lane.play(t, stream)
	<-done
	if !slices.Equal(lc, sc) || !slices.Equal(lo, so) {
		t.Errorf("for %q\nwith the lane:    answers %v, origin saw %q\nwithout the lane: answers %v, origin saw %q", stream, lc, lo, sc, so)
	}
	for _, o := range lo {
		if head, _, _ := strings.Cut(o, " body="); strings.Contains(head, "blocked.test") {
			t.Errorf("for %q the origin saw %q", stream, o)
		}
	}
	if l := lane.h.logs.String(); strings.Contains(l, "panic") {
		t.Fatalf("panic served %q:\n%s", stream, l)
	}
}

// FuzzLaneAgreesWithServer plays each stream through the proxy with the
// lane and without it: the answers the client gets and the requests the
// origin sees must be the same. A request the lane framed differently
// from the server (the heart of request smuggling) would show here. The
// seeds are laneStreams.
func FuzzLaneAgreesWithServer(f *testing.F) {
	for _, s := range laneStreams {
		f.Add(s)
	}
	lane, server := newLaneWorld(f, true), newLaneWorld(f, false)
	f.Fuzz(func(t *testing.T, stream string) {
		if len(stream) > 8<<10 {
			return
		}
		checkLaneAgrees(t, lane, server, stream)
	})
}

// TestLaneServes: the lane, not the server, answers the common request.
// What tells them apart: the server buffers a short answer and sends its
// length, the lane passes the origin's chunks on as they come.
func TestLaneServes(t *testing.T) {
	t.Parallel()
	for _, lane := range []bool{true, false} {
		w := newLaneWorld(t, lane)
		resp, err := w.h.client(nil).Get("http://allowed.test/chunked")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if chunked := len(resp.TransferEncoding) > 0; string(b) != "piece-one,piece-two" || chunked != lane {
			t.Fatalf("lane=%v: %q, chunked=%v", lane, b, chunked)
		}
	}
}

// TestLaneKeepsAndHandsOver: one connection carries a lane GET, a POST
// (the server's), a CONNECT; all are answered on it.
func TestLaneKeepsAndHandsOver(t *testing.T) {
	t.Parallel()
	w := newLaneWorld(t, true)
	c, err := net.Dial("tcp", w.h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	ask := func(req string) (int, string) {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		method, _, _ := strings.Cut(req, " ")
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i, tc := range []struct{ req, want string }{
		{"GET http://allowed.test/1 HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "origin GET /1"},
		{"GET http://allowed.test/2 HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "origin GET /2"},
		{"POST http://allowed.test/3 HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 2\r\n\r\nhi", "origin POST /3"},
		{"GET http://allowed.test/4 HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "origin GET /4"},
	} {
		if code, body := ask(tc.req); code != 200 || body != tc.want {
			t.Fatalf("request %d: %d %q, want %q", i, code, body, tc.want)
		}
	}
	if code, _ := ask("CONNECT blocked.test:443 HTTP/1.1\r\nHost: blocked.test:443\r\n\r\n"); code != http.StatusForbidden {
		t.Fatalf("CONNECT to a blocked host: %d", code)
	}
	if n := w.h.accepted.Load(); n != 1 {
		t.Fatalf("%d connections accepted, want 1", n)
	}
}

// TestLaneStreams: a chunked answer's first piece reaches the client while
// the origin is still writing, as with the server (event streams, long
// polls).
func TestLaneStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "first\n")
		rw.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(rw, "second\n")
	}))
	defer o.Close()
	defer close(release)
	h := start(t, nil)
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET http://allowed.test/events HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first piece: %q, %v", line, err)
	}
}

// TestLaneCutsWhenClientGoes: a client that gives up on a slow origin
// closes its connection, and the proxy's request to the origin ends too
// instead of holding it open.
func TestLaneCutsWhenClientGoes(t *testing.T) {
	t.Parallel()
	gone, end := make(chan struct{}), make(chan struct{})
	o := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done(): // the proxy closed its connection
			close(gone)
		case <-end:
		}
	}))
	defer o.Close()
	defer close(end)
	h := start(t, nil)
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET http://allowed.test/slow HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	_ = c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the origin request outlived its client by 5 s")
	}
}

// TestLaneShutdown: at shutdown an idle lane connection is closed at once,
// and a request in flight is answered first.
func TestLaneShutdown(t *testing.T) {
	t.Parallel()
	o := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = io.WriteString(rw, "done")
	}))
	defer o.Close()
	eng := testEngine(t, nil)
	d := &dialer{}
	d.route("allowed.test:80", o.Listener.Addr().String())
	p, err := proxy.New(proxy.Config{Engine: func() *policy.Engine { return eng }, DialContext: d.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveUntil(t, p)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	idle, idleR := dial()
	_, _ = io.WriteString(idle, "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	if resp, err := http.ReadResponse(idleR, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v", err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	busy, busyR := dial()
	_, _ = io.WriteString(busy, "GET http://allowed.test/slow HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // the request is with the origin
	t0 := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	resp, err := http.ReadResponse(busyR, nil)
	if err != nil {
		t.Fatalf("request in flight at shutdown: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "done" {
		t.Fatalf("request in flight at shutdown: %d %q", resp.StatusCode, b)
	}
	if _, err := idleR.ReadByte(); err == nil || os.IsTimeout(err) {
		t.Fatalf("idle connection still open after shutdown (%v)", err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("shutdown took %v; the grace period is for requests in flight, not idle connections", el)
	}
}

// TestLaneCarriesBodiesWhole: a large body that comes in pieces, and the
// proxy's own short answers, arrive byte for byte.
func TestLaneCarriesBodiesWhole(t *testing.T) {
	t.Parallel()
	big := make([]byte, 4<<20)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(big)
	o := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", strconv.Itoa(len(big)))
		for b := big; len(b) > 0; b = b[min(len(b), 64<<10):] {
			_, _ = rw.Write(b[:min(len(b), 64<<10)])
			rw.(http.Flusher).Flush()
		}
	}))
	defer o.Close()
	h := start(t, nil)
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c := h.client(nil)
	for i := range 3 {
		if got := fetch(t, c, "GET", "http://allowed.test/big", ""); got != string(big) {
			t.Fatalf("request %d: %d bytes came, %d sent; equal: %v", i, len(got), len(big), got == string(big))
		}
		code, body := get(t, c, "http://nowhere.test/")
		if code != http.StatusBadGateway || body != "GreenGate: the site could not be reached\n" {
			t.Fatalf("request %d to an unreachable site: %d %q", i, code, body)
		}
	}
}

package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// origin is a plain HTTP server that reports what it was asked.
func origin(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s host=%s uri=%s", name, r.Host, r.RequestURI)
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPlainHTTP(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	o := origin(t, "origin")
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	h.dial.route("mixed.test:80", o.Listener.Addr().String())
	c := h.client(nil)

	t.Run("allowed is forwarded", func(t *testing.T) {
		code, body := get(t, c, "http://Allowed.Test./page?x=1")
		if code != 200 || body != "origin host=allowed.test uri=/page?x=1" {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("allowed path on a host with URL entries", func(t *testing.T) {
		code, body := get(t, c, "http://mixed.test/good")
		if code != 200 || !strings.HasPrefix(body, "origin") {
			t.Fatalf("got %d %q", code, body)
		}
	})
	for _, tc := range []struct{ name, url, host string }{
		{"blocked host", "http://blocked.test/", "blocked.test"},
		{"subdomain, uppercase, trailing dot, port", "http://WWW.Blocked.TEST.:8080/x", "www.blocked.test"},
		{"default list", "http://www.pornhub.com/", "www.pornhub.com"},
		{"url entry", "http://mixed.test/bad/thing", "mixed.test"},
		{"url entry percent-encoded", "http://mixed.test/%62ad", "mixed.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, c, tc.url)
			if code != http.StatusForbidden || !strings.Contains(body, "This page is blocked") || !strings.Contains(body, tc.host) {
				t.Fatalf("got %d %q", code, body)
			}
		})
	}
	for _, a := range h.dial.dialled() {
		if strings.Contains(a, "blocked") || strings.Contains(a, "pornhub") {
			t.Errorf("dialled %s for a blocked request", a)
		}
	}
	for _, e := range h.ev.all() {
		if e.Action != blocklog.ActionBlock || e.Category != "adult" || e.URL == "" {
			t.Errorf("unexpected event %+v", e)
		}
		if e.Host == "allowed.test" {
			t.Errorf("allowed request logged: %+v", e)
		}
	}
	if n := len(h.ev.all()); n != 5 {
		t.Errorf("%d events for 5 blocks", n)
	}
}

func TestBlockPage(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *proxy.Config) {
		eng := testEngine(t, func(b *ruleset.Builder) {
			b.Category(ruleset.Meta{ID: "evil", Name: policy.Text{EN: `<img src=x onerror=alert(1)>"'`, ZH: "<script>坏</script>"}})
			_, _ = b.AddList("evil", `"><script>alert('source')</script>`, strings.NewReader("evil.test/<script>x\n"), lists.Options{Format: lists.URLs})
		})
		p := defaultsProfileWith("evil")
		e2, err := policy.New(policy.Config{Categories: eng.Categories(), SafeSearch: eng.SafeSearchEngines(), Profiles: []policy.Profile{p}})
		if err != nil {
			t.Fatal(err)
		}
		c.Engine = func() *policy.Engine { return e2 }
	})
	c := h.client(nil)
	for _, tc := range []struct {
		name, lang string
		want       []string
	}{
		{"english", "en-GB,en;q=0.9", []string{"This page is blocked", "Adult content", "test-adult.txt:1", "blocked.test", `href="/greengate/request?host=blocked.test"`, "Ask a parent"}},
		{"chinese", "zh-CN,zh;q=0.9,en;q=0.8", []string{"此网页已被拦截", "成人内容", "请家长允许访问此网站", `lang="zh-CN"`}},
		{"chinese second", "en;q=0.5,zh-TW;q=0.8", []string{"此网页已被拦截"}},
		{"no header", "", []string{"This page is blocked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://blocked.test/", nil)
			if tc.lang != "" {
				req.Header.Set("Accept-Language", tc.lang)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
				!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("page lacks %q:\n%s", w, b)
				}
			}
		})
	}
	t.Run("hostile path, entry, source and category are escaped", func(t *testing.T) {
		for _, lang := range []string{"en", "zh"} {
			raw := "GET http://evil.test/<script>x/\"'<b>?q=<script>alert(2)</script>&é=ü HTTP/1.1\r\nHost: evil.test\r\nAccept-Language: " + lang + "\r\nConnection: close\r\n\r\n"
			body := rawRequest(t, h.addr, raw)
			if !strings.Contains(body, " 403 ") {
				t.Fatalf("not blocked: %.200s", body)
			}
			for _, bad := range []string{"<script", "<img", "onerror=alert(1)>", `"><script`} {
				if strings.Contains(body, bad) {
					t.Errorf("%s page contains unescaped %q:\n%s", lang, bad, body)
				}
			}
			if !strings.Contains(body, "&lt;script&gt;") {
				t.Errorf("%s page lost the escaped entry:\n%s", lang, body)
			}
		}
	})
}

func defaultsProfileWith(cat string) policy.Profile {
	p := policyDefaultProfile()
	p.Block = append(p.Block, cat)
	return p
}

func rawRequest(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestAskParent: the block page's "ask a parent" link is taken only for
// a host this client was just blocked on, and no faster than the shared
// ask limiter allows (issue 12).
func TestAskParent(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	asks := settings.NewAskLimiter(10*time.Second, clock)
	h := start(t, func(c *proxy.Config) { c.Clock = clock; c.Asks = asks })
	c := h.client(nil)
	requests := func() int {
		n := 0
		for _, e := range h.ev.all() {
			if e.Action == blocklog.ActionRequest {
				n++
			}
		}
		return n
	}
	// Not blocked, or not yet: nothing to ask for.
	for _, u := range []string{
		"http://blocked.test/greengate/request?host=allowed.test",
		"http://blocked.test/greengate/request?host=blocked.test",
		"http://" + h.addr + "/greengate/request?host=www.example.org",
	} {
		hc := c
		if strings.Contains(u, h.addr) {
			hc = http.DefaultClient // to the proxy itself, not through it
		}
		if code, body := get(t, hc, u); code != http.StatusForbidden || !strings.Contains(body, "just blocked") {
			t.Fatalf("%s: %d %q", u, code, body)
		}
	}
	if n := requests(); n != 0 {
		t.Fatalf("%d requests recorded for sites never blocked", n)
	}
	if code, _ := get(t, c, "http://blocked.test/"); code != http.StatusForbidden {
		t.Fatalf("block page: %d", code)
	}
	code, body := get(t, c, "http://blocked.test/greengate/request?host=Blocked.Test.", "Accept-Language", "zh")
	if code != 200 || !strings.Contains(body, "你的请求已发送") || !strings.Contains(body, "blocked.test") {
		t.Fatalf("got %d %q", code, body)
	}
	ev := h.ev.all()
	if last := ev[len(ev)-1]; requests() != 1 || last.Action != blocklog.ActionRequest || last.Host != "blocked.test" || last.Client != "127.0.0.1" {
		t.Fatalf("events %+v", ev)
	}
	// At once again, directly to the proxy as a bookmark would: too soon.
	code, _ = get(t, http.DefaultClient, "http://"+h.addr+"/greengate/request?host=blocked.test")
	if code != http.StatusTooManyRequests || requests() != 1 {
		t.Fatalf("second ask at once: %d, %d requests", code, requests())
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	code, _ = get(t, http.DefaultClient, "http://"+h.addr+"/greengate/request?host=blocked.test")
	if code != 200 || requests() != 2 {
		t.Fatalf("ask after the wait: %d, %d requests", code, requests())
	}
	// The limiter is the admin API's: an ask there counts here.
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	if _, ok := asks.Allow("addr:127.0.0.1"); !ok {
		t.Fatal("limiter refused the first ask")
	}
	if code, _ := get(t, c, "http://blocked.test/greengate/request?host=blocked.test"); code != http.StatusTooManyRequests {
		t.Fatalf("ask right after one through the shared limiter: %d", code)
	}
	// After recentFor, the block is no longer recent.
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	if code, _ := get(t, c, "http://blocked.test/greengate/request?host=blocked.test"); code != http.StatusForbidden {
		t.Fatalf("ask about a block 11 minutes old: %d", code)
	}
	code, _ = get(t, c, "http://blocked.test/greengate/request?host=<script>")
	if code != 400 {
		t.Fatalf("bad host: %d", code)
	}
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	h := start(t, nil)
	a := newTLSOrigin(t, ca, "A", false)
	safe := newTLSOrigin(t, ca, "SAFE", false)
	h.dial.route("allowed.test:443", a.addr())
	h.dial.route("127.0.0.1:443", a.addr())
	h.dial.route("www.google.com:443", a.addr())
	h.dial.route("forcesafesearch.google.com:443", safe.addr())
	c := h.client(ca.pool)

	t.Run("allowed", func(t *testing.T) {
		code, body := get(t, c, "https://allowed.test/")
		if code != 200 || body != "A sni=allowed.test host=allowed.test\n" {
			t.Fatalf("got %d %q", code, body)
		}
	})
	t.Run("safe search dials the enforced host with the SNI unchanged", func(t *testing.T) {
		code, body := get(t, c, "https://www.google.com/search?q=x")
		if code != 200 || body != "SAFE sni=www.google.com host=www.google.com\n" {
			t.Fatalf("got %d %q", code, body)
		}
	})
	tlsVia := func(t *testing.T, authority, sniName string) error {
		conn, br, code := h.connect(t, authority)
		if code != 200 {
			t.Fatalf("CONNECT %s: %d", authority, code)
		}
		tc := tls.Client(bufConn{conn, br}, &tls.Config{ServerName: sniName, RootCAs: ca.pool})
		return tc.Handshake()
	}
	t.Run("blocked CONNECT host", func(t *testing.T) {
		_, _, code := h.connect(t, "sni-blocked.test:443")
		if code != http.StatusForbidden {
			t.Fatalf("got %d", code)
		}
	})
	t.Run("allowed CONNECT host, blocked SNI", func(t *testing.T) {
		before := len(h.dial.dialled())
		if err := tlsVia(t, "allowed.test:443", "sni-blocked.test"); !handshakeRefused(err) {
			t.Fatalf("handshake: %v", err)
		}
		if n := len(h.dial.dialled()); n != before {
			t.Fatalf("origin dialled for a blocked SNI")
		}
	})
	t.Run("IP CONNECT, blocked SNI", func(t *testing.T) {
		if err := tlsVia(t, "127.0.0.1:443", "sni-blocked.test"); !handshakeRefused(err) {
			t.Fatalf("handshake: %v", err)
		}
	})
	t.Run("IP CONNECT, allowed SNI", func(t *testing.T) {
		if err := tlsVia(t, "127.0.0.1:443", "allowed.test"); err != nil {
			t.Fatalf("handshake: %v", err)
		}
	})
	ev := h.ev.all()
	if len(ev) != 3 {
		t.Fatalf("want 3 block events, got %+v", ev)
	}
	for _, e := range ev {
		if e.Host != "sni-blocked.test" || e.URL != "" || e.Action != blocklog.ActionBlock {
			t.Errorf("event %+v", e)
		}
	}
}

// bufConn reads through a bufio.Reader that may hold bytes already.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// chunkConn writes its first write (the ClientHello) in small pieces with
// pauses, so it arrives across many TCP segments.
type chunkConn struct {
	net.Conn
	n    int
	done *bool
}

func (c chunkConn) Write(p []byte) (int, error) {
	if *c.done {
		return c.Conn.Write(p)
	}
	*c.done = true
	total := 0
	for len(p) > 0 {
		k := min(c.n, len(p))
		n, err := c.Conn.Write(p[:k])
		total += n
		if err != nil {
			return total, err
		}
		p = p[k:]
		time.Sleep(time.Millisecond)
	}
	return total, nil
}

func TestTunnelByteExact(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	h := start(t, nil)
	echo := newTLSOrigin(t, ca, "E", true)
	h.dial.route("allowed.test:443", echo.addr())

	for _, tc := range []struct {
		name  string
		chunk int
		sni   string
		ok    bool
	}{
		{"whole hello", 0, "allowed.test", true},
		{"hello split into 7-byte segments", 7, "allowed.test", true},
		{"blocked SNI split into 5-byte segments", 5, "sni-blocked.test", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br, code := h.connect(t, "allowed.test:443")
			if code != 200 {
				t.Fatalf("CONNECT: %d", code)
			}
			var sent, got bytes.Buffer
			var raw net.Conn = bufConn{conn, br}
			if tc.chunk > 0 {
				raw = chunkConn{raw, tc.chunk, new(bool)}
			}
			rec := &teeConn{Conn: raw, w: &sent, r: &got}
			tc2 := tls.Client(rec, &tls.Config{ServerName: tc.sni, RootCAs: ca.pool})
			err := tc2.Handshake()
			if !tc.ok {
				if !handshakeRefused(err) {
					t.Fatalf("blocked SNI: handshake %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			msg := make([]byte, 256<<10)
			_, _ = rand.Read(msg)
			wrote := make(chan struct{})
			go func() { _, _ = tc2.Write(msg); close(wrote) }()
			back := make([]byte, len(msg))
			if _, err := io.ReadFull(tc2, back); err != nil {
				t.Fatal(err)
			}
			<-wrote
			if !bytes.Equal(back, msg) {
				t.Fatal("echo differs")
			}
			// Every byte the client sent reached the origin unchanged.
			deadline := time.Now().Add(5 * time.Second)
			for !bytes.Equal(echo.rawBytes(), sent.Bytes()) {
				if time.Now().After(deadline) {
					o := echo.rawBytes()
					t.Fatalf("origin read %d bytes, client sent %d; equal prefix %v", len(o), sent.Len(), bytes.HasPrefix(sent.Bytes(), o))
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

type teeConn struct {
	net.Conn
	w, r *bytes.Buffer
}

func (c *teeConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.Write(p[:n])
	return n, err
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.Write(p[:n])
	return n, err
}

func TestPipelinedHello(t *testing.T) {
	t.Parallel()
	// A client may send its ClientHello in the same write as CONNECT,
	// before the 200: those bytes must be decided and forwarded too.
	ca := newTestCA(t)
	h := start(t, nil)
	a := newTLSOrigin(t, ca, "A", false)
	h.dial.route("allowed.test:443", a.addr())
	for _, tc := range []struct {
		sni string
		ok  bool
	}{{"allowed.test", true}, {"sni-blocked.test", false}} {
		t.Run(tc.sni, func(t *testing.T) {
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			pc := &pipelined{Conn: c, prefix: []byte("CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n")}
			tc2 := tls.Client(pc, &tls.Config{ServerName: tc.sni, RootCAs: ca.pool})
			err = tc2.Handshake()
			if tc.ok != (err == nil) {
				t.Fatalf("handshake: %v", err)
			}
		})
	}
}

// pipelined sends prefix in the same write as the first TLS record and
// strips the proxy's 200 before the first read.
type pipelined struct {
	net.Conn
	prefix []byte
	br     *bufio.Reader
}

func (p *pipelined) Write(b []byte) (int, error) {
	if p.prefix != nil {
		all := append(p.prefix, b...)
		p.prefix = nil
		if _, err := p.Conn.Write(all); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return p.Conn.Write(b)
}

func (p *pipelined) Read(b []byte) (int, error) {
	if p.br == nil {
		p.br = bufio.NewReader(p.Conn)
		resp, err := http.ReadResponse(p.br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("CONNECT: %s", resp.Status)
		}
	}
	return p.br.Read(b)
}

func TestNoSNI(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	for _, tc := range []struct {
		name      string
		policy    proxy.NoSNIPolicy
		authority string
		ok        bool
	}{
		{"default, allowed host", proxy.NoSNIAllowIfHostAllowed, "allowed.test:443", true},
		// An address names no site: refused in a profile that blocks a
		// category (TestConnectToAddressWithoutName).
		{"default, IP", proxy.NoSNIAllowIfHostAllowed, "127.0.0.1:443", false},
		{"block policy", proxy.NoSNIBlock, "allowed.test:443", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, func(c *proxy.Config) { c.NoSNI = tc.policy })
			a := newTLSOrigin(t, ca, "A", false)
			h.dial.route(tc.authority, a.addr())
			conn, br, code := h.connect(t, tc.authority)
			if code != 200 {
				t.Fatalf("CONNECT: %d", code)
			}
			// An empty ServerName with InsecureSkipVerify sends no SNI.
			tc2 := tls.Client(bufConn{conn, br}, &tls.Config{InsecureSkipVerify: true})
			err := tc2.Handshake()
			if tc.ok && err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if !tc.ok && !handshakeRefused(err) {
				t.Fatalf("handshake: %v", err)
			}
		})
	}
}

func TestSafeSearchHTTP(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	real := origin(t, "REAL")
	safe := origin(t, "SAFE")
	h.dial.route("www.google.com:80", real.Listener.Addr().String())
	h.dial.route("forcesafesearch.google.com:80", safe.Listener.Addr().String())
	h.dial.route("www.bing.com:80", safe.Listener.Addr().String())
	h.dial.route("strict.bing.com:80", safe.Listener.Addr().String())
	c := h.client(nil)
	code, body := get(t, c, "http://www.google.com/search?q=cats&safe=off")
	if code != 200 || !strings.HasPrefix(body, "SAFE host=www.google.com uri=/search?") ||
		!strings.Contains(body, "safe=active") || strings.Contains(body, "safe=off") || !strings.Contains(body, "q=cats") {
		t.Fatalf("got %d %q", code, body)
	}
	code, body = get(t, c, "http://www.bing.com/search?q=x&adlt=off&adlt=moderate")
	if code != 200 || !strings.Contains(body, "adlt=strict") || strings.Contains(body, "adlt=off") || strings.Contains(body, "moderate") {
		t.Fatalf("bing: %d %q", code, body)
	}
	for _, a := range h.dial.dialled() {
		if a == "www.google.com:80" {
			t.Errorf("dialled the unrestricted host")
		}
	}
	if len(h.ev.all()) != 0 {
		t.Errorf("safe search logged: %+v", h.ev.all())
	}
}

func TestBypassAttempts(t *testing.T) {
	t.Parallel()
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("admin API reached through the proxy: %s %s", r.Method, r.URL)
	}))
	t.Cleanup(admin.Close)
	adminAddr := admin.Listener.Addr().(*net.TCPAddr)
	o := origin(t, "origin")
	oport := o.Listener.Addr().(*net.TCPAddr).Port

	// The real dialer: these tests are about where connections go.
	var self atomic.Value
	h := start(t, func(c *proxy.Config) {
		c.DialContext = nil
		c.OwnAddrs = []string{admin.Listener.Addr().String()}
		c.ConnectPorts = []uint16{443, uint16(adminAddr.Port)}
	})
	self.Store(h.addr)
	ipv6 := false
	if l6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ipv6 = true
		l6.Close()
	}
	_, pport, _ := net.SplitHostPort(h.addr)
	c := h.client(nil)
	c.Transport.(*http.Transport).DisableKeepAlives = true

	t.Run("host header naming a blocked site is ignored: the URL host is contacted", func(t *testing.T) {
		body := rawRequest(t, h.addr, fmt.Sprintf("GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n", oport))
		if !strings.Contains(body, fmt.Sprintf("origin host=127.0.0.1:%d", oport)) {
			t.Fatalf("got %q", body)
		}
	})
	t.Run("origin-form request to the proxy is not forwarded", func(t *testing.T) {
		body := rawRequest(t, h.addr, fmt.Sprintf("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", oport))
		if !strings.Contains(body, " 400 ") || strings.Contains(body, "origin host") {
			t.Fatalf("got %q", body)
		}
	})
	for _, u := range []string{
		"http://127.0.0.1:" + pport + "/",
		"http://localhost:" + pport + "/",
		"http://localhost.:" + pport + "/",
		"http://LOCALHOST:" + pport + "/",
		"http://[::1]:" + pport + "/",
		"http://0.0.0.0:" + pport + "/",
		"http://[::]:" + pport + "/",
		"http://[::ffff:127.0.0.1]:" + pport + "/",
		"http://127.1.2.3:" + pport + "/",
		"http://" + admin.Listener.Addr().String() + "/admin",
		"http://localhost:" + fmt.Sprint(adminAddr.Port) + "/admin",
	} {
		t.Run("loop "+u, func(t *testing.T) {
			before := h.accepted.Load()
			code, _ := get(t, c, u)
			// Without IPv6 the socket cannot even be made: 502, still no loop.
			if code != http.StatusForbidden && !(code == http.StatusBadGateway && !ipv6 && strings.Contains(u, "[")) {
				t.Fatalf("got %d", code)
			}
			if n := h.accepted.Load() - before; n != 1 {
				t.Fatalf("proxy accepted %d connections for one request: a loop", n)
			}
		})
	}
	t.Run("decimal address of the proxy", func(t *testing.T) {
		// Resolves to 127.0.0.1 with a libc resolver, to nothing with Go's:
		// either way it must not come back to the proxy.
		before := h.accepted.Load()
		code, _ := get(t, c, "http://2130706433:"+pport+"/")
		if code == 200 || h.accepted.Load()-before != 1 {
			t.Fatalf("got %d, %d accepts", code, h.accepted.Load()-before)
		}
	})
	t.Run("CONNECT to the admin API", func(t *testing.T) {
		for _, a := range []string{admin.Listener.Addr().String(), fmt.Sprintf("localhost:%d", adminAddr.Port)} {
			conn, br, code := h.connect(t, a)
			if code != 200 {
				continue // refused before the tunnel: fine
			}
			fmt.Fprintf(conn, "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
			if _, err := br.ReadByte(); err == nil {
				t.Fatalf("CONNECT %s carried data to the admin API", a)
			}
		}
	})
	for _, tc := range []struct {
		authority string
		code      int
	}{
		{"allowed.test:22", 403},
		{"allowed.test:0443", 400},
		{"allowed.test:+443", 400},
		{"allowed.test", 400},
		{"BLOCKED.TEST.:443", 403},
		{"www.pornhub.com.:443", 403},
		{"[::1]:22", 403},
		{"a..test:443", 400},
	} {
		t.Run("CONNECT "+tc.authority, func(t *testing.T) {
			_, _, code := h.connect(t, tc.authority)
			if code != tc.code {
				t.Fatalf("got %d, want %d", code, tc.code)
			}
		})
	}
	t.Run("plain HTTP to a mail port", func(t *testing.T) {
		code, _ := get(t, c, "http://allowed.test:25/")
		if code != http.StatusForbidden {
			t.Fatalf("got %d", code)
		}
	})
}

func TestLANMode(t *testing.T) {
	t.Parallel()
	o := origin(t, "origin")
	t.Run("loopback destinations refused", func(t *testing.T) {
		h := start(t, func(c *proxy.Config) {
			c.DialContext = nil
			c.AllowedClients = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
		})
		code, _ := get(t, h.client(nil), o.URL+"/")
		if code != http.StatusForbidden {
			t.Fatalf("got %d", code)
		}
	})
	t.Run("clients outside the allowed networks are disconnected", func(t *testing.T) {
		h := start(t, func(c *proxy.Config) {
			c.AllowedClients = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		})
		body := rawRequest(t, h.addr, "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
		if body != "" {
			t.Fatalf("got %q", body)
		}
		if !strings.Contains(h.logs.String(), "refused a client") {
			t.Fatalf("refusal not logged: %s", h.logs)
		}
	})
	t.Run("default: loopback origins reachable", func(t *testing.T) {
		h := start(t, func(c *proxy.Config) { c.DialContext = nil })
		code, _ := get(t, h.client(nil), o.URL+"/")
		if code != 200 {
			t.Fatalf("got %d", code)
		}
	})
}

func TestKeepAliveAndWebSocket(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	o := origin(t, "origin")
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c := h.client(nil)
	t.Run("keep-alive", func(t *testing.T) {
		reused := false
		for i := 0; i < 2; i++ {
			req, _ := http.NewRequest(http.MethodGet, "http://allowed.test/", nil)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused },
			}))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if !reused || h.accepted.Load() != 1 {
			t.Fatalf("reused=%v accepted=%d", reused, h.accepted.Load())
		}
	})
	t.Run("websocket", func(t *testing.T) {
		h.dial.route("ws.test:80", wsOrigin(t))
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET http://ws.test/chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		fmt.Fprint(conn, "ping-frame")
		got := make([]byte, 10)
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping-frame" {
			t.Fatalf("echo %q %v", got, err)
		}
	})
}

func TestPanicIsolated(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	h := start(t, func(c *proxy.Config) {
		c.Profile = func(net.Addr) string {
			if calls.Add(1) == 1 {
				panic("profile lookup exploded")
			}
			return ""
		}
	})
	o := origin(t, "origin")
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c := h.client(nil)
	c.Transport.(*http.Transport).DisableKeepAlives = true
	if resp, err := c.Get("http://allowed.test/"); err == nil {
		resp.Body.Close()
		t.Fatalf("panicking request answered %d; want the connection closed", resp.StatusCode)
	}
	code, body := get(t, c, "http://allowed.test/")
	if code != 200 || !strings.HasPrefix(body, "origin") {
		t.Fatalf("after panic: %d %q", code, body)
	}
	if !strings.Contains(h.logs.String(), "profile lookup exploded") {
		t.Fatalf("panic not logged:\n%s", h.logs)
	}
}

func TestNoEngine(t *testing.T) {
	t.Parallel()
	if _, err := proxy.New(proxy.Config{}); err != proxy.ErrNoEngine {
		t.Fatalf("New without engine: %v", err)
	}
	h := start(t, func(c *proxy.Config) { c.Engine = func() *policy.Engine { return nil } })
	code, _ := get(t, h.client(nil), "http://allowed.test/")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("got %d", code)
	}
	if _, _, code := h.connect(t, "allowed.test:443"); code != http.StatusServiceUnavailable {
		t.Fatalf("CONNECT got %d", code)
	}
}

func TestShutdownClosesTunnels(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	eng := testEngine(t, nil)
	d := &dialer{}
	echo := newTLSOrigin(t, ca, "E", true)
	d.route("allowed.test:443", echo.addr())
	p, err := proxy.New(proxy.Config{Engine: func() *policy.Engine { return eng }, DialContext: d.DialContext})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveUntil(t, p)
	h := &harness{addr: addr}
	conn, br, code := h.connect(t, "allowed.test:443")
	if code != 200 {
		t.Fatal(code)
	}
	tc := tls.Client(bufConn{conn, br}, &tls.Config{ServerName: "allowed.test", RootCAs: ca.pool})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Read(make([]byte, 1)); err == nil {
		t.Fatal("tunnel still open after shutdown")
	}
}

func TestPAC(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	resp, err := http.Get("http://" + h.addr + proxy.PACPath)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ns-proxy-autoconfig" ||
		!strings.Contains(string(b), `return "PROXY `+h.addr+`";`) || strings.Contains(string(b), "; DIRECT") {
		t.Fatalf("%d %v\n%s", resp.StatusCode, resp.Header, b)
	}
}

// TestSmuggling plays a child hiding a blocked request behind an allowed
// one on the same connection.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	var seen atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(r.Host+r.RequestURI+string(b), "blocked") {
			seen.Add(1)
		}
		fmt.Fprintf(w, "origin host=%s uri=%s", r.Host, r.RequestURI)
	}))
	t.Cleanup(o.Close)
	t.Cleanup(func() {
		if n := seen.Load(); n != 0 {
			t.Errorf("origin saw %d requests naming the blocked host", n)
		}
	})
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	t.Run("pipelined requests are decided one by one", func(t *testing.T) {
		body := rawRequest(t, h.addr,
			"GET http://allowed.test/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n"+
				"GET http://blocked.test/b HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n")
		if !strings.Contains(body, "origin host=allowed.test uri=/a") || !strings.Contains(body, "This page is blocked") {
			t.Fatalf("got %q", body)
		}
	})
	t.Run("Content-Length with Transfer-Encoding: the hidden request is decided too", func(t *testing.T) {
		// The server reads the body by Transfer-Encoding (RFC 9112 6.3) and
		// re-frames what it forwards, so the proxy and the origin cannot
		// disagree on where the second request starts: it is a request of
		// its own, decided and blocked here, never sent on.
		body := rawRequest(t, h.addr,
			"POST http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"0\r\n\r\nGET http://blocked.test/ HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n")
		if strings.Count(body, "origin host=") != 1 || !strings.Contains(body, "This page is blocked") {
			t.Fatalf("got %q", body)
		}
	})
	for _, e := range h.ev.all() {
		if e.Host != "blocked.test" {
			t.Errorf("event %+v", e)
		}
	}
}

// TestAllowListOnly: in allow-list-only mode sites are allowed by name, so
// a CONNECT to an address waits for the SNI to decide.
func TestAllowListOnly(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	h := start(t, func(c *proxy.Config) {
		base := testEngine(t, nil)
		p := policyDefaultProfile()
		p.AllowListOnly, p.Allow = true, []string{"allowed.test"}
		eng, err := policy.New(policy.Config{Categories: base.Categories(), SafeSearch: base.SafeSearchEngines(), Profiles: []policy.Profile{p}})
		if err != nil {
			t.Fatal(err)
		}
		c.Engine = func() *policy.Engine { return eng }
	})
	a := newTLSOrigin(t, ca, "A", false)
	h.dial.route("127.0.0.1:443", a.addr())
	h.dial.route("allowed.test:443", a.addr())
	for _, tc := range []struct {
		name, authority, sni string
		ok                   bool
	}{
		{"allowed name", "allowed.test:443", "allowed.test", true},
		{"address with an allowed SNI", "127.0.0.1:443", "allowed.test", true},
		{"address with another SNI", "127.0.0.1:443", "other.test", false},
		{"address without SNI", "127.0.0.1:443", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, br, code := h.connect(t, tc.authority)
			if code != 200 {
				t.Fatalf("CONNECT: %d", code)
			}
			cfg := &tls.Config{ServerName: tc.sni, RootCAs: ca.pool}
			if tc.sni == "" {
				cfg = &tls.Config{InsecureSkipVerify: true}
			}
			err := tls.Client(bufConn{conn, br}, cfg).Handshake()
			if tc.ok && err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if !tc.ok && !handshakeRefused(err) {
				t.Fatalf("handshake: %v", err)
			}
		})
	}
	if _, _, code := h.connect(t, "other.test:443"); code != http.StatusForbidden {
		t.Fatalf("CONNECT to a name not allowed: %d", code)
	}
}

// The parent's language setting decides the page for browsers that ask
// for neither Chinese nor English; a browser that does ask is followed.
func TestBlockPageLanguageSetting(t *testing.T) {
	t.Parallel()
	var lang atomic.Value
	lang.Store("zh")
	h := start(t, func(c *proxy.Config) {
		c.Language = func() string { return lang.Load().(string) }
	})
	c := h.client(nil)
	get := func(accept string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://www.pornhub.com/", nil)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return string(b)
	}
	for _, tc := range []struct {
		setting, accept string
		chinese         bool
	}{
		{"zh", "", true},
		{"zh", "fr-FR,fr;q=0.9", true},
		{"zh", "en-US,en;q=0.9", false},
		{"en", "", false},
		{"en", "de", false},
		{"en", "zh-TW", true},
	} {
		lang.Store(tc.setting)
		body := get(tc.accept)
		if got := strings.Contains(body, "此网页已被拦截"); got != tc.chinese {
			t.Errorf("setting %q, Accept-Language %q: Chinese page = %v, want %v", tc.setting, tc.accept, got, tc.chinese)
		}
	}
}

// TestProfileOncePerConnection: picking a client's profile can be costly
// (the service reads the kernel's socket table), so a kept-alive
// connection asks once, and again only when the engine changes (settings
// or grants were applied).
func TestProfileOncePerConnection(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	var eng atomic.Pointer[policy.Engine]
	eng.Store(testEngine(t, nil))
	h := start(t, func(c *proxy.Config) {
		c.Engine = eng.Load
		c.Profile = func(net.Addr) string { asked.Add(1); return "" }
	})
	o := origin(t, "origin")
	h.dial.route("allowed.test:80", o.Listener.Addr().String())
	c := h.client(nil)
	get := func() {
		t.Helper()
		resp, err := c.Get("http://allowed.test/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for i := 0; i < 5; i++ {
		get()
	}
	if n := asked.Load(); n != 1 || h.accepted.Load() != 1 {
		t.Fatalf("5 requests on %d connection(s) asked for the profile %d times, want once", h.accepted.Load(), n)
	}
	eng.Store(testEngine(t, nil))
	get()
	if n := asked.Load(); n != 2 {
		t.Fatalf("after a new engine: asked %d times, want 2", n)
	}
}

// TestPathSpellings is issue 12's path bypass: "mixed.test/bad" is
// listed, and no other spelling of that path reaches the origin, through
// the lane (GET) or the server (POST), nor inside a ws:// tunnel; a path
// that only starts with the same letters is not blocked.
func TestPathSpellings(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	o := origin(t, "origin")
	h.dial.route("mixed.test:80", o.Listener.Addr().String())
	ask := func(t *testing.T, method, path string) int {
		t.Helper()
		c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		body := ""
		if method == http.MethodPost {
			body = "Content-Length: 0\r\n"
		}
		fmt.Fprintf(c, "%s http://mixed.test%s HTTP/1.1\r\nHost: mixed.test\r\n%s\r\n", method, path, body)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"//bad", "/./bad", "/a/../bad", "/%2fbad", "/%2Fbad", "/BAD", "/Bad/x", "/bad/", "/x%2f..%2fbad", "/bad;x", "/x/..;/bad", "/x\\..\\bad"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if code := ask(t, method, path); code != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", method, path, code)
			}
		}
	}
	for _, path := range []string{"/badge", "/ba/d"} {
		if code := ask(t, http.MethodGet, path); code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, code)
		}
	}
}

// TestConnectToAddressWithoutName is issue 12's nameless tunnel: a
// CONNECT to an unlisted address whose bytes name no site (a TLS hello
// without SNI, or SSH over 443) is refused in a profile that blocks a
// category, and logged as "no-sni"; an address on the allow list still
// goes through.
func TestConnectToAddressWithoutName(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	h := start(t, func(c *proxy.Config) {
		eng := testEngine(t, nil)
		p := policyDefaultProfile()
		p.Allow = append(p.Allow, "192.0.2.8")
		e2, err := policy.New(policy.Config{Categories: eng.Categories(), SafeSearch: eng.SafeSearchEngines(), Profiles: []policy.Profile{p}})
		if err != nil {
			t.Fatal(err)
		}
		c.Engine = func() *policy.Engine { return e2 }
	})
	echo := newTLSOrigin(t, ca, "E", true)
	h.dial.route("192.0.2.7:443", echo.addr())
	h.dial.route("192.0.2.8:443", echo.addr())
	noSNI := func(t *testing.T, authority string) error {
		c, br, code := h.connect(t, authority)
		if code != 200 {
			t.Fatalf("CONNECT %s: %d", authority, code)
		}
		tc := tls.Client(bufConn{c, br}, &tls.Config{InsecureSkipVerify: true}) // no ServerName: no SNI
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			return err
		}
		_, err := tc.Write([]byte("x"))
		return err
	}
	t.Run("TLS without SNI to an unlisted address", func(t *testing.T) {
		before := len(h.dial.dialled())
		if err := noSNI(t, "192.0.2.7:443"); err == nil {
			t.Fatal("handshake through a nameless tunnel")
		}
		if len(h.dial.dialled()) != before {
			t.Fatalf("dialled %v", h.dial.dialled()[before:])
		}
		ev := h.ev.all()
		if len(ev) == 0 || ev[len(ev)-1].Host != "192.0.2.7" || !strings.HasSuffix(ev[len(ev)-1].Reason, "no-sni") {
			t.Fatalf("block log: %+v", ev)
		}
	})
	t.Run("SSH over 443 to an unlisted address", func(t *testing.T) {
		before := len(h.dial.dialled())
		c, _, code := h.connect(t, "192.0.2.7:443")
		if code != 200 {
			t.Fatal(code)
		}
		io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("tunnel still open")
			}
		}
		if len(h.dial.dialled()) != before {
			t.Fatalf("dialled %v", h.dial.dialled()[before:])
		}
	})
	t.Run("an allowed address goes through", func(t *testing.T) {
		if err := noSNI(t, "192.0.2.8:443"); err != nil {
			t.Fatalf("allowed address: %v", err)
		}
	})
}

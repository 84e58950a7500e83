package proxy_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/internal/lockedbuf"
	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// testEngine is the embedded defaults plus a few test names, so tests
// decide with the real rules the agent ships. Compiling half a million
// built-in entries takes seconds under -race, so the plain rules are
// compiled once for the test binary; compiled categories are immutable
// and every test gets an engine of its own over them.
func testEngine(t testing.TB, extra func(*ruleset.Builder)) *policy.Engine {
	t.Helper()
	var cats []policy.Category
	var ss []policy.SearchEngine
	if extra == nil {
		plainRules.once.Do(func() { plainRules.cats, plainRules.safe, plainRules.err = compileTestRules(nil) })
		if plainRules.err != nil {
			t.Fatal(plainRules.err)
		}
		cats, ss = plainRules.cats, plainRules.safe
	} else {
		var err error
		if cats, ss, err = compileTestRules(extra); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := policy.New(policy.Config{Categories: cats, SafeSearch: ss, Profiles: []policy.Profile{defaults.Profile()}})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

var plainRules struct {
	once sync.Once
	cats []policy.Category
	safe []policy.SearchEngine
	err  error
}

func compileTestRules(extra func(*ruleset.Builder)) ([]policy.Category, []policy.SearchEngine, error) {
	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		return nil, nil, err
	}
	if _, err := b.AddList("adult", "test-adult.txt", strings.NewReader("blocked.test\nsni-blocked.test\n"), lists.Options{Format: lists.Domains}); err != nil {
		return nil, nil, err
	}
	if _, err := b.AddList("adult", "test-urls.txt", strings.NewReader("mixed.test/bad\n"), lists.Options{Format: lists.URLs}); err != nil {
		return nil, nil, err
	}
	if extra != nil {
		extra(&b)
	}
	cats, ss := b.Build()
	return cats, ss, nil
}

// events records block log events like the real log's queue would.
type events struct {
	mu sync.Mutex
	ev []blocklog.Event
}

func (e *events) Record(ev blocklog.Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
	return true
}

func (e *events) all() []blocklog.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]blocklog.Event(nil), e.ev...)
}

// dialer maps names to loopback test servers, so tests never leave the
// machine, and records every address asked for.
type dialer struct {
	mu     sync.Mutex
	routes map[string]string // "host:port" asked -> real address
	asked  []string
}

func (d *dialer) route(from, to string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.routes == nil {
		d.routes = map[string]string{}
	}
	d.routes[from] = to
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, addr)
	to, ok := d.routes[addr]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("test dialer: no route to %s", addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

func (d *dialer) dialled() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// harness is a running proxy on a loopback port.
type harness struct {
	addr     string
	url      *url.URL
	ev       *events
	dial     *dialer
	accepted *atomic.Int64
	logs     *syncBuffer
}

type syncBuffer = lockedbuf.Buffer

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// start runs a proxy with the test engine, the recording dialer (unless
// mod sets DialContext to nil after it) and a recording event log.
func start(t *testing.T, mod func(*proxy.Config)) *harness { return startTB(t, mod) }

func startB(b *testing.B) *harness { return startTB(b, nil) }

func startTB(t testing.TB, mod func(*proxy.Config)) *harness { return startP(t, mod, nil) }

// startP is start with a last say over the Proxy before it serves.
func startP(t testing.TB, mod func(*proxy.Config), pmod func(*proxy.Proxy)) *harness {
	t.Helper()
	eng := testEngine(t, nil)
	h := &harness{ev: &events{}, dial: &dialer{}, accepted: &atomic.Int64{}, logs: &syncBuffer{}}
	cfg := proxy.Config{
		Engine:      func() *policy.Engine { return eng },
		Log:         h.ev,
		DialContext: h.dial.DialContext,
		Logger:      slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pmod != nil {
		pmod(p)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, countingListener{ln, h.accepted}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	h.addr = ln.Addr().String()
	h.url = &url.URL{Scheme: "http", Host: h.addr}
	return h
}

// client is an HTTP client that uses the proxy and trusts ca.
func (h *harness) client(ca *x509.CertPool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:           http.ProxyURL(h.url),
			TLSClientConfig: &tls.Config{RootCAs: ca},
		},
		Timeout: 10 * time.Second,
	}
}

// connect opens a CONNECT tunnel by hand and returns the connection and the
// proxy's status code.
func (h *harness) connect(t *testing.T, authority string) (net.Conn, *bufio.Reader, int) {
	return h.connectB(t, authority)
}

func (h *harness) connectB(t testing.TB, authority string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", authority, authority)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading CONNECT answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return c, br, resp.StatusCode
}

// testCA is a CA and a leaf certificate for every name the tests use.
type testCA struct {
	pool *x509.CertPool
	cert tls.Certificate
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "GreenGate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "allowed.test"},
		DNSNames:     []string{"allowed.test", "trickle.test", "sni-blocked.test", "blocked.test", "www.google.com", "forcesafesearch.google.com"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testCA{pool: pool, cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// tlsOrigin is a real TLS server that answers every connection with
// "<name> sni=<server name>\n" after an HTTP-ish request line, or echoes
// raw bytes in echo mode. It records the raw bytes it read.
type tlsOrigin struct {
	name string
	ln   net.Listener
	echo bool
	mu   sync.Mutex
	raw  []byte // raw bytes read from the last connection
	conn atomic.Int64
}

func newTLSOriginB(b *testing.B, ca *testCA) string { return newTLSOrigin(b, ca, "E", true).addr() }

func newTLSOrigin(t testing.TB, ca *testCA, name string, echo bool) *tlsOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &tlsOrigin{name: name, ln: ln, echo: echo}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.conn.Add(1)
			go o.serve(c, ca)
		}
	}()
	return o
}

type recordingConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *[]byte
}

func (r recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	*r.buf = append(*r.buf, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (o *tlsOrigin) serve(c net.Conn, ca *testCA) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	o.mu.Lock()
	o.raw = nil
	o.mu.Unlock()
	tc := tls.Server(recordingConn{c, &o.mu, &o.raw}, &tls.Config{Certificates: []tls.Certificate{ca.cert}})
	if err := tc.Handshake(); err != nil {
		return
	}
	if o.echo {
		_, _ = io.Copy(tc, tc)
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(tc))
	if err != nil {
		return
	}
	body := fmt.Sprintf("%s sni=%s host=%s\n", o.name, tc.ConnectionState().ServerName, req.Host)
	fmt.Fprintf(tc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

func (o *tlsOrigin) addr() string { return o.ln.Addr().String() }

func (o *tlsOrigin) rawBytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]byte(nil), o.raw...)
}

// isClosed reports whether a TLS handshake failed because the proxy closed
// the tunnel.
func handshakeRefused(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "broken pipe"))
}

func policyDefaultProfile() policy.Profile { return defaults.Profile() }

// serveUntil serves p on a loopback port until the returned stop is
// called; stop returns what Serve returned, or an error when Serve has not
// returned within the shutdown grace period and 2 s more.
func serveUntil(t testing.TB, p *proxy.Proxy) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	return ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(proxy.DefaultShutdownTimeout + 2*time.Second):
			return errors.New("Serve did not return")
		}
	}
}

package proxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/localca"
	"github.com/greengate/greengate/agent/proxy"
)

func withCA(t *testing.T) (*localca.CA, *x509.CertPool, func(*proxy.Config)) {
	t.Helper()
	ca, err := localca.Open(localca.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM())
	return ca, pool, func(c *proxy.Config) { c.CA = ca }
}

// tlsThrough opens a CONNECT to authority and a TLS session for
// serverName inside it, trusting roots.
func tlsThrough(t *testing.T, h *harness, authority, serverName string, roots *x509.CertPool) (*tls.Conn, error) {
	t.Helper()
	c, br, code := h.connect(t, authority)
	if code != http.StatusOK {
		return nil, fmt.Errorf("CONNECT answered %d", code)
	}
	if br.Buffered() > 0 {
		t.Fatal("bytes after the CONNECT answer")
	}
	tc := tls.Client(c, &tls.Config{ServerName: serverName, RootCAs: roots})
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	return tc, nil
}

func tlsGet(t *testing.T, tc *tls.Conn, rd *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(tc, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A blocked HTTPS site shows the block page, in the browser's language,
// over TLS with a certificate from this machine's CA for that name; the
// connection keeps alive and takes pipelined requests; a Host header
// naming another site opens nothing; the block is logged.
func TestHTTPSBlockPage(t *testing.T) {
	t.Parallel()
	_, roots, on := withCA(t)
	h := start(t, on)
	tc, err := tlsThrough(t, h, "blocked.test:443", "blocked.test", roots)
	if err != nil {
		t.Fatalf("a browser trusting the local CA could not open the block page: %v", err)
	}
	defer tc.Close()
	if got := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "blocked.test" {
		t.Fatalf("block page certificate for %q", got)
	}
	rd := bufio.NewReader(tc)
	resp, body := tlsGet(t, tc, rd, "GET /some/page HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "blocked.test") || !strings.Contains(body, "lang=\"en\"") {
		t.Fatalf("block page: %d %q", resp.StatusCode, body)
	}
	// Pipelined: two requests in one write, the second in Chinese and
	// naming another host.
	io.WriteString(tc, "GET /a HTTP/1.1\r\nHost: blocked.test\r\n\r\nGET /b HTTP/1.1\r\nHost: allowed.test\r\nAccept-Language: zh-CN\r\n\r\n")
	for i, want := range []string{"lang=\"en\"", "lang=\"zh-CN\""} {
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			t.Fatalf("pipelined answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), want) || !strings.Contains(string(b), "blocked.test") {
			t.Fatalf("pipelined answer %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if d := h.dial.dialled(); len(d) != 0 {
		t.Fatalf("a terminated block connection dialled %v", d)
	}
	n := 0
	for _, ev := range h.ev.all() {
		if ev.Host == "blocked.test" && ev.Action == blocklog.ActionBlock {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d block events for one connection, want 1", n)
	}
}

// The "ask a parent" link works inside the terminated connection.
func TestHTTPSBlockPageAsk(t *testing.T) {
	t.Parallel()
	_, roots, on := withCA(t)
	h := start(t, on)
	tc, err := tlsThrough(t, h, "blocked.test:443", "blocked.test", roots)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	rd := bufio.NewReader(tc)
	_, page := tlsGet(t, tc, rd, "GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
	i := strings.Index(page, "href=\"")
	if i < 0 {
		t.Fatalf("no link on the block page: %q", page)
	}
	link := page[i+6:]
	link = link[:strings.IndexByte(link, '"')]
	link = strings.ReplaceAll(link, "&amp;", "&")
	link = strings.TrimPrefix(strings.TrimPrefix(link, "https://blocked.test"), "http://blocked.test")
	resp, _ := tlsGet(t, tc, rd, "GET "+link+" HTTP/1.1\r\nHost: blocked.test\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ask link %q answered %d", link, resp.StatusCode)
	}
	asked := false
	for _, ev := range h.ev.all() {
		asked = asked || ev.Action == blocklog.ActionRequest && ev.Host == "blocked.test"
	}
	if !asked {
		t.Fatal("the request from inside HTTPS was not recorded")
	}
}

// A client that refuses the certificate (a pinning app, a browser that
// does not trust the CA) is remembered: the next CONNECT to that host is
// refused plainly, as with the CA off.
func TestHTTPSBlockRefusedCertRemembered(t *testing.T) {
	t.Parallel()
	_, _, on := withCA(t)
	h := start(t, on)
	if _, err := tlsThrough(t, h, "blocked.test:443", "blocked.test", x509.NewCertPool()); err == nil {
		t.Fatal("a client that does not trust the CA completed a handshake")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, code := h.connect(t, "blocked.test:443")
		if code == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a refused certificate, CONNECT still answered %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(h.logs.String(), "refused the block-page certificate") {
		t.Error("the refusal was not logged")
	}
}

// Allowed HTTPS is never terminated, CA or not: the browser sees the
// origin's own certificate, byte for byte.
func TestHTTPSAllowedNeverTerminated(t *testing.T) {
	t.Parallel()
	_, _, on := withCA(t)
	h := start(t, on)
	tca := newTestCA(t)
	o := newTLSOrigin(t, tca, "origin", false)
	h.dial.route("allowed.test:443", o.addr())
	tc, err := tlsThrough(t, h, "allowed.test:443", "allowed.test", tca.pool)
	if err != nil {
		t.Fatalf("allowed tunnel: %v", err)
	}
	defer tc.Close()
	got := sha256.Sum256(tc.ConnectionState().PeerCertificates[0].Raw)
	want := sha256.Sum256(tca.cert.Certificate[0])
	if got != want {
		t.Fatal("an allowed site was answered with another certificate than the origin's")
	}
	resp, body := tlsGet(t, tc, bufio.NewReader(tc), "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "origin sni=allowed.test") {
		t.Fatalf("allowed answer %d %q", resp.StatusCode, body)
	}
}

// A blocked server name inside an allowed CONNECT gets the page too, with
// a certificate for the server name that was blocked.
func TestHTTPSBlockPageForSNI(t *testing.T) {
	t.Parallel()
	_, roots, on := withCA(t)
	h := start(t, on)
	tc, err := tlsThrough(t, h, "allowed.test:443", "sni-blocked.test", roots)
	if err != nil {
		t.Fatalf("blocked SNI: %v", err)
	}
	defer tc.Close()
	if got := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "sni-blocked.test" {
		t.Fatalf("certificate for %q, want the blocked server name", got)
	}
	resp, body := tlsGet(t, tc, bufio.NewReader(tc), "GET / HTTP/1.1\r\nHost: sni-blocked.test\r\n\r\n")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sni-blocked.test") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// Hostile input inside a terminated connection: a 1 MB header ends it
// with 431 and no growth; a body ends it after the answer.
func TestHTTPSBlockPageHostile(t *testing.T) {
	t.Parallel()
	_, roots, on := withCA(t)
	h := start(t, on)
	tc, err := tlsThrough(t, h, "blocked.test:443", "blocked.test", roots)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	rd := bufio.NewReader(tc)
	go func() {
		io.WriteString(tc, "GET / HTTP/1.1\r\nHost: blocked.test\r\nX-Big: ")
		tc.Write(bytes.Repeat([]byte("a"), 1<<20))
		io.WriteString(tc, "\r\n\r\n")
	}()
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("1 MB header: %v %v", resp, err)
	}

	tc2, err := tlsThrough(t, h, "blocked.test:443", "blocked.test", roots)
	if err != nil {
		t.Fatal(err)
	}
	defer tc2.Close()
	rd2 := bufio.NewReader(tc2)
	resp, _ = tlsGet(t, tc2, rd2, "POST / HTTP/1.1\r\nHost: blocked.test\r\nContent-Length: 5\r\n\r\nhello")
	if resp.StatusCode != http.StatusForbidden || !resp.Close {
		t.Fatalf("POST: %d close=%v", resp.StatusCode, resp.Close)
	}
}

// With no CA, a blocked CONNECT is refused at once, as always.
func TestHTTPSBlockWithoutCA(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	if _, _, code := h.connect(t, "blocked.test:443"); code != http.StatusForbidden {
		t.Fatalf("CONNECT to a blocked host without a CA: %d", code)
	}
}

// BenchmarkHTTPSBlockPage is what a child waits for a blocked HTTPS site
// with the CA on: CONNECT, a TLS handshake with a cached leaf, one GET
// and the block page, on a new connection each time (a browser's first
// visit), against the bare refusal without a CA.
func BenchmarkHTTPSBlockPage(b *testing.B) {
	ca, err := localca.Open(localca.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM())
	for _, mode := range []string{"page", "refused"} {
		b.Run(mode, func(b *testing.B) {
			h := startTB(b, func(c *proxy.Config) {
				if mode == "page" {
					c.CA = ca
				}
			})
			for b.Loop() {
				c, br, code := h.connectB(b, "blocked.test:443")
				if mode == "refused" {
					if code != http.StatusForbidden {
						b.Fatalf("CONNECT %d", code)
					}
					c.Close()
					continue
				}
				_ = br
				tc := tls.Client(c, &tls.Config{ServerName: "blocked.test", RootCAs: roots})
				io.WriteString(tc, "GET / HTTP/1.1\r\nHost: blocked.test\r\nConnection: close\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
				if err != nil || resp.StatusCode != http.StatusForbidden {
					b.Fatalf("%v %v", resp, err)
				}
				io.Copy(io.Discard, resp.Body)
				tc.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/visit")
		})
	}
}

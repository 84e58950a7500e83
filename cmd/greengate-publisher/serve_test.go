package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/internal/lockedbuf"
	"github.com/greengate/greengate/internal/synth"
	"github.com/greengate/greengate/internal/testcert"
	"github.com/greengate/greengate/rules/bundle"
)

func TestServeHandler(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p(".example-school.bundle.tmp123"), []byte("half"), 0o644)
	os.Mkdir(p("sub.bundle"), 0o755)
	srv := httptest.NewServer(newBundleHandler(dir, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	good, _ := os.ReadFile(p("v5.bundle"))

	get := func(method, path string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		// Ask for gzip explicitly, so the transport does not hide
		// whether the server used it.
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	first := get("GET", "/v5.bundle")
	etag := first.Header.Get("ETag")
	if body, _ := io.ReadAll(first.Body); first.StatusCode != 200 || !bytes.Equal(body, good) {
		t.Fatalf("GET: %d, %d bytes", first.StatusCode, len(body))
	}
	if !regexp.MustCompile(`^"[A-Za-z0-9_-]{43}"$`).MatchString(etag) || first.Header.Get("Content-Encoding") != "" {
		t.Errorf("ETag %q (want strong, a hash), Content-Encoding %q", etag, first.Header.Get("Content-Encoding"))
	}

	tests := []struct {
		name   string
		method string
		path   string
		hdr    []string
		code   int
	}{
		{"conditional, unchanged", "GET", "/v5.bundle", []string{"If-None-Match", etag}, 304},
		{"conditional, weak form matches too", "GET", "/v5.bundle", []string{"If-None-Match", "W/" + etag}, 304},
		{"conditional, other tag", "GET", "/v5.bundle", []string{"If-None-Match", `"other"`}, 200},
		{"HEAD", "HEAD", "/v5.bundle", nil, 200},
		{"health", "GET", "/healthz", nil, 200},
		{"POST", "POST", "/v5.bundle", nil, 405},
		{"missing", "GET", "/v6.bundle", nil, 404},
		{"temporary file", "GET", "/.example-school.bundle.tmp123", nil, 404},
		{"private key", "GET", "/root.key", nil, 404},
		{"source", "GET", "/v5.json", nil, 404},
		{"traversal", "GET", "/..%2f..%2fetc%2fpasswd.bundle", nil, 404},
		{"directory named .bundle", "GET", "/sub.bundle", nil, 404},
		{"index", "GET", "/", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp := get(tt.method, tt.path, tt.hdr...); resp.StatusCode != tt.code {
				t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.code)
			}
		})
	}

	// A re-signed bundle renamed into place gets a new tag at once.
	writeSource(t, p("v6.json"), 6, `"bet365.com"`)
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v6.json"), "-out", p("v5.bundle"))
	if resp := get("GET", "/v5.bundle", "If-None-Match", etag); resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after re-signing: %d, ETag %q unchanged", resp.StatusCode, etag)
	}
}

type syncBuffer = lockedbuf.Buffer

// startServe runs "serve" in-process on a free loopback port and returns
// its base URL and a stop func that waits for a graceful exit.
func startServe(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), &stdout, &stderr) }()
	re := regexp.MustCompile(`at (https?://[0-9.:]+)/`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			stop := func() int {
				cancel()
				select {
				case code := <-done:
					return code
				case <-time.After(10 * time.Second):
					t.Fatal("serve did not stop")
					return -1
				}
			}
			t.Cleanup(func() { cancel() })
			return m[1], stop
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServeEndToEnd publishes with the CLI and lets a real agent updater
// pick the bundles up: install, 304 on the next poll, a new version, and
// an attacker's replay of the old one.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	pub := t.TempDir()
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v5.json"), "-out", filepath.Join(pub, "example-school.bundle"), "-now", now)
	base, stop := startServe(t, pub)

	roots, err := readRoots([]string{p("root.pub")})
	if err != nil {
		t.Fatal(err)
	}
	var changes []uint64
	u, err := update.New(update.Config{
		Dir:     t.TempDir(),
		Sources: []update.Source{{URL: base + "/example-school.bundle", Publisher: "example-school", Roots: roots}},
		Clock:   func() time.Time { return mustTime(t, now) },
		Jitter:  -1,
		Timeout: 5 * time.Second,
		OnChange: func(bs []*bundle.Bundle) {
			for _, b := range bs {
				changes = append(changes, b.Version)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	u.Load()
	ctx := context.Background()
	for i := 0; i < 2; i++ { // the second poll is a 304
		if err := u.CheckNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	writeSource(t, p("v6.json"), 6, `"bet365.com", "new-casino.example"`)
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v6.json"), "-out", filepath.Join(pub, "example-school.bundle"), "-now", now)
	if err := u.CheckNow(ctx); err != nil {
		t.Fatal(err)
	}
	// The attacker (or a stale mirror) puts v5 back.
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v5.json"), "-out", filepath.Join(pub, "example-school.bundle"), "-now", now)
	if err := u.CheckNow(ctx); err == nil || update.FailedCheck(err) != "version newer than installed" {
		t.Errorf("replayed v5: %v", err)
	}
	if fmt.Sprint(changes) != "[5 6]" || u.Status()[0].Version != 6 {
		t.Errorf("OnChange saw versions %v; installed %d", changes, u.Status()[0].Version)
	}
	if code := stop(); code != exitOK {
		t.Errorf("serve exit %d after cancel", code)
	}
}

// TestServeTLS serves over HTTPS with a certificate from files, as a
// school would, and the updater fetches through a client that trusts it.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	pool := writeTestCert(t, p("tls.crt"), p("tls.key"))
	pub := t.TempDir()
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v5.json"), "-out", filepath.Join(pub, "example-school.bundle"), "-now", now)
	base, stop := startServe(t, pub, "-tls-cert", p("tls.crt"), "-tls-key", p("tls.key"))
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s", base)
	}
	roots, _ := readRoots([]string{p("root.pub")})
	u, err := update.New(update.Config{
		Dir:        t.TempDir(),
		Sources:    []update.Source{{URL: base + "/example-school.bundle", Publisher: "example-school", Roots: roots}},
		Clock:      func() time.Time { return mustTime(t, now) },
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		Timeout:    5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.CheckNow(context.Background()); err != nil || u.Status()[0].Version != 5 {
		t.Fatalf("over TLS: %v, version %d", err, u.Status()[0].Version)
	}
	stop()
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and
// returns a pool trusting it.
func writeTestCert(t *testing.T, certPath, keyPath string) *x509.CertPool {
	t.Helper()
	cert, pool, err := testcert.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return pool
}

// TestServeNoGzipGain backs the handler's choice not to gzip: on a bundle
// of 30k realistic names, gzip saves (next to) nothing over the zstd
// payload.
func TestServeNoGzipGain(t *testing.T) {
	t.Parallel()
	data := signSynth(t, 30_000)
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.DefaultCompression)
	zw.Write(data)
	zw.Close()
	ratio := float64(gz.Len()) / float64(len(data))
	t.Logf("bundle %d bytes, gzipped %d bytes (%.3f)", len(data), gz.Len(), ratio)
	if ratio < 0.98 {
		t.Errorf("gzip makes the bundle %.3f of its size: worth serving gzipped after all", ratio)
	}
}

// signSynth signs a bundle of n synthetic domains with fresh keys.
func signSynth(t testing.TB, n int) []byte {
	t.Helper()
	root, _ := bundle.GenerateKey(rand.Reader, "bench-root")
	key, _ := bundle.GenerateKey(rand.Reader, "bench-signing")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cert, err := bundle.Certify(root, key.Public(), "bench", t0, t0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{Version: 1, Publisher: "bench", Created: t0, Expires: t0.AddDate(0, 6, 0),
		Categories: []bundle.Category{{ID: "adult", Lists: []bundle.List{{Source: "synth", Domains: synth.Domains(7, n)}}}}}
	b.Normalize()
	data, err := bundle.Sign(b, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestServeRebuild runs serve with -rebuild against an upstream list that
// changes, breaks and heals; the agent updater only ever sees complete,
// newer bundles.
func TestServeRebuild(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	var mu sync.Mutex
	list, broken, hits := "a.example\n", false, 0
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		if broken {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		io.WriteString(w, list)
	}))
	t.Cleanup(upstream.Close)
	setUpstream := func(l string, b bool) int {
		mu.Lock()
		defer mu.Unlock()
		list, broken = l, b
		return hits
	}
	hitsNow := func() int { mu.Lock(); defer mu.Unlock(); return hits }
	os.WriteFile(p("upstream.json"), []byte(`{"version": 1, "publisher": "example-school", "valid_for": "720h",
	  "categories": [{"id": "gambling", "lists": [{"source": "upstream", "url": "`+upstream.URL+`/list"}]}]}`), 0o644)
	pub := t.TempDir()
	base, stop := startServe(t, pub, "-rebuild", p("upstream.json"), "-every", "20ms", "-key", p("signing.key"), "-cert", p("signing.cert"), "-now", now)
	defer stop()

	roots, _ := readRoots([]string{p("root.pub")})
	var latest *bundle.Bundle
	u, err := update.New(update.Config{
		Dir:      t.TempDir(),
		Sources:  []update.Source{{URL: base + "/example-school.bundle", Publisher: "example-school", Roots: roots}},
		Clock:    func() time.Time { return mustTime(t, now) },
		Timeout:  5 * time.Second,
		OnChange: func(bs []*bundle.Bundle) { latest = bs[0] },
	})
	if err != nil {
		t.Fatal(err)
	}
	domains := func() string {
		if latest == nil {
			return ""
		}
		return strings.Join(latest.Categories[0].Lists[0].Domains, " ")
	}
	poll := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			u.CheckNow(context.Background())
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; have %q", what, domains())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	poll("first build", func() bool { return domains() == "a.example" })
	first := latest.Version
	setUpstream("a.example\nb.example\n", false)
	poll("rebuild with the new entry", func() bool { return domains() == "a.example b.example" })
	if latest.Version <= first {
		t.Errorf("version %d after %d", latest.Version, first)
	}
	served, _ := os.ReadFile(filepath.Join(pub, "example-school.bundle"))

	// Upstream breaks, then comes back unchanged: several rebuilds later
	// the served bundle is still the same file.
	h := setUpstream("a.example\nb.example\n", true)
	poll("failed rebuilds", func() bool { return hitsNow() >= h+3 })
	h = setUpstream("a.example\nb.example\n", false)
	poll("unchanged rebuilds", func() bool { return hitsNow() >= h+3 })
	if again, _ := os.ReadFile(filepath.Join(pub, "example-school.bundle")); !bytes.Equal(again, served) {
		t.Error("a failed or unchanged rebuild replaced the served bundle")
	}
	if st := u.Status()[0]; st.LastError != nil {
		t.Errorf("updater saw %v", st.LastError)
	}
}

package update_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
)

const vectorDir = "../../testdata/bundles"

// vectorNow is the fixed time every vector assumes (testdata/bundles/README.md).
var vectorNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func clock() time.Time { return vectorNow }

type vector struct {
	File      string   `json:"file"`
	Roots     []string `json:"roots"`
	Installed uint64   `json:"installed"`
	Error     string   `json:"error"`
	Version   uint64   `json:"version"`
	Note      string   `json:"note"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	var m struct {
		Now     time.Time `json:"now"`
		Vectors []vector  `json:"vectors"`
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(vectorDir, "vectors.json")), &m); err != nil {
		t.Fatal(err)
	}
	if !m.Now.Equal(vectorNow) {
		t.Fatalf("vectors assume now = %v, tests use %v", m.Now, vectorNow)
	}
	return m.Vectors
}

var sentinels = map[string]error{
	"ErrUnknownKey":        bundle.ErrUnknownKey,
	"ErrBadSignature":      bundle.ErrBadSignature,
	"ErrCertExpired":       bundle.ErrCertExpired,
	"ErrPublisherMismatch": bundle.ErrPublisherMismatch,
	"ErrExpired":           bundle.ErrExpired,
	"ErrNotYetValid":       bundle.ErrNotYetValid,
	"ErrRollback":          bundle.ErrRollback,
	"ErrMalformed":         bundle.ErrMalformed,
	"ErrTooLarge":          bundle.ErrTooLarge,
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vectorBytes(t testing.TB, name string) []byte {
	return readFile(t, filepath.Join(vectorDir, name))
}

func roots(t testing.TB, files ...string) *bundle.Roots {
	t.Helper()
	var text strings.Builder
	for _, f := range files {
		text.Write(vectorBytes(t, f))
		text.WriteByte('\n')
	}
	r, err := bundle.ParseRoots(text.String())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signer signs bundles for one publisher with a certified test key.
type signer struct {
	key  *bundle.PrivateKey
	cert *bundle.Certificate
}

// vendorSigner is the vectors' signing key: publisher "greengate-test",
// certified by root.pub for 2026.
func vendorSigner(t testing.TB) signer {
	t.Helper()
	key, err := bundle.ParsePrivateKey(string(vectorBytes(t, "signing.key")))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := bundle.ParseCertificateText(string(vectorBytes(t, "signing.cert")))
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, cert}
}

// newSigner makes a signing key for publisher, certified for 2026 by the
// test root in rootFile ("root.key" or "root2.key").
func newSigner(t testing.TB, rootFile, publisher string) signer {
	t.Helper()
	root, err := bundle.ParsePrivateKey(string(vectorBytes(t, rootFile)))
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("update test signer " + publisher + rootFile))
	key, err := bundle.GenerateKey(bytes.NewReader(seed[:]), publisher+"-signing")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := bundle.Certify(root, key.Public(), publisher,
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, cert}
}

// sign makes a bundle of version v, valid 2026-02-01 to 2026-06-01,
// blocking domains in category cat.
func (s signer) sign(t testing.TB, v uint64, cat string, domains ...string) []byte {
	t.Helper()
	b := &bundle.Bundle{
		Version:   v,
		Created:   time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Expires:   time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		Publisher: s.cert.Publisher,
		Categories: []bundle.Category{{
			ID:    cat,
			Name:  bundle.Text{EN: cat, ZH: cat},
			Lists: []bundle.List{{Source: "test", Domains: domains}},
		}},
	}
	b.Normalize()
	data, err := bundle.Sign(b, s.key, s.cert)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// origin is a bundle server on loopback: a real net/http server whose
// answer the test changes between checks.
type origin struct {
	*httptest.Server

	mu      sync.Mutex
	body    map[string][]byte // path -> bundle
	mode    string            // "", "500", "hang", "trickle", "truncate", "chunked-half", "huge-length", "huge-chunked", "no-etag"
	hits    int
	full    int      // 200 answers
	inm     []string // If-None-Match headers received
	release chan struct{}
}

func newOrigin(t testing.TB) *origin {
	o := &origin{body: map[string][]byte{}, release: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(func() {
		close(o.release) // unblock "hang" handlers before Close waits on them
		o.Close()
	})
	return o
}

func (o *origin) set(path string, data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if data == nil {
		delete(o.body, path)
		return
	}
	o.body[path] = data
}

func (o *origin) setMode(m string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mode = m
}

func (o *origin) stats() (hits, full int, inm []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits, o.full, append([]string(nil), o.inm...)
}

func etagOf(b []byte) string {
	h := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(h[:]) + `"`
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits++
	if v := r.Header.Get("If-None-Match"); v != "" {
		o.inm = append(o.inm, v)
	}
	body, ok := o.body[r.URL.Path]
	mode := o.mode
	o.mu.Unlock()
	switch mode {
	case "500":
		http.Error(w, "upstream broke", http.StatusInternalServerError)
		return
	case "hang":
		select {
		case <-r.Context().Done():
		case <-o.release:
		}
		return
	case "huge-length":
		w.Header().Set("Content-Length", fmt.Sprint(1<<40))
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		return
	case "trickle":
		// Headers at once, then a byte now and then for ever: only the
		// whole-check deadline stops it.
		w.WriteHeader(http.StatusOK)
		for r.Context().Err() == nil {
			w.Write([]byte{0x47})
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-o.release:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		return
	case "huge-chunked":
		w.WriteHeader(http.StatusOK)
		chunk := bytes.Repeat([]byte{0xAA}, 64<<10)
		for i := 0; i < 64 && r.Context().Err() == nil; i++ { // 4 MiB, over the tests' cap
			w.Write(chunk)
		}
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	if mode != "no-etag" {
		tag := etagOf(body)
		w.Header().Set("ETag", tag)
		if r.Header.Get("If-None-Match") == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	o.mu.Lock()
	o.full++
	o.mu.Unlock()
	switch mode {
	case "truncate":
		// Declares the whole file, sends half and hangs up.
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		return
	case "chunked-half":
		// No length declared: the cut can only be seen in the bundle.
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		return
	}
	w.Write(body)
}

// newUpdater makes an Updater on dir with one source per publisher.
func newUpdater(t testing.TB, dir string, mod func(*update.Config), srcs ...update.Source) *update.Updater {
	t.Helper()
	cfg := update.Config{Dir: dir, Sources: srcs, Clock: clock, Jitter: -1, Timeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	u, err := update.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func vendorSource(t testing.TB, o *origin, rootFiles ...string) update.Source {
	if len(rootFiles) == 0 {
		rootFiles = []string{"root.pub"}
	}
	return update.Source{URL: o.URL + "/vendor.bundle", Publisher: "greengate-test", Roots: roots(t, rootFiles...)}
}

func check(t testing.TB, u *update.Updater) error {
	t.Helper()
	return u.CheckNow(context.Background())
}

// installedVersion is the version Status reports for source i.
func installedVersion(u *update.Updater, i int) uint64 { return u.Status()[i].Version }

// onDisk returns the bytes of name in dir, nil if missing.
func onDisk(dir, name string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	return b
}

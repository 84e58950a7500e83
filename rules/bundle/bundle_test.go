package bundle_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

const vectorDir = "../../testdata/bundles"

type vector struct {
	File      string   `json:"file"`
	Roots     []string `json:"roots"`
	Installed uint64   `json:"installed"`
	Error     string   `json:"error"`
	Version   uint64   `json:"version"`
	Note      string   `json:"note"`
}

type manifest struct {
	Now     time.Time `json:"now"`
	Vectors []vector  `json:"vectors"`
}

// sentinels maps the error names used in vectors.json.
var sentinels = map[string]error{
	"ErrMalformed":         bundle.ErrMalformed,
	"ErrTooLarge":          bundle.ErrTooLarge,
	"ErrUnknownKey":        bundle.ErrUnknownKey,
	"ErrBadSignature":      bundle.ErrBadSignature,
	"ErrCertExpired":       bundle.ErrCertExpired,
	"ErrPublisherMismatch": bundle.ErrPublisherMismatch,
	"ErrExpired":           bundle.ErrExpired,
	"ErrNotYetValid":       bundle.ErrNotYetValid,
	"ErrRollback":          bundle.ErrRollback,
}

// isTyped reports whether err is one of the package's verdict errors.
func isTyped(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatalf("reading vector: %v", err)
	}
	return b
}

func loadManifest(t testing.TB) manifest {
	var m manifest
	if err := json.Unmarshal(readVector(t, "vectors.json"), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func roots(t testing.TB, files ...string) *bundle.Roots {
	t.Helper()
	var text []byte
	for _, f := range files {
		text = append(text, readVector(t, f)...)
	}
	r, err := bundle.ParseRoots(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOpenVectors(t *testing.T) {
	t.Parallel()
	m := loadManifest(t)
	for _, v := range m.Vectors {
		t.Run(v.File+"/"+v.Error, func(t *testing.T) {
			t.Parallel()
			b, err := bundle.Open(bytes.NewReader(readVector(t, v.File)), roots(t, v.Roots...), m.Now)
			if err == nil {
				err = bundle.CheckVersion(v.Installed, b)
			}
			if v.Error == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				if b.Version != v.Version || b.Cert == nil || b.Publisher != b.Cert.Publisher {
					t.Errorf("version %d cert %v", b.Version, b.Cert)
				}
				return
			}
			want := sentinels[v.Error]
			if want == nil {
				t.Fatalf("unknown error name %q in vectors.json", v.Error)
			}
			if !errors.Is(err, want) {
				t.Fatalf("want %s, got %v", v.Error, err)
			}
		})
	}
}

func TestGoodContent(t *testing.T) {
	t.Parallel()
	m := loadManifest(t)
	b, err := bundle.Open(bytes.NewReader(readVector(t, "good.bundle")), roots(t, "root.pub"), m.Now)
	if err != nil {
		t.Fatal(err)
	}
	adult := b.Category("adult")
	if adult == nil || adult.Name.ZH != "成人内容" || len(adult.Lists) != 2 {
		t.Fatalf("adult category: %+v", adult)
	}
	if got := b.Counts(); got != (bundle.Counts{Domains: 13, URLs: 4, Allow: 4}) {
		t.Errorf("counts %+v", got)
	}
	if b.Category("violence") != nil {
		t.Error("found a category that is not there")
	}
	var yt *bundle.Engine
	for i := range b.SafeSearch {
		if b.SafeSearch[i].Name == "youtube" {
			yt = &b.SafeSearch[i]
		}
	}
	if yt == nil || yt.Target != "restrict.youtube.com" || yt.ModerateTarget != "restrictmoderate.youtube.com" {
		t.Errorf("youtube engine: %+v", yt)
	}
}

// An attacker on the path changes bytes. No single changed byte may
// produce an accepted bundle, and every refusal must be typed.
func TestEveryByteFlipped(t *testing.T) {
	t.Parallel()
	good := readVector(t, "good.bundle")
	r := roots(t, "root.pub")
	now := loadManifest(t).Now
	for _, mask := range []byte{0x01, 0x80, 0xff} {
		for i := range good {
			bad := bytes.Clone(good)
			bad[i] ^= mask
			b, err := bundle.Open(bytes.NewReader(bad), r, now)
			if err == nil || b != nil {
				t.Fatalf("byte %d ^ %#x: accepted", i, mask)
			}
			if !isTyped(err) {
				t.Fatalf("byte %d ^ %#x: untyped error %v", i, mask, err)
			}
		}
	}
}

func TestTruncatedAtEveryLength(t *testing.T) {
	t.Parallel()
	good := readVector(t, "good.bundle")
	r := roots(t, "root.pub")
	now := loadManifest(t).Now
	for n := range len(good) {
		b, err := bundle.Open(bytes.NewReader(good[:n]), r, now)
		var me *bundle.MalformedError
		if b != nil || !errors.Is(err, bundle.ErrMalformed) || !errors.As(err, &me) {
			t.Fatalf("length %d: got %v", n, err)
		}
	}
	if _, err := bundle.Open(bytes.NewReader(append(bytes.Clone(good), 0)), r, now); !errors.Is(err, bundle.ErrMalformed) {
		t.Errorf("trailing byte: got %v", err)
	}
}

// countingReader is an endless stream that counts what was read from it.
type countingReader struct {
	prefix []byte
	n      int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k := copy(p, c.prefix)
	c.prefix = c.prefix[k:]
	clear(p[k:])
	c.n += int64(len(p))
	return len(p), nil
}

// A hostile server streams forever: Open must stop near the declared size
// and never read more than MaxBundleSize+1 bytes.
func TestEndlessStream(t *testing.T) {
	t.Parallel()
	good := readVector(t, "good.bundle")
	r := &countingReader{prefix: good}
	_, err := bundle.Open(r, roots(t, "root.pub"), loadManifest(t).Now)
	if !errors.Is(err, bundle.ErrMalformed) {
		t.Fatalf("got %v", err)
	}
	if r.n > int64(len(good))+64<<10 {
		t.Errorf("read %d bytes for a %d-byte bundle", r.n, len(good))
	}
}

func TestDecompressionBombIsCheap(t *testing.T) {
	bomb := readVector(t, "decompression-bomb.bundle")
	r := roots(t, "root.pub")
	now := loadManifest(t).Now
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := bundle.Open(bytes.NewReader(bomb), r, now)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, bundle.ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	// The bomb inflates to 512 MiB; refusing it must cost a few blocks.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", alloc)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	now := loadManifest(t).Now
	tests := []struct {
		name  string
		file  string
		roots []string
		want  error
	}{
		{"old root, both pinned", "good.bundle", []string{"root.pub", "root2.pub"}, nil},
		{"new root, both pinned", "good-root2.bundle", []string{"root.pub", "root2.pub"}, nil},
		{"new root, only it pinned", "good-root2.bundle", []string{"root2.pub"}, nil},
		{"old root retired", "good.bundle", []string{"root2.pub"}, bundle.ErrUnknownKey},
		{"new root not yet pinned", "good-root2.bundle", []string{"root.pub"}, bundle.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bundle.Open(bytes.NewReader(readVector(t, tt.file)), roots(t, tt.roots...), now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	good := readVector(t, "good.bundle")
	r := roots(t, "root.pub")
	// good.bundle: created 2026-02-01, expires 2026-06-01; its signing key
	// is certified for 2026-01-01..2027-01-01.
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"at creation", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), nil},
		{"second before creation", time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC), bundle.ErrNotYetValid},
		{"second before expiry", time.Date(2026, 5, 31, 23, 59, 59, 0, time.UTC), nil},
		{"at expiry", time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), bundle.ErrExpired},
		{"after the key's period", time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC), bundle.ErrCertExpired},
		{"before the key's period", time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), bundle.ErrCertExpired},
		{"other time zone, same instant", time.Date(2026, 6, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600)), bundle.ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := bundle.Open(bytes.NewReader(good), r, tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || (err != nil) != (b == nil) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

// TestOpenLapsed: a bundle the agent installed keeps its signature chain
// checked after it (and its signing key's period) expired; only the
// expiry is let go.
func TestOpenLapsed(t *testing.T) {
	t.Parallel()
	m := loadManifest(t)
	tests := []struct {
		name, file string
		roots      []string
		now        time.Time
		want       error
	}{
		{"good, in force", "good.bundle", []string{"root.pub"}, m.Now, nil},
		{"good, expired since", "good.bundle", []string{"root.pub"}, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), nil},
		{"good, its key's period over too", "good.bundle", []string{"root.pub"}, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		{"expired vector", "expired.bundle", []string{"root.pub"}, m.Now, nil},
		{"not yet valid stays refused", "good.bundle", []string{"root.pub"}, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), bundle.ErrNotYetValid},
		{"bad signature stays refused", "bad-signature.bundle", []string{"root.pub"}, m.Now, bundle.ErrBadSignature},
		{"unpinned root stays refused", "good-root2.bundle", []string{"root.pub"}, m.Now, bundle.ErrUnknownKey},
		{"unknown key stays refused", "unknown-key.bundle", []string{"root.pub", "root2.pub"}, m.Now, bundle.ErrUnknownKey},
		{"truncated stays refused", "truncated.bundle", []string{"root.pub"}, m.Now, bundle.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := bundle.OpenLapsed(bytes.NewReader(readVector(t, tt.file)), roots(t, tt.roots...), tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || (err != nil) != (b == nil) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			if err == nil && b.Version == 0 {
				t.Fatal("no version decoded")
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		installed uint64
		version   uint64
		want      error
	}{
		{"first install", 0, 1, nil},
		{"newer", 9, 10, nil},
		{"same version replayed", 10, 10, bundle.ErrRollback},
		{"older replayed", 10, 9, bundle.ErrRollback},
		{"max installed", ^uint64(0), ^uint64(0), bundle.ErrRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := bundle.CheckVersion(tt.installed, &bundle.Bundle{Version: tt.version})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func testKeys(t testing.TB) (*bundle.PrivateKey, *bundle.Certificate) {
	t.Helper()
	key, err := bundle.ParsePrivateKey(string(readVector(t, "signing.key")))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := bundle.ParseCertificateText(string(readVector(t, "signing.cert")))
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func smallBundle(publisher string) *bundle.Bundle {
	b := &bundle.Bundle{
		Version:   3,
		Created:   time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Expires:   time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Publisher: publisher,
		Categories: []bundle.Category{{ID: "drugs", Name: bundle.Text{ZH: "毒品", EN: "Drugs"},
			Lists: []bundle.List{{Source: "ut1/drugs/domains", Domains: []string{"b.example", "a.example", "a.example"}}}}},
	}
	b.Normalize()
	return b
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	key, cert := testKeys(t)
	root, err := bundle.ParsePrivateKey(string(readVector(t, "root.key")))
	if err != nil {
		t.Fatal(err)
	}
	unsorted := smallBundle("greengate-test")
	unsorted.Categories[0].Lists[0].Domains = []string{"b.example", "a.example"}
	tests := []struct {
		name string
		b    *bundle.Bundle
		key  *bundle.PrivateKey
		want error
	}{
		{"other publisher", smallBundle("someone-else"), key, bundle.ErrPublisherMismatch},
		{"expires after the key's period", func() *bundle.Bundle {
			b := smallBundle("greengate-test")
			b.Expires = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
			return b
		}(), key, bundle.ErrCertExpired},
		{"root key instead of the certified key", smallBundle("greengate-test"), root, nil},
		{"not normalized", unsorted, key, nil},
		{"uppercase domain", func() *bundle.Bundle {
			b := smallBundle("greengate-test")
			b.Categories[0].Lists[0].Domains = []string{"Example.com"}
			return b
		}(), key, nil},
		{"URL with scheme", func() *bundle.Bundle {
			b := smallBundle("greengate-test")
			b.Categories[0].Lists[0].URLs = []string{"http://example.com/x"}
			return b
		}(), key, nil},
		{"version zero", func() *bundle.Bundle {
			b := smallBundle("greengate-test")
			b.Version = 0
			return b
		}(), key, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := bundle.Sign(tt.b, tt.key, cert)
			if err == nil || out != nil {
				t.Fatal("signed")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func TestSignOpenRoundTrip(t *testing.T) {
	t.Parallel()
	key, cert := testKeys(t)
	b := smallBundle("greengate-test")
	signed, err := bundle.Sign(b, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bundle.Open(bytes.NewReader(signed), roots(t, "root.pub"), time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Categories[0].Lists[0].Domains; len(d) != 2 || d[0] != "a.example" {
		t.Errorf("domains %q", d)
	}
	again, err := bundle.Sign(got, key, cert)
	if err != nil || !bytes.Equal(again, signed) {
		t.Errorf("re-signing the opened bundle changed the bytes (err %v)", err)
	}
	insp, err := bundle.Inspect(bytes.NewReader(signed))
	if err != nil || insp.Version != 3 {
		t.Errorf("inspect: %v", err)
	}
}

// A reader error is reported as such, not as a verdict.
func TestReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	good := readVector(t, "good.bundle")
	_, err := bundle.Open(io.MultiReader(bytes.NewReader(good[:300]), errReader{boom}), roots(t, "root.pub"), loadManifest(t).Now)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func FuzzOpen(f *testing.F) {
	m := loadManifest(f)
	signed := map[string]bool{}
	for _, v := range m.Vectors {
		data := readVector(f, v.File)
		f.Add(data)
		if v.Error == "" || v.Error == "ErrRollback" {
			signed[string(data)] = true
		}
	}
	r := roots(f, "root.pub", "root2.pub")
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := bundle.Open(bytes.NewReader(data), r, m.Now)
		if err != nil {
			if b != nil {
				t.Fatal("bundle returned with an error")
			}
			if !isTyped(err) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		// ed25519 signatures are not malleable, so only the bytes we
		// signed can ever verify.
		if !signed[string(data)] {
			t.Fatalf("accepted %d bytes that nobody signed", len(data))
		}
	})
}

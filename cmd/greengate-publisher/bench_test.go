package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/synth"
	"github.com/greengate/greengate/rules/bundle"
)

// benchBuild builds and signs the source at in, reporting sizes.
func benchBuild(b *testing.B, in string) {
	root, _ := bundle.GenerateKey(rand.Reader, "bench-root")
	key, _ := bundle.GenerateKey(rand.Reader, "bench-signing")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cert, err := bundle.Certify(root, key.Public(), "example-school", t0, t0.AddDate(1, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	now := t0.AddDate(0, 1, 0)
	b.ReportAllocs()
	var data []byte
	var raw int64
	var entries int
	for b.Loop() {
		bu, reports, err := buildBundle(context.Background(), in, 0, now, http.DefaultClient)
		if err != nil {
			b.Fatal(err)
		}
		if data, err = bundle.Sign(bu, key, cert); err != nil {
			b.Fatal(err)
		}
		raw, entries = 0, 0
		for _, r := range reports {
			raw += r.Stats.Bytes
			entries += r.Stats.Entries
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "build+sign-ms")
	b.ReportMetric(float64(len(data)), "bundle-bytes")
	b.ReportMetric(float64(raw), "raw-list-bytes")
	b.ReportMetric(float64(len(data))/float64(raw), "bundle/raw")
	b.ReportMetric(float64(entries), "entries")
}

// BenchmarkBuildRealLists builds and signs the shared real lists (adult,
// gambling, drugs; domains, hosts, Adblock and URL formats, gzip).
//
// Last run (AMD EPYC, 2 shared cores, load ~3, -benchtime 3x):
//
//	BenchmarkBuildRealLists-2  3   734123815 ns/op   734.0 build+sign-ms  1954289 bundle-bytes  0.2975 bundle/raw  351448 entries   6568494 raw-list-bytes   81242162 B/op   417066 allocs/op
func BenchmarkBuildRealLists(b *testing.B) {
	needRealLists(b)
	in := filepath.Join(b.TempDir(), "real.json")
	abs := strings.ReplaceAll(realSource, `"file": "`, `"file": "`+realLists+"/")
	if err := os.WriteFile(in, []byte(abs), 0o644); err != nil {
		b.Fatal(err)
	}
	benchBuild(b, in)
}

// BenchmarkBuild1M builds and signs a 1M-domain list (internal/synth,
// ~18 bytes a name, as a plain domains file).
//
// Last run (AMD EPYC, 2 shared cores, load ~3, -benchtime 3x):
//
//	BenchmarkBuild1M-2         3  1457438744 ns/op  1457 build+sign-ms    5309155 bundle-bytes  0.3284 bundle/raw  1000000 entries  16164448 raw-list-bytes  184020162 B/op  1000167 allocs/op
func BenchmarkBuild1M(b *testing.B) {
	dir := b.TempDir()
	list := filepath.Join(dir, "synth.txt")
	if err := os.WriteFile(list, []byte(strings.Join(synth.Domains(1, 1_000_000), "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	in := filepath.Join(dir, "synth.json")
	src := `{"version": 1, "publisher": "example-school", "valid_for": "720h",
	  "categories": [{"id": "adult", "lists": [{"source": "synth", "file": "synth.txt"}]}]}`
	if err := os.WriteFile(in, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	benchBuild(b, in)
}

package bundle_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

// synthDomains returns n deterministic, real-looking domains: 1-3 labels
// from a syllable alphabet and a TLD drawn from a realistic mix, about 18
// bytes on average.
func synthDomains(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "com", "com", "com", "net", "org", "info", "ru", "de", "cn", "co.uk", "xyz", "top", "io", "fr", "com.br", "jp", "pl", "online", "site"}
	syl := []string{"ka", "lo", "mi", "to", "ra", "ne", "su", "xo", "vi", "pe", "an", "el", "or", "sex", "bet", "cam", "hot", "win", "porn", "tube", "play", "club", "shop", "star"}
	out := make([]string, 0, n)
	seen := make(map[string]struct{}, n)
	var sb strings.Builder
	for len(out) < n {
		sb.Reset()
		labels := 1 + r.IntN(3)
		if labels == 3 && r.IntN(2) == 0 {
			labels = 2
		}
		for l := range labels {
			if l > 0 {
				sb.WriteByte('.')
			}
			n := 1 + r.IntN(2)
			if l == labels-1 {
				n++ // the registered name is the longest label
			}
			for range n {
				sb.WriteString(syl[r.IntN(len(syl))])
			}
			if r.IntN(4) == 0 {
				sb.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		sb.WriteByte('.')
		sb.WriteString(tlds[r.IntN(len(tlds))])
		if _, dup := seen[sb.String()]; !dup {
			seen[sb.String()] = struct{}{}
			out = append(out, sb.String())
		}
	}
	return out
}

var big struct {
	once   sync.Once
	b      *bundle.Bundle
	raw    int // bytes of the domains as a one-per-line text list
	signed []byte
}

func bigBundle(b *testing.B) {
	big.once.Do(func() {
		domains := synthDomains(1_000_000)
		for _, d := range domains {
			big.raw += len(d) + 1
		}
		bb := &bundle.Bundle{
			Version: 1, Publisher: "greengate-test",
			Created: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			Expires: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
			Categories: []bundle.Category{{ID: "adult", Name: bundle.Text{ZH: "成人内容", EN: "Adult"},
				Lists: []bundle.List{{Source: "synthetic/1m", Domains: domains}}}},
		}
		bb.Normalize()
		big.b = bb
		key, cert := testKeys(b)
		var err error
		if big.signed, err = bundle.Sign(bb, key, cert); err != nil {
			b.Fatal(err)
		}
	})
}

// Last run (AMD EPYC, 2 shared cores, -benchtime 3x), 1M domains, 17.7 MB
// as a text list:
//
//	BenchmarkSign1M-2  1175523958 ns/op  5380398 bundle-bytes  0.3034 bundle-bytes/raw-bytes  76058418 B/op  81 allocs/op
//	BenchmarkOpen1M-2   256484709 ns/op  0.3034 bundle-bytes/raw-bytes  64245421 B/op  64 allocs/op
func BenchmarkSign1M(b *testing.B) {
	bigBundle(b)
	key, cert := testKeys(b)
	b.ReportAllocs()
	b.ResetTimer()
	var out []byte
	for b.Loop() {
		var err error
		if out, err = bundle.Sign(big.b, key, cert); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(out)), "bundle-bytes")
	b.ReportMetric(float64(len(out))/float64(big.raw), "bundle-bytes/raw-bytes")
	b.ReportMetric(float64(big.b.Counts().Domains), "domains")
}

func BenchmarkOpen1M(b *testing.B) {
	bigBundle(b)
	r := roots(b, "root.pub")
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.SetBytes(int64(len(big.signed)))
	b.ResetTimer()
	var got *bundle.Bundle
	for b.Loop() {
		var err error
		if got, err = bundle.Open(bytes.NewReader(big.signed), r, now); err != nil {
			b.Fatal(err)
		}
	}
	if got.Counts().Domains != big.b.Counts().Domains {
		b.Fatal("lost entries")
	}
	b.ReportMetric(float64(len(big.signed))/float64(big.raw), "bundle-bytes/raw-bytes")
	b.ReportMetric(float64(big.raw), "raw-bytes")
}

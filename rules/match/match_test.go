package match_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/lookuptime"
	"github.com/greengate/greengate/internal/synth"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/match"
)

// reference is the slow, obviously correct domain matcher the fast one must
// agree with: a map, and the host's suffixes tried longest first.
type reference map[string]bool

func (r reference) lookup(host string) (string, bool) {
	if isIPv4(host) || strings.Contains(host, ":") {
		if r[host] {
			return host, true
		}
		return "", false
	}
	for s := host; ; {
		if r[s] {
			return s, true
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return "", false
		}
		s = s[i+1:]
	}
}

func isIPv4(h string) bool {
	var a, b, c, d int
	n, _ := fmt.Sscanf(h, "%d.%d.%d.%d", &a, &b, &c, &d)
	return n == 4 && fmt.Sprintf("%d.%d.%d.%d", a, b, c, d) == h
}

func build(entries ...string) *match.DomainSet {
	var b match.DomainBuilder
	b.Source("test.txt")
	for i, e := range entries {
		b.Add(e, i+1)
	}
	return b.Build()
}

func TestDomainSet(t *testing.T) {
	t.Parallel()
	s := build("example.com", "ads.example.net", "co.uk", "1.2.3.4", "deep.a.b.c.example.org", "example.com")
	tests := []struct {
		host, entry string
		line        int
	}{
		{"example.com", "example.com", 1},
		{"www.example.com", "example.com", 1},
		{"a.b.c.example.com", "example.com", 1},
		{"badexample.com", "", 0},
		{"example.com.evil.net", "", 0},
		{"com", "", 0},
		{"ads.example.net", "ads.example.net", 2},
		{"example.net", "", 0},
		{"x.ads.example.net", "ads.example.net", 2},
		{"anything.co.uk", "co.uk", 3},
		{"1.2.3.4", "1.2.3.4", 4},
		{"5.1.2.3.4", "", 0}, // not an address; no suffix of an address matches
		{"2.3.4", "", 0},
		{"x.deep.a.b.c.example.org", "deep.a.b.c.example.org", 5},
		{"c.example.org", "", 0},
		{"", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			m, ok := s.Lookup(tt.host)
			if ok != (tt.entry != "") || m.Entry != tt.entry || m.Line != tt.line {
				t.Fatalf("Lookup(%q) = %+v, %v; want entry %q line %d", tt.host, m, ok, tt.entry, tt.line)
			}
			if ok && m.Source != "test.txt" {
				t.Fatalf("source %q", m.Source)
			}
		})
	}
	if s.Len() != 5 {
		t.Errorf("Len = %d, want 5 (a duplicate was kept?)", s.Len())
	}
}

func TestMostSpecificWins(t *testing.T) {
	t.Parallel()
	s := build("example.com", "www.example.com")
	if m, _ := s.Lookup("a.www.example.com"); m.Entry != "www.example.com" {
		t.Fatalf("got %q", m.Entry)
	}
}

func TestManyLabelsCannotHide(t *testing.T) {
	t.Parallel()
	s := build("porn.example")
	host := strings.Repeat("a.", 100) + "porn.example"
	if !s.Contains(host) {
		t.Fatal("a listed domain hidden behind 100 labels was not matched")
	}
}

func TestSources(t *testing.T) {
	t.Parallel()
	var b match.DomainBuilder
	b.Source("one.txt")
	b.Add("a.com", 7)
	b.Add("b.com", 9)
	b.Source("two.txt")
	b.Add("c.com", 1)
	b.Add("a.com", 2) // duplicate: first kept
	s := b.Build()
	for host, want := range map[string]string{"a.com": "one.txt:7", "b.com": "one.txt:9", "c.com": "two.txt:1"} {
		m, ok := s.Lookup(host)
		if got := fmt.Sprintf("%s:%d", m.Source, m.Line); !ok || got != want {
			t.Errorf("%s from %s, want %s", host, got, want)
		}
	}
	var n int
	s.Entries(func(match.Match) bool { n++; return true })
	if n != 3 {
		t.Errorf("Entries yielded %d", n)
	}
}

func TestAgreesWithReferenceOnSynthetic(t *testing.T) {
	t.Parallel()
	names := synth.Domains(1, 50000)
	ref := reference{}
	var b match.DomainBuilder
	b.Source("synth")
	for i, n := range names {
		ref[n] = true
		b.Add(n, i+1)
	}
	s := b.Build()
	for _, q := range synth.Queries(2, names, 100000) {
		want, wok := ref.lookup(q)
		got, gok := s.Lookup(q)
		if wok != gok || got.Entry != want {
			t.Fatalf("Lookup(%q) = %q %v, reference %q %v", q, got.Entry, gok, want, wok)
		}
	}
}

// TestBaseGrouping checks the cases where an entry's Bloom block (that of
// its base) could differ from the block a host's lookup reads: entries
// at, under and above a country-style second level, in a set with enough
// other entries that every base has a block of its own.
func TestBaseGrouping(t *testing.T) {
	t.Parallel()
	entries := []string{"co.uk", "bbc.co.uk", "news.bbc.co.uk", "a.b.c.d.com.br", "x.ne.jp",
		"shop.example.com", "example.org", "10.0.0.1", "cdn.s3.co.zz", "deep.er.a.com"}
	r := rand.New(rand.NewPCG(3, 4))
	pad := synth.Domains(r.Uint64(), 20_000)
	ref := reference{}
	var b match.DomainBuilder
	for i, e := range append(slices.Clone(entries), pad...) {
		b.Add(e, i+1)
		ref[e] = true
	}
	s := b.Build()
	hosts := []string{"co.uk", "x.co.uk", "bbc.co.uk", "www.bbc.co.uk", "x.news.bbc.co.uk",
		"com.br", "d.com.br", "a.b.c.d.com.br", "z.a.b.c.d.com.br", "b.c.d.com.br",
		"ne.jp", "x.ne.jp", "y.x.ne.jp", "example.com", "shop.example.com", "a.shop.example.com",
		"example.org", "www.example.org", "10.0.0.1", "cdn.s3.co.zz", "s3.co.zz",
		"x.deep.er.a.com", "er.a.com"}
	for _, e := range pad[:2000] {
		hosts = append(hosts, e, "www."+e, "x"+e)
	}
	for _, h := range hosts {
		want, wok := ref.lookup(h)
		got, gok := s.Lookup(h)
		if gok != wok || got.Entry != want {
			t.Errorf("Lookup(%q) = %q %v, reference %q %v", h, got.Entry, gok, want, wok)
		}
	}
	for _, e := range entries {
		if !s.Has(e) {
			t.Errorf("Has(%q) = false", e)
		}
	}
}

func TestConcurrentLookups(t *testing.T) {
	t.Parallel()
	names := synth.Domains(3, 1000)
	s := build(names...)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for _, n := range names {
				if !s.Contains("x." + n) {
					t.Errorf("miss %s", n)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLookupDoesNotAllocate(t *testing.T) {
	s := build("example.com")
	allocs := testing.AllocsPerRun(1000, func() {
		s.Lookup("www.example.com")
		s.Lookup("www.example.org")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per lookup", allocs)
	}
}

// TestMatchOutlivesSet drops a set big enough to live outside the heap
// and reads what it returned after its memory went back to the OS: a
// Match must not point into it (this would crash, not fail).
func TestMatchOutlivesSet(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	names := synth.Domains(r.Uint64(), 20_000)
	released := make(chan struct{})
	var kept []match.Match
	func() {
		var b match.DomainBuilder
		b.Source("big.txt")
		for i, n := range names {
			b.Add(n, i+1)
		}
		s := b.Build()
		for _, n := range names[:100] {
			m, ok := s.Lookup("www." + n)
			if !ok {
				t.Fatalf("%s not found", n)
			}
			kept = append(kept, m)
		}
		s.Entries(func(m match.Match) bool {
			kept = append(kept, m)
			return len(kept) < 200
		})
		runtime.AddCleanup(s, func(ch chan struct{}) { close(ch) }, released)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		runtime.GC()
		select {
		case <-released:
		case <-time.After(10 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("the set was never collected")
		}
		break
	}
	runtime.GC() // the set's own cleanup runs on the same goroutine, after or before ours
	time.Sleep(50 * time.Millisecond)
	for i, m := range kept[:100] {
		if m.Entry != names[i] || m.Source != "big.txt" || m.Line != i+1 {
			t.Fatalf("kept match %d = %+v, want %s big.txt:%d", i, m, names[i], i+1)
		}
	}
	for _, m := range kept[100:] {
		if !slices.Contains(names, m.Entry) {
			t.Fatalf("kept entry %q is not one of the names", m.Entry)
		}
	}
}

func TestURLSet(t *testing.T) {
	t.Parallel()
	var b match.URLBuilder
	b.Source("urls")
	b.Add("tumblr.com/blog/naughty", 1)
	b.Add("example.com/", 2)
	b.Add("tumblr.com/blog/naughty/more", 3)
	b.Add("tumblr.com/blog/naughty", 4)
	s := b.Build()
	tests := []struct {
		host, path, entry string
	}{
		{"tumblr.com", "/blog/naughty", "tumblr.com/blog/naughty"},
		{"www.tumblr.com", "/blog/naughty?x=1", "tumblr.com/blog/naughty"},
		{"www.tumblr.com", "/blog/naughty/more/x", "tumblr.com/blog/naughty/more"},
		{"tumblr.com", "/blog/Naughty", "tumblr.com/blog/naughty"}, // case folded: see NormalizePath
		{"tumblr.com", "/blog/naughtyish", ""},
		{"tumblr.com", "/blog/nice", ""},
		{"sub.tumblr.com", "/blog/naughty", ""},
		{"example.com", "/anything", "example.com/"},
		{"example.com.evil.net", "/", ""},
	}
	for _, tt := range tests {
		m, ok := s.Lookup(tt.host, tt.path)
		if ok != (tt.entry != "") || m.Entry != tt.entry {
			t.Errorf("Lookup(%q, %q) = %q %v, want %q", tt.host, tt.path, m.Entry, ok, tt.entry)
		}
	}
	if s.Len() != 3 {
		t.Errorf("Len = %d", s.Len())
	}
}

func FuzzDomainSetAgreesWithReference(f *testing.F) {
	f.Add("example.com\nads.example.net\n1.2.3.4", "www.example.com")
	f.Add("a.b\nb", "x.a.b")
	f.Add("co.uk", "bbc.co.uk")
	f.Add("news.bbc.co.uk\nx.com.br", "a.news.bbc.co.uk")
	f.Fuzz(func(t *testing.T, entries, host string) {
		ref := reference{}
		var b match.DomainBuilder
		b.Source("f")
		for i, e := range strings.Split(entries, "\n") {
			if n, err := hostname.Normalize(e); err != nil || n != e {
				continue // the builder's contract: normalised entries only
			}
			if !b.Add(e, i) && !ref[e] {
				t.Fatalf("normalised entry %q refused", e)
			}
			ref[e] = true
		}
		s := b.Build()
		host, err := hostname.NormalizeRequest(host)
		if err != nil {
			return
		}
		want, wok := ref.lookup(host)
		got, gok := s.Lookup(host)
		if wok != gok || got.Entry != want {
			t.Fatalf("Lookup(%q) = %q %v, reference %q %v", host, got.Entry, gok, want, wok)
		}
		for e := range ref {
			if !s.Has(e) {
				t.Fatalf("entry %q lost", e)
			}
		}
	})
}

// Benchmarks. Last run (2 cores, go1.26.8), see the closing note of the
// foundation issue for the full table.

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

var synthCache sync.Map

func synthNames(n int) []string {
	if v, ok := synthCache.Load(n); ok {
		return v.([]string)
	}
	v := synth.Domains(42, n)
	synthCache.Store(n, v)
	return v
}

func benchBuild(b *testing.B, names []string) {
	b.ReportAllocs()
	var s *match.DomainSet
	for b.Loop() {
		var bl match.DomainBuilder
		bl.Source("synth")
		for i, n := range names {
			bl.Add(n, i+1)
		}
		s = bl.Build()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/build")
	runtime.KeepAlive(s)
}

func benchLookup(b *testing.B, names []string) {
	before := heapInUse()
	var bl match.DomainBuilder
	bl.Source("synth")
	start := time.Now()
	for i, n := range names {
		bl.Add(n, i+1)
	}
	s := bl.Build()
	buildTime := time.Since(start)
	after := heapInUse()
	qs := synth.Queries(7, names, 1<<20) // more than the caches hold
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	i := 0
	for b.Loop() {
		if s.Contains(qs[i&(len(qs)-1)]) {
			hits++
		}
		i++
	}
	b.StopTimer()
	p50, p99 := latency(qs, func(h string) bool { return s.Contains(h) })
	b.ReportMetric(p50, "p50-ns")
	b.ReportMetric(p99, "p99-ns")
	// The tables live outside the heap (see Build); count them too.
	b.ReportMetric(float64(int(after-before)+s.OutsideHeap())/float64(len(names)), "memB/entry")
	b.ReportMetric(buildTime.Seconds()*1000, "build-ms")
	b.ReportMetric(float64(hits)/float64(i), "hit-ratio")
	runtime.KeepAlive(s)
}

// latency times single lookups as bench/matchers does (see
// lookuptime.Sample), so the figures compare.
func latency(qs []string, fn func(string) bool) (p50, p99 float64) {
	return lookuptime.Sample(qs, 200_000, fn)
}

// benchMap is the plain-Go-map baseline the issue compares against.
func benchMap(b *testing.B, names []string) {
	before := heapInUse()
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	after := heapInUse()
	qs := synth.Queries(7, names, 1<<20) // more than the caches hold
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		h := qs[i&(len(qs)-1)]
		for {
			if _, ok := m[h]; ok {
				break
			}
			j := strings.IndexByte(h, '.')
			if j < 0 {
				break
			}
			h = h[j+1:]
		}
		i++
	}
	b.StopTimer()
	p50, p99 := latency(qs, func(h string) bool {
		for {
			if _, ok := m[h]; ok {
				return true
			}
			j := strings.IndexByte(h, '.')
			if j < 0 {
				return false
			}
			h = h[j+1:]
		}
	})
	b.ReportMetric(p50, "p50-ns")
	b.ReportMetric(p99, "p99-ns")
	b.ReportMetric(float64(after-before)/float64(len(names)), "memB/entry")
	runtime.KeepAlive(m)
}

func BenchmarkDomainSet(b *testing.B) {
	for _, n := range []int{1_000_000, 5_000_000} {
		b.Run(fmt.Sprintf("lookup/%dk", n/1000), func(b *testing.B) { benchLookup(b, synthNames(n)) })
		b.Run(fmt.Sprintf("map/%dk", n/1000), func(b *testing.B) { benchMap(b, synthNames(n)) })
	}
	b.Run("build/1000k", func(b *testing.B) { benchBuild(b, synthNames(1_000_000)) })
}

func BenchmarkQuery(b *testing.B) {
	b.ReportAllocs()
	r := rand.New(rand.NewPCG(1, 2))
	hosts := synth.Domains(r.Uint64(), 1024)
	i := 0
	for b.Loop() {
		q := match.NewQuery(hosts[i&1023])
		_ = q
		i++
	}
}

// BenchmarkRealAdult loads the two real adult lists (read in place) and
// looks up the labelled sample: half listed adult hosts, half well-known
// sites that are in no list.
func BenchmarkRealAdult(b *testing.B) {
	const shared = "../../../shared/data/blocklists"
	hosts := readSample(b, shared+"/lookups-sample.tsv")
	before := heapInUse()
	start := time.Now()
	var bl match.DomainBuilder
	for _, rel := range []string{"bon-appetit/block.txt.gz", "sinfonietta/pornography-hosts.gz"} {
		bl.Source(rel)
		if _, err := lists.ParseFile(shared+"/"+rel, lists.Options{}, func(e lists.Entry) error {
			bl.Add(e.Value, e.Line)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	s := bl.Build()
	buildTime := time.Since(start)
	heap := heapInUse() - before
	b.ReportAllocs()
	b.ResetTimer()
	hits, i := 0, 0
	for b.Loop() {
		if s.Contains(hosts[i%len(hosts)]) {
			hits++
		}
		i++
	}
	b.ReportMetric(float64(int(heap)+s.OutsideHeap())/float64(s.Len()), "memB/entry")
	b.ReportMetric(buildTime.Seconds()*1000, "parse+build-ms")
	b.ReportMetric(float64(s.Len()), "entries")
	b.ReportMetric(float64(hits)/float64(i), "hit-ratio")
}

func readSample(b *testing.B, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Skipf("real lists not available: %v", err)
	}
	var hosts []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		if h, _, ok := strings.Cut(line, "\t"); ok {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

package matchers_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/greengate/greengate/bench/matchers"
	"github.com/greengate/greengate/internal/lookuptime"
	"github.com/greengate/greengate/internal/synth"
)

// Report settings: how many timed passes over the queries, interleaved
// across engines so a burst of load from the shared machine hits them all.
const (
	passes      = 5
	buildReps   = 3 // ours and the map; urlfilter builds once
	passes5M    = 3
	buildReps5M = 1
)

// reportWanted: the report is heavy, so it runs only when asked for, by
// MATCHERS_REPORT=1 or a -run pattern naming it.
func reportWanted() bool {
	if os.Getenv("MATCHERS_REPORT") != "" {
		return true
	}
	f := flag.Lookup("test.run")
	return f != nil && strings.Contains(f.Value.String(), "Report")
}

// measured is one engine on one rule set.
type measured struct {
	name       string
	rules      int
	buildMs    float64 // median of the builds
	heap       float64 // bytes per rule kept by a build
	warmHeap   float64 // bytes per rule after the warm-up pass (urlfilter caches parsed rules)
	ns         float64 // median over passes of a pass's mean ns per lookup
	p50, p99   float64 // single lookups, each timed on its own (clock included)
	allocs     float64 // per lookup, over the first timed pass
	allocCount uint64  // in that pass
	m          matchers.Matcher
	timed      []string
}

func (r *measured) lookupsPerSec() float64 { return 1e9 / r.ns }

func measureBuild(e matchers.Engine, names []string, reps int) *measured {
	r := &measured{name: e.Name, rules: len(names)}
	var ms []float64
	for i := 0; i < reps; i++ {
		r.m = nil
		before := heapAlloc()
		t0 := time.Now()
		m := e.Build(names)
		ms = append(ms, float64(time.Since(t0).Nanoseconds())/1e6)
		kept := heapAlloc() - before
		if o, ok := m.(interface{ OutsideHeap() int }); ok {
			kept += int64(o.OutsideHeap())
		}
		r.heap = float64(kept) / float64(len(names))
		r.m = m
	}
	r.buildMs = median(ms)
	return r
}

// pass times one pass of r.m over r.timed, in mean ns per lookup.
func pass(r *measured) float64 {
	hits := 0
	t0 := time.Now()
	for _, q := range r.timed {
		if r.m.Blocks(q) {
			hits++
		}
	}
	d := time.Since(t0)
	sink += hits
	return float64(d.Nanoseconds()) / float64(len(r.timed))
}

// measureLookups warms each engine with one pass, then times rounds
// passes, interleaved; allocations are counted over the first timed pass.
func measureLookups(rs []*measured, queries []string, rounds int) {
	for _, r := range rs {
		r.timed = queries
		if r.name == "urlfilter" {
			r.timed = queries[:ufQueryCount]
		}
		before := heapAlloc() - int64(r.heap*float64(r.rules))
		pass(r)
		r.warmHeap = float64(heapAlloc()-before) / float64(r.rules)
	}
	times := make([][]float64, len(rs))
	for k := 0; k < rounds; k++ {
		for i, r := range rs {
			m0 := mallocs()
			ns := pass(r)
			if k == 0 {
				r.allocCount = mallocs() - m0
				r.allocs = float64(r.allocCount) / float64(len(r.timed))
			}
			times[i] = append(times[i], ns)
		}
	}
	for i, r := range rs {
		r.ns = median(times[i])
		r.p50, r.p99 = latency(r)
	}
}

// latencySample is how many single lookups are timed for p50 and p99.
const latencySample = 200_000

// latency times single lookups (see lookuptime.Sample).
func latency(r *measured) (p50, p99 float64) {
	return lookuptime.Sample(r.timed, latencySample, r.m.Blocks)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// measureAll builds and times every engine in names on one rule set.
func measureAll(t *testing.T, names, queries []string, engines []string, reps, rounds int) []*measured {
	var rs []*measured
	for _, name := range engines {
		n := reps
		if name == "urlfilter" {
			n = 1
		}
		rs = append(rs, measureBuild(engine(t, name), names, n))
	}
	measureLookups(rs, queries, rounds)
	return rs
}

func writeTable(w io.Writer, title string, rs []*measured) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\trules\tbuild ms\theap B/rule\twarm heap B/rule\ttimed queries\tmean ns\tp50 ns\tp99 ns\tlookups/s\tallocs/lookup\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%.1f\t%d\t%.1f\t%.0f\t%.0f\t%.0f\t%.2f\t\n",
			r.name, r.rules, r.buildMs, r.heap, r.warmHeap, len(r.timed), r.ns, r.p50, r.p99, r.lookupsPerSec(), r.allocs)
	}
	tw.Flush()
}

func byName(rs []*measured, name string) *measured {
	for _, r := range rs {
		if r.name == name {
			return r
		}
	}
	return nil
}

// urlfilterVersion is the version go.mod requires (test binaries carry
// no dependency list in their build info).
func urlfilterVersion() string {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		return "(unknown)"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/AdguardTeam/urlfilter" {
			return f[1]
		}
	}
	return "(unknown)"
}

// loadAvg is the machine's load, which colours every time in the report.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// TestReport prints the side-by-side table and the targets at 1M
// rules, each PASS or MISS. It never fails on a MISS: it reports.
func TestReport(t *testing.T) {
	if !reportWanted() {
		t.Skip("set MATCHERS_REPORT=1 or run with -run Report")
	}
	w := os.Stdout
	all := []string{"ours", "map", "urlfilter"}
	fmt.Fprintf(w, "\nmatchers report: %s %s/%s, %d CPUs (GOMAXPROCS %d), load %s, urlfilter %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAvg(), urlfilterVersion())
	fmt.Fprintf(w, "queries: synth.Queries (20%% exact, 20%% subdomain, 60%% miss). After one warm-up pass:\n")
	fmt.Fprintf(w, "  mean ns = median of %d timed passes' means (lookups/s = 1e9/mean);\n", passes)
	fmt.Fprintf(w, "  p50/p99 ns = single lookups of %d queries, after as many untimed, each timed with its own clock read (%.0f ns empty);\n", latencySample, lookuptime.ClockCost(latencySample))
	fmt.Fprintf(w, "  urlfilter is timed on the first %d queries (it parses and caches candidate rules on first use);\n", ufQueryCount)
	fmt.Fprintf(w, "  heap = HeapAlloc growth after GC, after the build and after the warm-up pass\n")

	c := synthCorpus(rules1M)
	rs := measureAll(t, c.names, c.queries, all, buildReps, passes)
	writeTable(w, fmt.Sprintf("synthetic, %d rules (synth.Domains seed %d), %d queries", rules1M, seed, queryCount), rs)

	ours, mp, uf := byName(rs, "ours"), byName(rs, "map"), byName(rs, "urlfilter")
	fmt.Fprintf(w, "\nratios at 1M\n")
	fmt.Fprintf(w, "  ours/map lookup time        p50 %.2f, mean %.2f\n", ours.p50/mp.p50, ours.ns/mp.ns)
	fmt.Fprintf(w, "  ours/map heap               %.2f\n", ours.heap/mp.heap)
	fmt.Fprintf(w, "  ours/urlfilter lookups/s    %.0fx\n", ours.lookupsPerSec()/uf.lookupsPerSec())
	fmt.Fprintf(w, "  ours/urlfilter heap         %.2f after build, %.3f after warm-up\n", ours.heap/uf.heap, ours.warmHeap/uf.warmHeap)
	fmt.Fprintf(w, "  build ms                    ours %.0f, map %.0f, urlfilter %.0f\n", ours.buildMs, mp.buildMs, uf.buildMs)

	type target struct {
		what string
		ok   bool
		got  string
	}
	targets := []target{
		{"median (p50) lookup <= 1/2 of the map's", ours.p50 <= mp.p50/2,
			fmt.Sprintf("%.0f ns vs %.0f ns = %.2fx", ours.p50, mp.p50, ours.p50/mp.p50)},
		{"heap <= 32 B/rule", ours.heap <= 32, fmt.Sprintf("%.1f B/rule", ours.heap)},
		{"build <= 1 s", ours.buildMs <= 1000, fmt.Sprintf("%.0f ms", ours.buildMs)},
		{"0 allocs per lookup", ours.allocCount == 0, fmt.Sprintf("%d allocs in %d lookups", ours.allocCount, len(ours.timed))},
		{">= 10x urlfilter's lookups/s", ours.lookupsPerSec() >= 10*uf.lookupsPerSec(),
			fmt.Sprintf("%.0f vs %.0f = %.0fx", ours.lookupsPerSec(), uf.lookupsPerSec(), ours.lookupsPerSec()/uf.lookupsPerSec())},
		{"<= 1/4 of urlfilter's heap (its post-build heap)", ours.heap <= uf.heap/4,
			fmt.Sprintf("%.1f vs %.1f B/rule = %.2fx", ours.heap, uf.heap, ours.heap/uf.heap)},
	}
	met := 0
	fmt.Fprintf(w, "\ntargets at 1M rules\n")
	for _, tg := range targets {
		v := "MISS"
		if tg.ok {
			v = "PASS"
			met++
		}
		fmt.Fprintf(w, "  %s  %-50s %s\n", v, tg.what, tg.got)
	}
	fmt.Fprintf(w, "  %d of %d targets met\n", met, len(targets))
	release(rs)

	if !testing.Short() {
		c5 := synthCorpus(rules5M)
		rs5 := measureAll(t, c5.names, c5.queries, []string{"ours", "map"}, buildReps5M, passes5M)
		writeTable(w, fmt.Sprintf("synthetic, %d rules, ours and map only (urlfilter: ~10 GB and minutes a pass at 5M; see rules5M)", rules5M), rs5)
		o, m := byName(rs5, "ours"), byName(rs5, "map")
		fmt.Fprintf(w, "  ours/map lookup time p50 %.2f, mean %.2f; heap %.2f\n", o.p50/m.p50, o.ns/m.ns, o.heap/m.heap)
		release(rs5)
	}

	names, _, err := loadReal()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(w, "\nreal adult lists absent, skipped: %v\n", err)
	case err != nil:
		t.Fatal(err)
	default:
		q := synth.Queries(seed+2, names, queryCount)
		rr := measureAll(t, names, q, all, buildReps, passes)
		writeTable(w, fmt.Sprintf("real adult lists (%s), %d distinct domains, synth.Queries over them",
			strings.Join(matchers.AdultLists, " + "), len(names)), rr)
		o, m, u := byName(rr, "ours"), byName(rr, "map"), byName(rr, "urlfilter")
		fmt.Fprintf(w, "  ours/map lookup time p50 %.2f, mean %.2f; heap %.2f; ours/urlfilter lookups/s %.0fx, heap %.2f\n",
			o.p50/m.p50, o.ns/m.ns, o.heap/m.heap, o.lookupsPerSec()/u.lookupsPerSec(), o.heap/u.heap)
		release(rr)
	}
	fmt.Fprintln(w)
}

// release drops the report's engines before the next set is built.
func release(rs []*measured) {
	for _, r := range rs {
		r.m = nil
	}
	runtime.GC()
}

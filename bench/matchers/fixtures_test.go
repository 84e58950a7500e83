package matchers_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/greengate/greengate/bench/matchers"
	"github.com/greengate/greengate/internal/synth"
)

// Sizes of the benchmark fixtures.
const (
	seed = 42

	// rules1M is the set size the targets are stated at.
	rules1M = 1_000_000
	// rules5M is run for ours and the map only: urlfilter v0.5.0 took
	// ~2.7 s and 118 B/rule to build 1M rules, ~100 µs a lookup, and its
	// parsed-rule cache grew to ~2 KB/rule after one pass of 1Mi queries;
	// at 5M that is ~10 GB and minutes a pass on this 2-core machine.
	rules5M = 5_000_000

	// queryCount is larger than any cache: about 40 MB of names and string
	// headers, so ours and the map pay their real cache misses.
	queryCount = 1 << 20
	// ufQueryCount bounds urlfilter's timed queries: a pass over it is
	// warmed once (the engine parses and caches each candidate rule on
	// first use) and then timed, so it is measured in its steady state.
	// At ~100 µs a lookup a full 1Mi pass would take minutes; its cost is
	// compute, not cache misses, so the smaller set does not flatter it.
	ufQueryCount = 1 << 14
)

// corpus is a rule set and queries against it.
type corpus struct {
	names   []string
	queries []string
}

// Fixtures are made lazily, once per process: a benchmark or the report
// that needs 5M names pays for them, a plain `go test` does not.
var (
	corporaMu sync.Mutex
	corpora   = map[int]*corpus{}
)

func synthCorpus(n int) *corpus {
	corporaMu.Lock()
	defer corporaMu.Unlock()
	if c, ok := corpora[n]; ok {
		return c
	}
	names := synth.Domains(seed, n)
	c := &corpus{names: names, queries: synth.Queries(seed+1, names, queryCount)}
	corpora[n] = c
	return c
}

// blocklists is the shared data folder; GREENGATE_BLOCKLISTS overrides it.
func blocklists() string {
	if d := os.Getenv("GREENGATE_BLOCKLISTS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "data", "blocklists")
}

// loadReal loads the two adult lists and lookups-sample.tsv. An absent
// file gives an error that wraps fs.ErrNotExist.
func loadReal() ([]string, []matchers.Lookup, error) {
	dir := blocklists()
	var paths []string
	for _, p := range matchers.AdultLists {
		paths = append(paths, filepath.Join(dir, p))
	}
	names, err := matchers.LoadDomains(paths...)
	if err != nil {
		return nil, nil, err
	}
	lookups, err := matchers.LoadLookups(filepath.Join(dir, matchers.LookupsFile))
	if err != nil {
		return nil, nil, err
	}
	return names, lookups, nil
}

// realData is loadReal for a test, which it skips when a file is absent.
func realData(tb testing.TB) ([]string, []matchers.Lookup) {
	tb.Helper()
	names, lookups, err := loadReal()
	if errors.Is(err, fs.ErrNotExist) {
		tb.Skipf("real lists absent, skipping: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return names, lookups
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// engine returns the named engine.
func engine(tb testing.TB, name string) matchers.Engine {
	for _, e := range matchers.Engines() {
		if e.Name == name {
			return e
		}
	}
	tb.Fatalf("no engine %q", name)
	return matchers.Engine{}
}

// sink keeps lookup results alive.
var sink int

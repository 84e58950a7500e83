package defaults_test

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// BenchmarkEngine is the cost of the built-in rules at start-up: the
// time from nothing to a ready engine, and what it keeps on the heap and
// off it (the matchers map their tables outside the Go heap on Linux and
// macOS, so the process's RSS is the figure that counts; `make
// bench-proxy` reports that for the running agent).
//
// Last run (this 2-core VM): see the closing note of the issue that
// shipped the real lists.
func BenchmarkEngine(b *testing.B) {
	var e *policy.Engine
	var entries int
	for b.Loop() {
		var rb ruleset.Builder
		if err := defaults.Load(&rb); err != nil {
			b.Fatal(err)
		}
		entries = 0
		for _, f := range rb.Files() {
			entries += f.Added
		}
		cats, safe := rb.Build()
		var err error
		e, err = policy.New(policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{defaults.Profile()}})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/ready")
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(e)
}

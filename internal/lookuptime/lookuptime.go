// Package lookuptime times single host lookups for the matcher
// benchmarks, the same way wherever a median is compared, so that what
// is timed is the lookup and not the loop around it.
package lookuptime

import (
	"runtime"
	"runtime/debug"
	"slices"
	"time"
)

// Sample times n single lookups by fn and returns their median and 99th
// percentile in ns. Each includes one clock read, the same for every
// engine: it adds to both sides of a ratio and so moves it towards 1.
//
// The lookups are a contiguous run of queries (they are in random order
// already), after an untimed run over the queries before it, so the
// engine starts warm whatever ran last. Each query's bytes are read,
// untimed, just before its lookup: a proxy's host was just parsed from
// the request and is in cache, and timing a query's own cache miss,
// which every engine pays alike, would measure the list of queries.
// Nothing is allocated and the collector is off while timing, so no
// collection of another engine's heap runs beside the sample. With
// fewer than 2n queries, the sample is the first n and the warm-up the
// same ones; n is cut to len(queries).
func Sample(queries []string, n int, fn func(string) bool) (p50, p99 float64) {
	n = min(n, len(queries))
	if n == 0 {
		return 0, 0
	}
	d := make([]time.Duration, n)
	sample, warm := queries[:n], queries[:n]
	if len(queries) >= 2*n {
		sample, warm = queries[n:2*n], queries[:n]
	}
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	sum := 0
	for _, q := range warm {
		if fn(q) {
			sum++
		}
	}
	for i, q := range sample {
		for j := 0; j < len(q); j += 16 {
			sum += int(q[j])
		}
		t := time.Now()
		if fn(q) {
			sum++
		}
		d[i] = time.Since(t)
	}
	sink += sum
	slices.Sort(d)
	return float64(d[n/2]), float64(d[n*99/100])
}

// sink keeps the results and the bytes read alive, so neither the
// lookups nor the reads are optimised away.
var sink int

// ClockCost is the median of an empty timed call of n: the floor under
// every Sample's median.
func ClockCost(n int) float64 {
	p50, _ := Sample(make([]string, n), n, func(string) bool { return false })
	return p50
}

package lookuptime

import (
	"strings"
	"testing"
	"time"
)

// TestSampleTimesTheLookup checks the sample measures fn: a lookup that
// takes 20 µs must show at least that at the median, and an empty one
// must not.
func TestSampleTimesTheLookup(t *testing.T) {
	qs := make([]string, 200)
	for i := range qs {
		qs[i] = strings.Repeat("a", i%40+1) + ".test"
	}
	slow, _ := Sample(qs, 100, func(string) bool {
		for t0 := time.Now(); time.Since(t0) < 20*time.Microsecond; {
		}
		return true
	})
	if slow < 20_000 {
		t.Errorf("a 20 µs lookup has median %.0f ns", slow)
	}
	if fast := ClockCost(100); fast >= slow/4 {
		t.Errorf("an empty lookup has median %.0f ns, near the slow one's %.0f", fast, slow)
	}
}

// TestSampleTimesOnlyTheSample checks which queries are timed: those
// after the warm-up run, each once.
func TestSampleTimesOnlyTheSample(t *testing.T) {
	qs := []string{"w1.test", "w2.test", "s1.test", "s2.test", "x.test"}
	seen := map[string]int{}
	Sample(qs, 2, func(q string) bool { seen[q]++; return false })
	want := map[string]int{"w1.test": 1, "w2.test": 1, "s1.test": 1, "s2.test": 1}
	if len(seen) != len(want) {
		t.Fatalf("looked up %v, want %v", seen, want)
	}
	for q, n := range want {
		if seen[q] != n {
			t.Errorf("%s looked up %d times, want %d", q, seen[q], n)
		}
	}
}

package match

import (
	"strconv"
	"testing"

	"github.com/greengate/greengate/internal/synth"
)

// TestGateTurnsAwayUnlistedBases checks the gate does its one job: a host
// whose base no entry has is answered there, without the Bloom filter,
// nearly always; and a listed base always passes.
func TestGateTurnsAwayUnlistedBases(t *testing.T) {
	names := synth.Domains(7, 200_000)
	var b DomainBuilder
	b.Source("synth")
	for i, n := range names {
		b.Add(n, i+1)
	}
	s := b.Build()
	for _, n := range names {
		if q := NewQuery(n); !s.gated(q.hash[maxSuffixes-1]) && !(q.cc3 && s.gated(q.hash[maxSuffixes-2])) {
			t.Fatalf("listed %q is turned away by the gate", n)
		}
	}
	// No synth name has a "q" before a digit, so no entry has one of
	// these bases.
	const probes = 50_000
	passed := 0
	for i := range probes {
		q := NewQuery("www.q" + strconv.Itoa(i) + ".com")
		if s.gated(q.hash[maxSuffixes-1]) {
			passed++
		}
	}
	// 6 bits an entry, 3 a base: about 6 % pass; 10 % means the gate
	// has lost its independence from the hash or its size.
	if rate := float64(passed) / probes; rate > 0.10 {
		t.Errorf("gate lets %.1f%% of unlisted bases through, want under 10%%", 100*rate)
	} else {
		t.Logf("gate lets %.1f%% of unlisted bases through", 100*rate)
	}
}

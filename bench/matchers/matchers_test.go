package matchers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/greengate/greengate/bench/matchers"
	"github.com/greengate/greengate/internal/synth"
)

// agree builds every engine on names and fails with examples for each
// query the engines answer differently. It returns ours.
func agree(t *testing.T, names, queries []string) matchers.Matcher {
	t.Helper()
	engines := matchers.Engines()
	built := make([]matchers.Matcher, len(engines))
	for i, e := range engines {
		built[i] = e.Build(names)
	}
	var examples []string
	disagree, blocked := 0, 0
	verdicts := make([]bool, len(engines))
	for _, q := range queries {
		same := true
		for i, m := range built {
			verdicts[i] = m.Blocks(q)
			same = same && verdicts[i] == verdicts[0]
		}
		if verdicts[0] {
			blocked++
		}
		if same {
			continue
		}
		disagree++
		if len(examples) < 10 {
			var parts []string
			for i, e := range engines {
				parts = append(parts, fmt.Sprintf("%s=%v", e.Name, verdicts[i]))
			}
			examples = append(examples, fmt.Sprintf("%q: %s", q, strings.Join(parts, " ")))
		}
	}
	if disagree > 0 {
		t.Errorf("%d of %d queries get different verdicts on %d rules, e.g.:\n\t%s",
			disagree, len(queries), len(names), strings.Join(examples, "\n\t"))
	}
	t.Logf("%d rules, %d queries, %d blocked by all engines alike", len(names), len(queries), blocked)
	return built[0]
}

func TestAgreeSynthetic(t *testing.T) {
	t.Parallel()
	names := synth.Domains(seed, 100_000)
	queries := synth.Queries(seed+1, names, 100_000)
	agree(t, names, queries)
}

func TestAgreeReal(t *testing.T) {
	t.Parallel()
	names, lookups := realData(t)
	// The sample's hosts, then synthetic ones over the real names for
	// subdomain hits and near misses.
	var queries []string
	for _, l := range lookups {
		queries = append(queries, l.Host)
	}
	queries = append(queries, synth.Queries(seed+2, names, 1<<16)...)
	ours := agree(t, names, queries)

	wrong := 0
	var examples []string
	for _, l := range lookups {
		if got := ours.Blocks(l.Host); got != l.Block {
			wrong++
			if len(examples) < 10 {
				examples = append(examples, fmt.Sprintf("line %d %q: blocks=%v, want %v", l.Line, l.Host, got, l.Block))
			}
		}
	}
	if wrong > 0 {
		t.Errorf("ours: %d of %d lookups-sample rows wrong, e.g.:\n\t%s", wrong, len(lookups), strings.Join(examples, "\n\t"))
	}
}

package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/internal/synth"
	"github.com/greengate/greengate/rules/policy"
)

// newAgentWith builds (does not run) an agent on the defaults plus a list
// of n synthetic domains, with parental inputs the caller can change.
func newAgentWith(tb testing.TB, n int, grants *atomic.Pointer[[]policy.Grant]) *agent.Agent {
	tb.Helper()
	list := filepath.Join(tb.TempDir(), "big.txt")
	if err := os.WriteFile(list, []byte(strings.Join(synth.Domains(42, n), "\n")), 0o600); err != nil {
		tb.Fatal(err)
	}
	a, err := agent.New(context.Background(), agent.Config{
		Listen:  "127.0.0.1:0",
		DataDir: tb.TempDir(),
		Lists:   []agent.ListSpec{{Category: "bench", Path: list}},
		Parental: func(in *agent.EngineInputs) {
			if g := grants.Load(); g != nil {
				in.Grants = *g
			}
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// A settings change (here a grant) takes effect on the next request and
// keeps every compiled rule: the new engine decides the granted site
// differently and the listed ones as before.
func TestRebuildKeepsRules(t *testing.T) {
	t.Parallel()
	var grants atomic.Pointer[[]policy.Grant]
	a := newAgentWith(t, 1000, &grants)
	listed := synth.Domains(42, 1000)[7]
	if v := a.Engine().Decide(policy.Request{Host: listed}); v.Action != policy.Block {
		t.Fatalf("%s not blocked before the grant: %+v", listed, v)
	}
	g := []policy.Grant{{Host: listed, Until: time.Now().Add(time.Hour)}}
	grants.Store(&g)
	if err := a.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if v := a.Engine().Decide(policy.Request{Host: listed}); v.Action != policy.Allow {
		t.Fatalf("%s not allowed after the grant: %+v", listed, v)
	}
	if v := a.Engine().Decide(policy.Request{Host: synth.Domains(42, 1000)[8]}); v.Action != policy.Block {
		t.Fatal("the rebuild lost the compiled list")
	}
	if v := a.Engine().Decide(policy.Request{Host: "www.pornhub.com"}); v.Action != policy.Block {
		t.Fatal("the rebuild lost the defaults")
	}
}

// BenchmarkSettingsChange is a grant, pause or settings save with a
// million domains loaded beside the defaults: the compiled categories
// are reused, only the policy over them is rebuilt. Target: ≤ 10 ms and
// ≤ 1 MB allocated a change.
func BenchmarkSettingsChange(b *testing.B) {
	var grants atomic.Pointer[[]policy.Grant]
	a := newAgentWith(b, 1_000_000, &grants)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for i := 0; b.Loop(); i++ {
		g := []policy.Grant{{Host: "site" + string(rune('a'+i%26)) + ".example", Until: time.Now().Add(time.Hour)}}
		grants.Store(&g)
		if err := a.Rebuild(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/change")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/(1<<20), "MB-alloc/change")
}

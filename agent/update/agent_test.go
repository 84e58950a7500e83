package update_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/policy"
)

// TestAgentPicksUpBundles runs the real agent with an update source: the
// engine starts on the defaults, swaps to one with the bundle's rules once
// the updater installs it, and after a restart with the server down the
// bundle on disk is in force from the first request.
func TestAgentPicksUpBundles(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	o.set("/vendor.bundle", vectorBytes(t, "good.bundle"))
	dataDir := t.TempDir()
	start := func() (*agent.Agent, func()) {
		ready := make(chan net.Addr, 1)
		a, err := agent.New(context.Background(), agent.Config{
			Listen:  "127.0.0.1:0",
			DataDir: dataDir,
			Clock:   clock,
			Updates: update.Config{Sources: []update.Source{vendorSource(t, o)}, Jitter: -1, Timeout: 5 * time.Second},
			Ready:   func(a net.Addr) { ready <- a },
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("Run: %v", err)
		}
		return a, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	decide := func(a *agent.Agent) policy.Verdict {
		return a.Engine().Decide(policy.Request{Host: "adult.example.com", Time: vectorNow})
	}

	a, stop := start()
	waitFor(t, "the bundle's rules in the engine", func() bool { return decide(a).Action == policy.Block })
	if v := decide(a); !strings.HasPrefix(v.Source, "greengate-test/custom/adult") || v.Category != "adult" {
		t.Errorf("verdict %+v", v)
	}
	if st := a.Updater().Status()[0]; st.Version != 10 || st.File != "greengate-test.bundle" {
		t.Errorf("status %+v", st)
	}
	stop()
	if onDisk(filepath.Join(dataDir, "bundles"), "greengate-test.bundle") == nil {
		t.Fatal("bundle not stored under DataDir/bundles")
	}

	o.setMode("500")
	a, stop = start()
	defer stop()
	if v := decide(a); v.Action != policy.Block {
		t.Errorf("after restart with the server down: %+v", v)
	}
}

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestStatusNotRunning(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "none.sock")
	code, out, _ := runCmd(t, "", "status", "--socket", sock)
	if code != 1 || !strings.Contains(out, "GreenGate: not running") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestPrintStatus(t *testing.T) {
	t.Parallel()
	until := time.Date(2026, 11, 27, 18, 30, 0, 0, time.Local)
	var out bytes.Buffer
	printStatus(&env{stdout: &out}, client.Status{
		Running: true, Version: "1.2.3", ProxyAddr: "127.0.0.1:8899", PasswordSet: false,
		Paused: true, PausedUntil: until,
		Grants:       []client.Grant{{Host: "scratch.mit.edu", Until: until}},
		BlockedToday: 7, BlockedAttemptsToday: 4012, RuleCounts: map[string]int{"gambling": 38, "adult": 49},
		BlockLog: &client.BlockLogStatus{Bytes: 3 << 19, MaxBytes: 64 << 20, Dropped: 2, Pruned: 90, PrunedForSize: 80,
			Collapsed: 4005, LastError: "disk full"},
		Bundles: []client.BundleStatus{{Publisher: "vendor", Version: 12, LastError: "fetching: timeout"},
			{Publisher: "school", Version: 3, Expires: until, Expired: true}},
		SettingsError:   "settings.json: profiles[0].allow[1]: bad host \"a b\"\nlanguage: unknown",
		HTTPSBlockPages: "GreenGate block pages, host lab-7",
	})
	for _, want := range []string{
		"GreenGate: running (version 1.2.3), proxy 127.0.0.1:8899\n",
		"parent password: NOT SET",
		"filtering: PAUSED until Fri 18:30\n",
		"allowed for now: scratch.mit.edu (every profile) until Fri 18:30\n",
		"blocked today: 7 visits (4012 attempts)\n",
		"block log: 1.5 MiB of 64.0 MiB on disk, 4005 repeats collapsed, 90 pruned (80 for size), 2 dropped, last error: disk full\n",
		"rules: adult 49, gambling 38\n",
		"bundle vendor: version 12, last error: fetching: timeout\n",
		"bundle school: version 3, EXPIRED since " + until.Format(time.DateTime) + " (still filtering with it",
		"settings: the file on disk was REFUSED",
		"\n  language: unknown\n",
		"HTTPS block pages: on, with GreenGate block pages, host lab-7; decrypted: only connections to blocked sites",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

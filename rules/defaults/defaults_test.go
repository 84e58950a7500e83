package defaults_test

import (
	"testing"

	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

func TestEveryLineParses(t *testing.T) {
	t.Parallel()
	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		t.Fatal(err)
	}
	if len(b.Files()) < 4 {
		t.Fatalf("only %d files loaded", len(b.Files()))
	}
	for _, f := range b.Files() {
		if n := f.Stats.Rejected(); n != 0 {
			t.Errorf("%s: %d lines rejected: %v", f.Source, n, f.Stats.Errors)
		}
		if f.Added < 10 {
			t.Errorf("%s: only %d entries", f.Source, f.Added)
		}
	}
}

func TestDefaultEngine(t *testing.T) {
	t.Parallel()
	e, err := defaults.Engine()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host     string
		action   policy.Action
		category string
		source   string
	}{
		{"www.pornhub.com", policy.Block, "adult", "defaults/adult.txt:4"},
		{"bet365.com", policy.Block, "gambling", "defaults/gambling.txt:2"},
		{"dns.google", policy.Block, "doh", "defaults/doh.txt:42"},
		{"1.1.1.1", policy.Block, "doh", ""},
		{"www.nordvpn.com", policy.Block, "proxy", ""},
		{"www.google.com", policy.SafeSearch, "", ""},
		{"www.google.com.hk", policy.SafeSearch, "", ""},
		{"www.google.co.uk", policy.SafeSearch, "", ""},
		{"www.youtube.com", policy.SafeSearch, "", ""},
		{"www.wikipedia.org", policy.Allow, "", ""},
		{"www.baidu.com", policy.Allow, "", ""},
	}
	for _, tt := range tests {
		v := e.Decide(policy.Request{Host: tt.host})
		if v.Action != tt.action || v.Category != tt.category || (tt.source != "" && v.Source != tt.source) {
			t.Errorf("%s: %+v, want %v %q %q", tt.host, v, tt.action, tt.category, tt.source)
		}
	}
	if v := e.Decide(policy.Request{Host: "www.youtube.com"}); v.SafeHost != "restrictmoderate.youtube.com" {
		t.Errorf("youtube safe host %q", v.SafeHost)
	}
}

package defaults_test

import (
	"strings"
	"testing"

	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/lists"
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
		bad := f.Stats.Rejected() - f.Stats.Skipped[lists.ReasonDuplicate]
		if strings.HasPrefix(f.Source, "defaults/lists/") {
			// Public lists are shipped as published, dirt included: a
			// few unusable lines are skipped, never a real share.
			if bad*200 > f.Stats.Lines {
				t.Errorf("%s: %d of %d lines unusable: %v", f.Source, bad, f.Stats.Lines, f.Stats.Errors)
			}
		} else if bad != 0 {
			// Our own files must be clean.
			t.Errorf("%s: %d lines rejected: %v", f.Source, bad, f.Stats.Errors)
		}
		if f.Added < 1 {
			t.Errorf("%s: no entries", f.Source)
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
		{"pornhub.com", policy.Block, "adult", "defaults/adult.txt:4"},
		{"www.pornhub.com", policy.Block, "adult", ""},
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

// The default engine classifies what no list has, explains it, and
// never classifies a name the exceptions list.
func TestDefaultsClassify(t *testing.T) {
	t.Parallel()
	e, err := defaults.Engine()
	if err != nil {
		t.Fatal(err)
	}
	v := e.Decide(policy.Request{Host: "freshly-made-porntube-4u.com"})
	if v.Action != policy.Block || v.Reason != policy.ReasonClassifier || v.Category != "adult" || v.Source != "classifier" || !strings.Contains(v.Entry, "porn") {
		t.Errorf("unlisted adult name: %+v", v)
	}
	// nflxvideo.net reads "nfl"+"xvideo"; it is a well-known exception.
	if v := e.Decide(policy.Request{Host: "nflxvideo.net"}); v.Action != policy.Allow {
		t.Errorf("nflxvideo.net: %+v", v)
	}
	for _, h := range []string{"essex.ac.uk", "www.sussex.ac.uk", "scunthorpe.gov.uk", "therapistaid.com"} {
		if v := e.Decide(policy.Request{Host: h}); v.Action != policy.Allow {
			t.Errorf("%s: %+v", h, v)
		}
	}
}

package policy_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/rules/match"
	"github.com/greengate/greengate/rules/policy"
)

func domains(src string, names ...string) *match.DomainSet {
	var b match.DomainBuilder
	b.Source(src)
	for i, n := range names {
		b.Add(n, i+1)
	}
	return b.Build()
}

func urls(src string, entries ...string) *match.URLSet {
	var b match.URLBuilder
	b.Source(src)
	for i, e := range entries {
		b.Add(e, i+1)
	}
	return b.Build()
}

var monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday

func baseConfig() policy.Config {
	return policy.Config{
		Location: time.UTC,
		Categories: []policy.Category{
			{ID: "adult", Domains: domains("adult.txt", "porn.example", "mixed.example", "nsfw.safe.mixed.example", "both.example"), URLs: urls("adult-urls", "blog.example/nsfw", "safe.mixed.example/nsfw"), Allow: domains("adult.txt", "safe.mixed.example", "both.example")},
			{ID: "gambling", Domains: domains("gambling.txt", "bet.example", "both.example")},
			{ID: "doh", Domains: domains("doh.txt", "dns.example"), Bypass: true},
		},
		SafeSearch: []policy.SearchEngine{
			{Name: "google", Hosts: []string{"www.google.com", "www.google.com.hk"}, Target: "forcesafesearch.google.com", Param: "safe=active"},
			{Name: "youtube", Hosts: []string{"www.youtube.com"}, Target: "restrict.youtube.com", ModerateTarget: "restrictmoderate.youtube.com"},
		},
		Profiles: []policy.Profile{
			{Name: "child", Block: []string{"adult", "gambling"}, Allow: []string{"bet.example/kids", "homework.example"}, Deny: []string{"games.example", "video.example/bad"}, SafeSearch: true},
			{Name: "adult"},
			{Name: "teen", Block: []string{"adult"}, SafeSearch: true, YouTube: policy.YouTubeModerate},
			{Name: "listonly", AllowListOnly: true, Allow: []string{"school.example"}},
			{Name: "hours", Block: []string{"adult"}, Allow: []string{"school.example"}, Hours: &[7][]policy.Span{
				time.Monday: {{Start: 7 * 60, End: 20 * 60}},
			}},
		},
		Default: "child",
	}
}

func mustEngine(t testing.TB, cfg policy.Config) *policy.Engine {
	t.Helper()
	e, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDecide(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Grants = []policy.Grant{
		{Host: "granted.porn.example", Profile: "child", Until: monday10.Add(time.Hour)},
		{Host: "expired.porn.example", Until: monday10.Add(-time.Minute)},
		{Profile: "teen", Until: monday10.Add(15 * time.Minute)}, // pause
	}
	e := mustEngine(t, cfg)
	tests := []struct {
		name      string
		req       policy.Request
		action    policy.Action
		reason    policy.Reason
		category  string
		entry     string
		source    string
		safeHost  string
		safeParam string
	}{
		{"default allow", policy.Request{Host: "www.wikipedia.org"}, policy.Allow, policy.ReasonDefault, "", "", "", "", ""},
		{"category", policy.Request{Host: "www.porn.example"}, policy.Block, policy.ReasonCategory, "adult", "porn.example", "adult.txt:1", "", ""},
		{"category exception", policy.Request{Host: "safe.mixed.example"}, policy.Allow, policy.ReasonCategoryAllow, "adult", "safe.mixed.example", "adult.txt:1", "", ""},
		{"exception is narrow", policy.Request{Host: "mixed.example"}, policy.Block, policy.ReasonCategory, "adult", "mixed.example", "adult.txt:2", "", ""},
		{"listed subdomain beats a wider exception", policy.Request{Host: "a.nsfw.safe.mixed.example"}, policy.Block, policy.ReasonCategory, "adult", "nsfw.safe.mixed.example", "adult.txt:3", "", ""},
		{"an exception frees from its own category only", policy.Request{Host: "both.example"}, policy.Block, policy.ReasonCategory, "gambling", "both.example", "gambling.txt:2", "", ""},
		{"path rule beats a host exception", policy.Request{Host: "safe.mixed.example", Path: "/nsfw/x"}, policy.Block, policy.ReasonCategory, "adult", "safe.mixed.example/nsfw", "adult-urls:2", "", ""},
		{"url entry", policy.Request{Host: "www.blog.example", Path: "/nsfw/1"}, policy.Block, policy.ReasonCategory, "adult", "blog.example/nsfw", "adult-urls:1", "", ""},
		{"url entry https", policy.Request{Host: "www.blog.example"}, policy.Allow, policy.ReasonDefault, "", "", "", "", ""},
		{"bypass always", policy.Request{Host: "dns.example", Profile: "adult"}, policy.Block, policy.ReasonCategory, "doh", "dns.example", "doh.txt:1", "", ""},
		{"unblocked category", policy.Request{Host: "bet.example", Profile: "teen", Time: monday10.Add(time.Hour)}, policy.Allow, policy.ReasonDefault, "", "", "", "", ""},
		{"grant beats category", policy.Request{Host: "granted.porn.example", Time: monday10}, policy.Allow, policy.ReasonGrant, "", "granted.porn.example", "grant", "", ""},
		{"grant expires", policy.Request{Host: "granted.porn.example", Time: monday10.Add(time.Hour)}, policy.Block, policy.ReasonCategory, "adult", "porn.example", "adult.txt:1", "", ""},
		{"expired grant", policy.Request{Host: "expired.porn.example", Time: monday10}, policy.Block, policy.ReasonCategory, "adult", "porn.example", "adult.txt:1", "", ""},
		{"grant other profile", policy.Request{Host: "granted.porn.example", Profile: "teen", Time: monday10.Add(time.Hour)}, policy.Block, policy.ReasonCategory, "adult", "porn.example", "adult.txt:1", "", ""},
		{"pause", policy.Request{Host: "porn.example", Profile: "teen", Time: monday10}, policy.Allow, policy.ReasonPause, "", "", "", "", ""},
		{"pause ends", policy.Request{Host: "porn.example", Profile: "teen", Time: monday10.Add(15 * time.Minute)}, policy.Block, policy.ReasonCategory, "adult", "porn.example", "adult.txt:1", "", ""},
		{"custom allow beats category", policy.Request{Host: "bet.example", Path: "/kids/x"}, policy.Allow, policy.ReasonCustomAllow, "", "bet.example/kids", "child allow:1", "", ""},
		{"custom allow url only", policy.Request{Host: "bet.example", Path: "/poker"}, policy.Block, policy.ReasonCategory, "gambling", "bet.example", "gambling.txt:1", "", ""},
		{"custom block", policy.Request{Host: "m.games.example"}, policy.Block, policy.ReasonCustomBlock, "", "games.example", "child block:1", "", ""},
		{"custom block url", policy.Request{Host: "video.example", Path: "/bad?x"}, policy.Block, policy.ReasonCustomBlock, "", "video.example/bad", "child block:2", "", ""},
		{"allow list only", policy.Request{Host: "www.wikipedia.org", Profile: "listonly"}, policy.Block, policy.ReasonAllowListOnly, "", "", "", "", ""},
		{"allow list only allows", policy.Request{Host: "www.school.example", Profile: "listonly"}, policy.Allow, policy.ReasonCustomAllow, "", "school.example", "listonly allow:1", "", ""},
		{"in hours", policy.Request{Host: "www.wikipedia.org", Profile: "hours", Time: monday10}, policy.Allow, policy.ReasonDefault, "", "", "", "", ""},
		{"outside hours", policy.Request{Host: "www.wikipedia.org", Profile: "hours", Time: monday10.Add(11 * time.Hour)}, policy.Block, policy.ReasonOutsideHours, "", "", "", "", ""},
		{"outside hours allow list", policy.Request{Host: "school.example", Profile: "hours", Time: monday10.Add(11 * time.Hour)}, policy.Allow, policy.ReasonCustomAllow, "", "school.example", "hours allow:1", "", ""},
		{"day without spans", policy.Request{Host: "www.wikipedia.org", Profile: "hours", Time: monday10.Add(24 * time.Hour)}, policy.Block, policy.ReasonOutsideHours, "", "", "", "", ""},
		{"safe search", policy.Request{Host: "www.google.com.hk"}, policy.SafeSearch, policy.ReasonSafeSearch, "", "www.google.com.hk", "safe-search:google", "forcesafesearch.google.com", "safe=active"},
		{"safe search off", policy.Request{Host: "www.google.com", Profile: "adult"}, policy.Allow, policy.ReasonDefault, "", "", "", "", ""},
		{"safe search exact host", policy.Request{Host: "mail.google.com"}, policy.Allow, policy.ReasonDefault, "", "", "", "", ""},
		{"youtube strict", policy.Request{Host: "www.youtube.com"}, policy.SafeSearch, policy.ReasonSafeSearch, "", "www.youtube.com", "safe-search:youtube", "restrict.youtube.com", ""},
		{"youtube moderate", policy.Request{Host: "www.youtube.com", Profile: "teen"}, policy.SafeSearch, policy.ReasonSafeSearch, "", "www.youtube.com", "safe-search:youtube", "restrictmoderate.youtube.com", ""},
		{"unknown profile fails closed", policy.Request{Host: "www.wikipedia.org", Profile: "nobody"}, policy.Block, policy.ReasonUnknownProfile, "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.req.Time.IsZero() {
				tt.req.Time = monday10.Add(2 * time.Hour)
			}
			v := e.Decide(tt.req)
			if v.Action != tt.action || v.Reason != tt.reason || v.Category != tt.category || v.Entry != tt.entry || v.Source != tt.source || v.SafeHost != tt.safeHost || v.SafeParam != tt.safeParam {
				t.Fatalf("Decide(%+v) =\n %+v\nwant %v %v cat=%q entry=%q source=%q safe=%q %q", tt.req, v, tt.action, tt.reason, tt.category, tt.entry, tt.source, tt.safeHost, tt.safeParam)
			}
		})
	}
}

// A school day's hours are read on the local wall clock, also on the day
// the clocks change.
func TestScheduleAcrossDST(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	cfg := baseConfig()
	cfg.Location = berlin
	all := [7][]policy.Span{}
	for d := range all {
		all[d] = []policy.Span{{Start: 7 * 60, End: 20 * 60}}
	}
	cfg.Profiles = []policy.Profile{{Name: "p", Hours: &all}}
	cfg.Default = "p"
	e := mustEngine(t, cfg)
	tests := []struct {
		utc     time.Time
		allowed bool
	}{
		// Sunday 29 March 2026: clocks go from 02:00 CET to 03:00 CEST.
		{time.Date(2026, 3, 29, 5, 30, 0, 0, time.UTC), true},   // 07:30 CEST
		{time.Date(2026, 3, 29, 4, 59, 0, 0, time.UTC), false},  // 06:59 CEST
		{time.Date(2026, 3, 28, 5, 30, 0, 0, time.UTC), false},  // 06:30 CET, the day before
		{time.Date(2026, 3, 29, 17, 59, 0, 0, time.UTC), true},  // 19:59 CEST
		{time.Date(2026, 3, 29, 18, 0, 0, 0, time.UTC), false},  // 20:00 CEST
		{time.Date(2026, 10, 25, 6, 0, 0, 0, time.UTC), true},   // 07:00 CET, after clocks go back
		{time.Date(2026, 10, 25, 5, 30, 0, 0, time.UTC), false}, // 06:30 CET
		{time.Date(2026, 10, 24, 5, 30, 0, 0, time.UTC), true},  // 07:30 CEST, the day before
	}
	for _, tt := range tests {
		v := e.Decide(policy.Request{Host: "www.wikipedia.org", Time: tt.utc})
		if got := v.Action == policy.Allow; got != tt.allowed {
			t.Errorf("%s (%s local): allowed = %v, want %v", tt.utc, tt.utc.In(berlin).Format("Mon 15:04 MST"), got, tt.allowed)
		}
	}
}

func TestNewReportsEverything(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Profiles = append(cfg.Profiles,
		policy.Profile{Name: "bad", Block: []string{"nope"}, Allow: []string{"bad host"}, Hours: &[7][]policy.Span{{{Start: 600, End: 500}}}},
	)
	cfg.Default = "missing"
	_, err := policy.New(cfg)
	for _, want := range []error{policy.ErrUnknownCategory, policy.ErrBadEntry, policy.ErrBadSpan} {
		if !errors.Is(err, want) {
			t.Errorf("error %v does not report %v", err, want)
		}
	}
	if _, err := policy.New(policy.Config{}); !errors.Is(err, policy.ErrNoProfiles) {
		t.Errorf("empty config: %v", err)
	}
}

func TestAllowPathDoesNotAllocate(t *testing.T) {
	e := mustEngine(t, baseConfig())
	req := policy.Request{Host: "www.wikipedia.org", Time: monday10}
	allocs := testing.AllocsPerRun(1000, func() {
		if v := e.Decide(req); v.Action != policy.Allow {
			t.Fatal(v)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations on the allow path", allocs)
	}
}

func TestConcurrentDecide(t *testing.T) {
	t.Parallel()
	e := mustEngine(t, baseConfig())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if v := e.Decide(policy.Request{Host: "www.porn.example", Time: monday10}); v.Action != policy.Block {
					t.Error(v)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkDecideAllow(b *testing.B) {
	e := mustEngine(b, baseConfig())
	req := policy.Request{Host: "www.wikipedia.org", Time: monday10}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(req)
	}
}

func BenchmarkDecideBlock(b *testing.B) {
	e := mustEngine(b, baseConfig())
	req := policy.Request{Host: "www.porn.example", Time: monday10}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(req)
	}
}

func TestDecideUnnamed(t *testing.T) {
	t.Parallel()
	cfg := baseConfig()
	cfg.Profiles[0].Allow = append(cfg.Profiles[0].Allow, "192.0.2.8")
	cfg.Categories[0].Domains = domains("adult.txt", "porn.example", "192.0.2.9")
	cfg.Grants = []policy.Grant{{Host: "192.0.2.10", Profile: "child", Until: monday10.Add(time.Hour)}}
	e := mustEngine(t, cfg)
	tests := []struct {
		name    string
		host    string
		profile string
		action  policy.Action
		reason  policy.Reason
	}{
		{"unlisted address, profile blocks categories", "192.0.2.7", "child", policy.Block, policy.ReasonNoName},
		{"IPv6 too", "2001:db8::7", "teen", policy.Block, policy.ReasonNoName},
		{"on the allow list", "192.0.2.8", "child", policy.Allow, policy.ReasonCustomAllow},
		{"granted", "192.0.2.10", "child", policy.Allow, policy.ReasonGrant},
		{"listed address stays a category block", "192.0.2.9", "child", policy.Block, policy.ReasonCategory},
		{"a profile blocking no category of its own", "192.0.2.7", "adult", policy.Allow, policy.ReasonDefault},
		{"a name is decided as Decide does", "www.wikipedia.org", "child", policy.Allow, policy.ReasonDefault},
	}
	for _, tt := range tests {
		v := e.DecideUnnamed(policy.Request{Host: tt.host, Time: monday10, Profile: tt.profile})
		if v.Action != tt.action || v.Reason != tt.reason {
			t.Errorf("%s: %v %v, want %v %v", tt.name, v.Action, v.Reason, tt.action, tt.reason)
		}
	}
	if policy.ReasonNoName.String() != "no-sni" {
		t.Errorf("ReasonNoName is %q in the log", policy.ReasonNoName.String())
	}
}

// fakeClassifier classifies the names it lists, and counts its calls.
type fakeClassifier struct {
	mu    sync.Mutex
	names map[string]string // host -> category
	calls int
}

func (f *fakeClassifier) Classify(host string) (string, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	c, ok := f.names[host]
	if !ok {
		return "", "", false
	}
	return c, "classifier: porn+tube (score 4.1)", true
}

var _ policy.Classifier = (*fakeClassifier)(nil)

// The classifier decides only names no list decided, only for profiles
// that block its category and did not turn it off, and never a name a
// parent allowed, a grant frees, or a category exception lists.
func TestClassifier(t *testing.T) {
	t.Parallel()
	fc := &fakeClassifier{names: map[string]string{
		"porntube.example":  "adult",
		"homework.example":  "adult", // the child profile's allow list
		"wellknown.example": "adult", // an exception, listed in no block list
		"granted.example":   "adult",
		"porn.example":      "adult", // listed: the list decides
		"casino.example":    "gambling",
	}}
	cfg := baseConfig()
	cfg.Classifier = fc
	cfg.Categories[1].Allow = domains("wellknown.txt", "wellknown.example") // any category's exception counts
	cfg.Profiles = append(cfg.Profiles, policy.Profile{Name: "off", Block: []string{"adult"}, NoClassifier: true})
	cfg.Grants = []policy.Grant{{Host: "granted.example", Until: monday10.Add(time.Hour)}}
	e := mustEngine(t, cfg)
	for _, tc := range []struct {
		profile, host string
		action        policy.Action
		reason        policy.Reason
		category      string
	}{
		{"child", "porntube.example", policy.Block, policy.ReasonClassifier, "adult"},
		{"teen", "porntube.example", policy.Block, policy.ReasonClassifier, "adult"},
		{"adult", "porntube.example", policy.Allow, policy.ReasonDefault, ""},
		{"off", "porntube.example", policy.Allow, policy.ReasonDefault, ""},
		{"child", "homework.example", policy.Allow, policy.ReasonCustomAllow, ""},
		{"child", "wellknown.example", policy.Allow, policy.ReasonDefault, ""},
		{"child", "granted.example", policy.Allow, policy.ReasonGrant, ""},
		{"child", "porn.example", policy.Block, policy.ReasonCategory, "adult"},
		{"child", "casino.example", policy.Block, policy.ReasonClassifier, "gambling"},
		{"teen", "casino.example", policy.Allow, policy.ReasonDefault, ""},
		{"child", "plain.example", policy.Allow, policy.ReasonDefault, ""},
	} {
		v := e.Decide(policy.Request{Host: tc.host, Profile: tc.profile, Time: monday10})
		if v.Action != tc.action || v.Reason != tc.reason || v.Category != tc.category {
			t.Errorf("%s %s: got %v %v %q, want %v %v %q", tc.profile, tc.host, v.Action, v.Reason, v.Category, tc.action, tc.reason, tc.category)
		}
		if v.Reason == policy.ReasonClassifier && (v.Source != "classifier" || v.Entry != "classifier: porn+tube (score 4.1)") {
			t.Errorf("%s: source %q entry %q", tc.host, v.Source, v.Entry)
		}
	}
}

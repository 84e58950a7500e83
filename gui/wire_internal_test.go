package gui

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestCheckListEntry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, line, want string
	}{
		{"host", "example.com", ""},
		{"subdomain", "kids.example.co.uk", ""},
		{"host and path", "example.org/games/chess", ""},
		{"trailing dot", "example.com.", ""},
		{"unicode host", "例子.中国", ""},
		{"blank line", "   ", ""},
		{"scheme", "https://example.com/x", "list.err.scheme"},
		{"space inside", "exa mple.com", "list.err.space"},
		{"port", "example.com:8080", "list.err.port"},
		{"single word", "localhost", "list.err.nodot"},
		{"empty label", "example..com", "list.err.label"},
		{"leading hyphen", "-bad.example", "list.err.hyphen"},
		{"underscore", "bad_host.example", "list.err.char"},
		{"label too long", strings.Repeat("a", 64) + ".com", "list.err.label"},
		{"host too long", strings.Repeat("abcdefghi.", 26) + "com", "list.err.long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := checkListEntry(tt.line); got != tt.want {
				t.Errorf("checkListEntry(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestHoursRoundTrip(t *testing.T) {
	t.Parallel()
	hours := func(spans ...[2]int) (a [24]bool) {
		for _, s := range spans {
			for h := s[0]; h < s[1]; h++ {
				a[h] = true
			}
		}
		return a
	}
	tests := []struct {
		name     string
		allowed  [24]bool
		want     []string
		unlisted bool
	}{
		{"all day is not listed", hours([2]int{0, 24}), nil, true},
		{"nothing", hours(), []string{}, false},
		{"school day", hours([2]int{7, 18}), []string{"07:00-18:00"}, false},
		{"two spans to midnight", hours([2]int{6, 8}, [2]int{15, 24}), []string{"06:00-08:00", "15:00-24:00"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := setDayHours(map[string][]string{"sun": {"10:00-12:00"}}, time.Wednesday, tt.allowed)
			got, listed := m["wed"]
			if listed == tt.unlisted || !slices.Equal(got, tt.want) {
				t.Errorf("wed = %q (listed %v), want %q", got, listed, tt.want)
			}
			if !slices.Equal(m["sun"], []string{"10:00-12:00"}) {
				t.Errorf("other day changed: %v", m)
			}
			for h := range 24 {
				if hourAllowed(m, time.Wednesday, h) != tt.allowed[h] {
					t.Errorf("hour %d: read back %v", h, !tt.allowed[h])
				}
			}
		})
	}
	if m := setDayHours(nil, time.Monday, hours([2]int{0, 24})); m != nil {
		t.Errorf("all-day edit of no hours = %v, want nil", m)
	}
	// Spans the agent wrote at minute precision show by their first minute.
	agent := map[string][]string{"fri": {"07:30-08:15", "bad", "20:00-19:00"}}
	for h, want := range map[int]bool{7: false, 8: true, 9: false, 19: false, 20: false} {
		if got := hourAllowed(agent, time.Friday, h); got != want {
			t.Errorf("fri %d:00 allowed = %v, want %v", h, got, want)
		}
	}
}

func TestSettingsProblems(t *testing.T) {
	t.Parallel()
	err := &client.Error{Code: client.CodeInvalid, Problems: []string{
		`profiles[2].allow[3]: bad host "a b"`,
		`profiles[0].hours.mon: bad span "25:00-26:00"`,
		`profiles[1].allow_list_only: allow-list-only with an empty allow list blocks everything`,
		`profiles[0].safe_search: odd`,
		`users["anna"]: no profile named "kid"`,
		`default_profile: no profile named "x"`,
		`updates.interval: 1s: between 5m and 168h`,
		`no path at all`,
	}}
	want := []problem{
		{2, fieldAllow, `bad host "a b"`},
		{0, fieldHours, `bad span "25:00-26:00"`},
		{1, fieldAllow, "allow-list-only with an empty allow list blocks everything"},
		{0, fieldGeneral, "profiles[0].safe_search: odd"},
		{-1, fieldUsers, `no profile named "kid"`},
		{-1, fieldUsers, `no profile named "x"`},
		{-1, fieldGeneral, "updates.interval: 1s: between 5m and 168h"},
		{-1, fieldGeneral, "no path at all"},
	}
	if got := settingsProblems(err); !slices.Equal(got, want) {
		t.Errorf("problems =\n%+v\nwant\n%+v", got, want)
	}
	for _, other := range []error{nil, client.ErrAgentNotRunning, &client.Error{Code: client.CodeWrongPassword}} {
		if got := settingsProblems(other); got != nil {
			t.Errorf("settingsProblems(%v) = %v, want nil", other, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want time.Duration
		ok   bool
	}{
		{"agent says how long", &client.Error{Code: client.CodeRateLimited, RetryAfter: 8 * time.Second}, 8 * time.Second, true},
		{"agent does not say", &client.Error{Code: client.CodeRateLimited}, 5 * time.Second, true},
		{"wrapped", errors.Join(errors.New("x"), &client.Error{Code: client.CodeRateLimited, RetryAfter: time.Minute}), time.Minute, true},
		{"wrong password is not a wait", &client.Error{Code: client.CodeWrongPassword}, 0, false},
		{"nil", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := retryAfter(tt.err)
			if got != tt.want || ok != tt.ok {
				t.Errorf("retryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCategoryIDs(t *testing.T) {
	t.Parallel()
	st := client.Status{RuleCounts: map[string]int{"proxy": 1, "zeta": 2, "adult": 3}}
	s := client.Settings{Profiles: []client.Profile{{Block: []string{"alpha", "gambling"}}}}
	want := []string{"adult", "gambling", "proxy", "alpha", "zeta"}
	if got := categoryIDs(st, s); !slices.Equal(got, want) {
		t.Errorf("categoryIDs = %q, want %q", got, want)
	}
}

func TestTemplateProfileUnknown(t *testing.T) {
	t.Parallel()
	if _, err := templateProfile("toddler", nil); err == nil {
		t.Error("unknown template accepted")
	}
	p, err := templateProfile(TemplateTeen, nil)
	if err != nil || !slices.Equal(p.Block, []string{"adult", "gambling"}) {
		t.Errorf("teen with no rule info = %+v, %v", p, err)
	}
}

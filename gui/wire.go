package gui

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

// This file reads and writes the admin API's wire types (agent/admin/client)
// in the shapes the screens need: a tray state, a weekday × hour grid, the
// field a settings problem belongs to.

// Agent states shown in the tray and the status window.
const (
	StateFiltering = "filtering"
	StatePaused    = "paused"
	StateProblem   = "problem"
)

// agentState sums a status up for the tray. A failed bundle update is not a
// problem state: the agent keeps filtering on the last good bundle, and the
// status window shows the error. Settings the agent refused are: the parent's
// last change is not in force.
func agentState(st client.Status) string {
	switch {
	case !st.Running || st.SettingsError != "":
		return StateProblem
	case st.Paused:
		return StatePaused
	default:
		return StateFiltering
	}
}

// agentError says what went wrong talking to the agent, in the parent's
// words where the answer is one the parent can act on.
func agentError(tr *Translator, err error) string {
	switch {
	case errors.Is(err, client.ErrAgentNotRunning):
		return tr.T("error.notrunning")
	case errors.Is(err, client.ErrLoginRequired):
		return tr.T("error.login")
	case errors.Is(err, client.ErrAdminRequired):
		return tr.T("error.adminrequired")
	}
	return tr.T("error.agent", map[string]any{"Err": err.Error()})
}

// YouTube restricted-mode choices the agent accepts.
const (
	YouTubeStrict   = "strict"
	YouTubeModerate = "moderate"
)

// weekdayKeys are the agent's Hours keys, indexed like time.Weekday.
var weekdayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// hourAllowed reports whether hour h (0-23) of weekday d is allowed: no Hours
// or a day not listed allows the whole day; a listed day allows the minutes
// its "HH:MM-HH:MM" spans cover. An hour counts as allowed when a span covers
// its first minute. A span the grid cannot parse counts as allowing nothing,
// which is what the grid shows and what a save would write back.
func hourAllowed(hours map[string][]string, d time.Weekday, h int) bool {
	spans, listed := hours[weekdayKeys[d]]
	if hours == nil || !listed {
		return true
	}
	m := h * 60
	for _, s := range spans {
		from, to, ok := parseSpan(s)
		if ok && from <= m && m < to {
			return true
		}
	}
	return false
}

func parseSpan(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	from, ok1 := parseClock(a)
	to, ok2 := parseClock(b)
	return from, to, ok1 && ok2 && from < to
}

func parseClock(s string) (int, bool) {
	hh, mm, found := strings.Cut(strings.TrimSpace(s), ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !found || err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h*60+m > 1440 {
		return 0, false
	}
	return h*60 + m, true
}

// setDayHours writes weekday d's allowed hours into hours and returns the
// map (a new one if hours was nil). A day with every hour allowed is removed,
// since a day not listed is allowed all day; a map left empty becomes nil.
func setDayHours(hours map[string][]string, d time.Weekday, allowed [24]bool) map[string][]string {
	out := maps.Clone(hours)
	if out == nil {
		out = map[string][]string{}
	}
	if !slices.Contains(allowed[:], false) {
		delete(out, weekdayKeys[d])
	} else {
		spans := []string{}
		for h := 0; h < 24; {
			if !allowed[h] {
				h++
				continue
			}
			end := h
			for end < 24 && allowed[end] {
				end++
			}
			spans = append(spans, fmt.Sprintf("%02d:00-%02d:00", h, end))
			h = end
		}
		out[weekdayKeys[d]] = spans
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// problem is one complaint of the agent about a settings save.
type problem struct {
	Profile int    // index into Settings.Profiles, -1 if not a profile's
	Field   string // one of the field* constants
	Message string // the agent's words, with the key path
}

// problemPath matches the agent's key paths: "profiles[1].allow[3]",
// "profiles[0].hours.mon", `users["anna"]`, "default_profile".
var problemPath = regexp.MustCompile(`^profiles\[(\d+)\]\.([a-z_]+)`)

// settingsProblems returns the problems in a refused save, or nil if err is
// not a refusal of the settings.
func settingsProblems(err error) []problem {
	var ce *client.Error
	if !errors.Is(err, client.ErrInvalid) || !errors.As(err, &ce) {
		return nil
	}
	lines := ce.Problems
	if len(lines) == 0 {
		lines = []string{ce.Message}
	}
	out := make([]problem, 0, len(lines))
	for _, l := range lines {
		path, msg, found := strings.Cut(l, ": ")
		if !found {
			path, msg = "", l
		}
		out = append(out, problemAt(path, msg))
	}
	return out
}

func problemAt(path, msg string) problem {
	if strings.HasPrefix(path, "users") || strings.HasPrefix(path, "lan_profiles") || path == "default_profile" {
		return problem{Profile: -1, Field: fieldUsers, Message: msg}
	}
	m := problemPath.FindStringSubmatch(path)
	if m == nil {
		return problem{Profile: -1, Field: fieldGeneral, Message: strings.TrimPrefix(path+": "+msg, ": ")}
	}
	i, err := strconv.Atoi(m[1])
	if err != nil { // more digits than an int holds: no profile of ours
		return problem{Profile: -1, Field: fieldGeneral, Message: path + ": " + msg}
	}
	switch m[2] {
	case fieldName, fieldCategories, fieldAllow, fieldDeny, fieldYouTube, fieldHours:
		return problem{Profile: i, Field: m[2], Message: msg}
	case "allow_list_only":
		return problem{Profile: i, Field: fieldAllow, Message: msg}
	}
	return problem{Profile: i, Field: fieldGeneral, Message: path + ": " + msg}
}

// retryAfter is how long the agent wants password attempts to stop, and
// whether err is that answer at all.
func retryAfter(err error) (time.Duration, bool) {
	if !errors.Is(err, client.ErrRateLimited) {
		return 0, false
	}
	var ce *client.Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		return ce.RetryAfter, true
	}
	// The agent said "wait" without saying how long: wait a little.
	return 5 * time.Second, true
}

// knownCategories lists the category ids that have a name and description in
// the translation files, in the order the settings screen shows them. The
// admin API names categories only by id (Status.RuleCounts, Profile.Block);
// the words for them live here, and an id not listed is shown as itself.
var knownCategories = [...]string{"adult", "gambling", "violence", "drugs", "dating", "social", "games", "chat", "malware", "phishing", "proxy", "doh"}

// alwaysBlocked reports whether a category is a way around the filter,
// which the agent blocks in every profile whatever the profile says (the
// bundle's "bypass" flag). The admin API does not carry that flag, so the
// two such categories GreenGate ships are named here; the settings screen
// shows them ticked and fixed rather than as a choice that does nothing.
func alwaysBlocked(id string) bool { return id == "proxy" || id == "doh" }

// categoryIDs is every category the screens should offer: the known ones the
// agent has rules for, then any other id the agent has rules for or a
// profile blocks.
func categoryIDs(st client.Status, s client.Settings) []string {
	have := map[string]bool{}
	for id := range st.RuleCounts {
		have[id] = true
	}
	for _, p := range s.Profiles {
		for _, id := range p.Block {
			have[id] = true
		}
	}
	var out []string
	for _, id := range knownCategories {
		if have[id] {
			out = append(out, id)
			delete(have, id)
		}
	}
	return append(out, slices.Sorted(maps.Keys(have))...)
}

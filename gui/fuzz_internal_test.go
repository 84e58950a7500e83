package gui

import (
	"strings"
	"testing"
	"time"
)

// FuzzCheckListEntry: the typing aid never panics, and whatever it accepts
// has none of the mistakes it exists to catch; a whole field is accepted
// exactly when each of its lines is.
func FuzzCheckListEntry(f *testing.F) {
	for _, s := range []string{"example.com", "https://x.y", "a b.c", "x.y:80", "例子.中国/路径", "-a.b", "a..b", "\n\n", "a.b\nbad"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		allOK := true
		for _, line := range strings.Split(text, "\n") {
			key := checkListEntry(line)
			if key != "" {
				allOK = false
				if _, ok := mustLoad(LangEnglish)[key]; !ok {
					t.Fatalf("checkListEntry(%q) = %q, not a translation key", line, key)
				}
				continue
			}
			s := strings.TrimSpace(line)
			if s == "" {
				continue
			}
			host, _, _ := strings.Cut(s, "/")
			switch {
			case strings.Contains(s, "://"), strings.ContainsAny(s, " \t"), strings.Contains(host, ":"),
				!strings.Contains(strings.TrimSuffix(host, "."), "."), len(host) > 254:
				t.Fatalf("checkListEntry accepted %q", line)
			}
		}
		line, key := firstListError(text)
		if (key == "") != allOK || (key == "") != (line == 0) {
			t.Fatalf("firstListError(%q) = %d, %q; every line ok = %v", text, line, key, allOK)
		}
	})
}

// FuzzHours: any set of ticked hours written for a day reads back the same,
// and leaves the other days alone.
func FuzzHours(f *testing.F) {
	for _, m := range []uint32{0, 1<<24 - 1, 0b1111_1111_1110_0000_0111_1111, 1, 1 << 23} {
		f.Add(m, uint8(3))
	}
	f.Fuzz(func(t *testing.T, mask uint32, day uint8) {
		d := time.Weekday(day % 7)
		var allowed [24]bool
		for h := range allowed {
			allowed[h] = mask&(1<<h) != 0
		}
		other := time.Weekday((day + 1) % 7)
		before := map[string][]string{weekdayKeys[other]: {"09:00-10:00"}}
		m := setDayHours(before, d, allowed)
		for h := range 24 {
			if got := hourAllowed(m, d, h); got != allowed[h] {
				t.Fatalf("mask %024b day %d hour %d: read back %v", mask, d, h, got)
			}
			if got := hourAllowed(m, other, h); got != (h == 9) {
				t.Fatalf("other day hour %d changed to %v", h, got)
			}
		}
		for _, sp := range m[weekdayKeys[d]] {
			if _, _, ok := parseSpan(sp); !ok {
				t.Fatalf("wrote a span the agent format does not allow: %q", sp)
			}
		}
	})
}

// FuzzProblemAt: any key path the agent sends lands somewhere, never panics,
// and a profile index is one the path actually names.
func FuzzProblemAt(f *testing.F) {
	for _, s := range []string{"profiles[0].allow[1]", "profiles[99999999999999999999].name", `users["a"]`, "profiles[", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		p := problemAt(path, "m")
		if p.Profile >= 0 && !strings.HasPrefix(path, "profiles[") {
			t.Fatalf("problemAt(%q) gave profile %d", path, p.Profile)
		}
		if p.Message == "" {
			t.Fatalf("problemAt(%q) lost the message", path)
		}
	})
}

package gui

import (
	"strings"
	"unicode"
)

// checkListEntry looks at one line of a custom allow or block list and
// returns the translation key of what is wrong with it, or "" if it looks
// like a host ("example.com") or a host and path ("example.com/games").
//
// It is a typing aid, not the rule: the agent normalises and validates every
// entry on save (IDNA, case, trailing dots), and its verdict is what the
// settings screen shows in the end. So this check is deliberately lenient
// about what the agent accepts (any letters, so "例子.中国" passes) and
// strict only about mistakes a parent actually makes: pasting a URL with a
// scheme, spaces, a port, a lone word.
func checkListEntry(line string) string {
	s := strings.TrimSpace(line)
	if s == "" {
		return ""
	}
	if strings.Contains(s, "://") {
		return "list.err.scheme"
	}
	if strings.ContainsAny(s, " \t") {
		return "list.err.space"
	}
	host, _, _ := strings.Cut(s, "/")
	if strings.Contains(host, ":") {
		return "list.err.port"
	}
	host = strings.TrimSuffix(host, ".")
	if len(host) > 253 {
		return "list.err.long"
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return "list.err.nodot"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "list.err.label"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "list.err.hyphen"
		}
		for _, r := range l {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return "list.err.char"
			}
		}
	}
	return ""
}

// splitLines turns a list field into its non-empty, trimmed lines.
func splitLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// firstListError checks every line of a list field and returns the first
// problem as (1-based line, key), or (0, "").
func firstListError(text string) (int, string) {
	for i, l := range strings.Split(text, "\n") {
		if key := checkListEntry(l); key != "" {
			return i + 1, key
		}
	}
	return 0, ""
}

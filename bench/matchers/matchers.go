// Package matchers compares GreenGate's domain matcher with two peers on
// the same rules and the same queries:
//
//   - ours: rules/match DomainSet;
//   - urlfilter: AdGuard's github.com/AdguardTeam/urlfilter DNS engine, the
//     rules written as "||name^" lines. go.mod pins v0.5.0, the only
//     version the module proxy offers here; it is an early engine (5-byte
//     shortcut index, rules re-parsed from the text and cached on first
//     use, a regexp compiled per matching rule), so it says little about
//     AdGuard's current releases;
//   - map: a plain map[string]struct{} probed suffix by suffix.
//
// Every engine answers one question: is this normalised host, or a parent
// domain of it on a label boundary, listed? The tests check that all three
// answer alike; the benchmarks and TestReport measure build time, heap per
// rule and lookups against the targets of the matcher issue.
//
// This is a module of its own (bench/matchers/go.mod) so that the product
// never depends on the peers. Nothing here is safe for concurrent Builds;
// built matchers are read-only, but urlfilter's engine caches parsed rules
// behind a mutex as it matches.
package matchers

import (
	"strings"

	"github.com/AdguardTeam/urlfilter"

	"github.com/greengate/greengate/rules/match"
)

// Matcher answers whether a normalised host is blocked.
type Matcher interface {
	Blocks(host string) bool
}

// Engine names a matcher and builds it from normalised domain names.
type Engine struct {
	Name  string
	Build func(names []string) Matcher
}

// Engines are the three engines compared, ours first.
func Engines() []Engine {
	return []Engine{
		{Name: "ours", Build: func(n []string) Matcher { return BuildOurs(n) }},
		{Name: "map", Build: func(n []string) Matcher { return BuildMap(n) }},
		{Name: "urlfilter", Build: func(n []string) Matcher { return BuildURLFilter(n) }},
	}
}

// Ours is rules/match's DomainSet.
type Ours struct{ Set *match.DomainSet }

var _ Matcher = Ours{}

// BuildOurs compiles names into a DomainSet.
func BuildOurs(names []string) Ours {
	var b match.DomainBuilder
	b.Source("bench")
	for i, n := range names {
		b.Add(n, i+1)
	}
	return Ours{Set: b.Build()}
}

// Blocks reports whether host or a parent is listed.
func (o Ours) Blocks(host string) bool { return o.Set.Contains(host) }

// OutsideHeap is the memory the set holds outside the Go heap, which a
// heap figure must add (see match.DomainSet.OutsideHeap).
func (o Ours) OutsideHeap() int { return o.Set.OutsideHeap() }

// Map is the plain baseline: a Go map of names, probed with the host and
// then each suffix left after stripping the leftmost label.
type Map map[string]struct{}

var _ Matcher = Map(nil)

// BuildMap copies names into a map. Keys are cloned so the map owns its
// bytes, as one loaded from a file would, and its heap counts them.
func BuildMap(names []string) Map {
	m := make(Map, len(names))
	for _, n := range names {
		m[strings.Clone(n)] = struct{}{}
	}
	return m
}

// Blocks reports whether host or a parent is listed.
func (m Map) Blocks(host string) bool {
	for {
		if _, ok := m[host]; ok {
			return true
		}
		i := strings.IndexByte(host, '.')
		if i < 0 {
			return false
		}
		host = host[i+1:]
	}
}

// URLFilter is AdGuard's DNS engine over "||name^" rules.
type URLFilter struct{ Engine *urlfilter.DNSEngine }

var _ Matcher = URLFilter{}

// BuildURLFilter writes names as "||name^" lines into one string rule
// list and builds a DNS engine on it. The text is part of its storage:
// the engine re-reads rules from it as it matches.
func BuildURLFilter(names []string) URLFilter {
	var sb strings.Builder
	size := 0
	for _, n := range names {
		size += len(n) + 4
	}
	sb.Grow(size)
	for _, n := range names {
		sb.WriteString("||")
		sb.WriteString(n)
		sb.WriteString("^\n")
	}
	list := &urlfilter.StringRuleList{ID: 1, RulesText: sb.String(), IgnoreCosmetic: true}
	st, err := urlfilter.NewRuleStorage([]urlfilter.RuleList{list})
	if err != nil {
		// Only a duplicate list ID fails, and there is one list.
		panic("matchers: urlfilter rule storage: " + err.Error())
	}
	return URLFilter{Engine: urlfilter.NewDNSEngine(st)}
}

// Blocks reports whether the engine's chosen rule blocks host: a network
// rule that is not an exception, or a hosts-file rule.
func (u URLFilter) Blocks(host string) bool {
	rules, ok := u.Engine.Match(host)
	if !ok || len(rules) == 0 {
		return false
	}
	switch r := rules[0].(type) {
	case *urlfilter.NetworkRule:
		return !r.Whitelist
	case *urlfilter.HostRule:
		return true
	}
	return false
}

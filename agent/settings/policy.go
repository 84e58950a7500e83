package settings

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/greengate/greengate/rules/policy"
)

// ParseSpan parses "HH:MM-HH:MM" (end may be 24:00) into minutes since
// midnight.
func ParseSpan(s string) (policy.Span, error) {
	m := spanRE.FindStringSubmatch(s)
	if m == nil {
		return policy.Span{}, fmt.Errorf("bad span %q: want HH:MM-HH:MM", s)
	}
	n := func(i int) int { return int(m[i][0]-'0')*10 + int(m[i][1]-'0') }
	h1, m1, h2, m2 := n(1), n(2), n(3), n(4)
	if h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 == 24 && m2 != 0) {
		return policy.Span{}, fmt.Errorf("bad span %q: no such time", s)
	}
	sp := policy.Span{Start: h1*60 + m1, End: h2*60 + m2}
	if sp.End <= sp.Start {
		return policy.Span{}, fmt.Errorf("bad span %q: ends before it starts (split a span across midnight in two days)", s)
	}
	return sp, nil
}

// ToPolicy converts valid settings into policy profiles. Category ids not in
// categories are left out and returned in unknown, so the caller can report
// them (a parent may block a category that only a bundle not yet downloaded
// provides; with no rules for it there is nothing to block). Nil categories
// keeps every id, for callers that filter later.
func ToPolicy(s Settings, categories []string) (profiles []policy.Profile, unknown []string, err error) {
	if err := Validate(s, nil); err != nil {
		return nil, nil, err
	}
	for _, p := range s.Profiles {
		pp := policy.Profile{
			Name:          p.Name,
			AllowListOnly: p.AllowListOnly,
			SafeSearch:    p.SafeSearch,
			YouTube:       policy.YouTubeStrict,
			NoClassifier:  p.Classifier != nil && !*p.Classifier,
		}
		if p.YouTube == "moderate" {
			pp.YouTube = policy.YouTubeModerate
		}
		for _, c := range p.Block {
			if categories == nil || slices.Contains(categories, c) {
				pp.Block = append(pp.Block, c)
			} else if !slices.Contains(unknown, c) {
				unknown = append(unknown, c)
			}
		}
		// Validate has checked every entry, so these cannot fail.
		for _, e := range p.Allow {
			n, _ := NormalizeEntry(e)
			pp.Allow = append(pp.Allow, n)
		}
		for _, e := range p.Deny {
			n, _ := NormalizeEntry(e)
			pp.Deny = append(pp.Deny, n)
		}
		if p.Hours != nil {
			var h [7][]policy.Span
			for d, name := range Weekdays {
				spans, listed := p.Hours[name]
				if !listed {
					h[d] = []policy.Span{{Start: 0, End: 24 * 60}}
					continue
				}
				h[d] = []policy.Span{}
				for _, sp := range spans {
					ps, _ := ParseSpan(sp)
					h[d] = append(h[d], ps)
				}
			}
			pp.Hours = &h
		}
		profiles = append(profiles, pp)
	}
	return profiles, unknown, nil
}

// ProfileFor returns the profile name for an OS user: the mapped one, or
// the default.
func ProfileFor(s Settings, user string) string {
	if p, ok := s.Users[user]; ok {
		return p
	}
	return s.DefaultProfile
}

// ProfileForAddr returns the profile for a LAN client address: the most
// specific lan_profiles network containing it, or "" when none does (the
// caller then uses the default profile).
func ProfileForAddr(s Settings, ip netip.Addr) string {
	ip = ip.Unmap()
	best, bits := "", -1
	for n, p := range s.LANProfiles {
		pf, err := netip.ParsePrefix(n)
		if err == nil && pf.Contains(ip) && pf.Bits() > bits {
			best, bits = p, pf.Bits()
		}
	}
	return best
}

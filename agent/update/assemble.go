package update

import (
	"github.com/greengate/greengate/rules/bundle"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// Assemble adds the categories, lists and safe-search engines of bundles
// to b, in order, on top of whatever b already holds (normally the
// embedded defaults). Lists are added under the source
// "<publisher>/<list source>", so a verdict names who listed an entry.
// Entries layer: a school's bundle adds to the vendor's categories and
// never removes from them. Category names and descriptions, and a
// safe-search engine of the same name, are taken from the later bundle.
//
// It returns how many entries were refused as not in normal form; a
// bundle is signed, but its content is still not trusted to be
// well-formed (fail open for the entry, the rest of the bundle is used).
func Assemble(b *ruleset.Builder, bundles []*bundle.Bundle) (rejected int) {
	for _, bu := range bundles {
		for _, c := range bu.Categories {
			b.Category(ruleset.Meta{
				ID:          c.ID,
				Name:        policy.Text{EN: c.Name.EN, ZH: c.Name.ZH},
				Description: policy.Text{EN: c.Description.EN, ZH: c.Description.ZH},
			})
			for _, l := range c.Lists {
				rejected += b.AddEntries(c.ID, bu.Publisher+"/"+l.Source, l.Domains, l.URLs, l.Allow)
			}
		}
		for _, e := range bu.SafeSearch {
			b.AddSafeSearch(policy.SearchEngine{
				Name: e.Name, Hosts: e.Hosts, Target: e.Target, ModerateTarget: e.ModerateTarget, Param: e.Param,
			})
		}
	}
	return rejected
}

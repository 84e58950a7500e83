package bundle

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Text is a name or description in the two languages the tray app shows.
type Text struct {
	ZH string
	EN string
}

// A Bundle is the decoded content of a rule bundle.
type Bundle struct {
	Format     uint16    // format version; Open sets it, Sign writes FormatVersion
	Version    uint64    // monotonic bundle version, at least 1
	Created    time.Time // whole seconds; the bundle is not valid before
	Expires    time.Time // whole seconds; the bundle is not valid from
	Publisher  string    // publisher id, equal to the certificate's
	Categories []Category
	SafeSearch []Engine

	// Cert is the certificate of the key that signed the bundle. Open and
	// Inspect set it; Sign ignores it.
	Cert *Certificate
}

// A Category groups the lists a parent turns on or off together.
type Category struct {
	ID          string // "adult", "gambling", ...: lowercase a-z, 0-9, '-', '_'
	Name        Text
	Description Text
	Lists       []List
}

// A List is one source's entries within a category. Domain entries block
// the domain and its subdomains; URL entries are "host/path" prefixes
// without a scheme; Allow entries are exceptions (domains).
type List struct {
	Source  string // e.g. "ut1/gambling/domains"
	Domains []string
	URLs    []string
	Allow   []string
}

// An Engine tells the proxy how to force safe search on one search engine.
type Engine struct {
	Name           string   // "google", "youtube", ...
	Hosts          []string // exact hosts this applies to
	Target         string   // host to dial instead (strict mode), may be empty
	ModerateTarget string   // moderate-mode host (YouTube only), may be empty
	Param          string   // plain-HTTP query parameter, e.g. "safe=active"
}

// Counts are entry totals, compiled into the bundle and checked on decode.
type Counts struct {
	Domains int
	URLs    int
	Allow   int
}

func (c *Counts) add(o Counts) {
	c.Domains += o.Domains
	c.URLs += o.URLs
	c.Allow += o.Allow
}

// Counts returns the totals over all lists of c.
func (c *Category) Counts() Counts {
	var n Counts
	for _, l := range c.Lists {
		n.add(Counts{len(l.Domains), len(l.URLs), len(l.Allow)})
	}
	return n
}

// Counts returns the totals over all categories of b.
func (b *Bundle) Counts() Counts {
	var n Counts
	for i := range b.Categories {
		n.add(b.Categories[i].Counts())
	}
	return n
}

// Category returns the category with the given id, or nil.
func (b *Bundle) Category(id string) *Category {
	i, ok := slices.BinarySearchFunc(b.Categories, id, func(c Category, id string) int { return strings.Compare(c.ID, id) })
	if !ok {
		return nil
	}
	return &b.Categories[i]
}

// Normalize sorts and de-duplicates everything that the encoding requires
// to be sorted and unique, merging lists of one category that share a
// source, and truncates times to whole seconds in UTC. Builders call it
// before Sign; it changes b in place.
func (b *Bundle) Normalize() {
	b.Created = b.Created.Truncate(time.Second).UTC()
	b.Expires = b.Expires.Truncate(time.Second).UTC()
	slices.SortStableFunc(b.Categories, func(x, y Category) int { return strings.Compare(x.ID, y.ID) })
	for i := range b.Categories {
		c := &b.Categories[i]
		slices.SortStableFunc(c.Lists, func(x, y List) int { return strings.Compare(x.Source, y.Source) })
		merged := c.Lists[:0]
		for _, l := range c.Lists {
			if n := len(merged); n > 0 && merged[n-1].Source == l.Source {
				m := &merged[n-1]
				m.Domains = append(m.Domains, l.Domains...)
				m.URLs = append(m.URLs, l.URLs...)
				m.Allow = append(m.Allow, l.Allow...)
				continue
			}
			merged = append(merged, l)
		}
		c.Lists = merged
		for j := range c.Lists {
			l := &c.Lists[j]
			l.Domains = sortUnique(l.Domains)
			l.URLs = sortUnique(l.URLs)
			l.Allow = sortUnique(l.Allow)
		}
	}
	slices.SortStableFunc(b.SafeSearch, func(x, y Engine) int { return strings.Compare(x.Name, y.Name) })
	for i := range b.SafeSearch {
		b.SafeSearch[i].Hosts = sortUnique(b.SafeSearch[i].Hosts)
	}
}

func sortUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// validateMeta checks the fields the decoder does not check one by one.
func (b *Bundle) validateMeta() error {
	var errs []error
	if b.Version == 0 {
		errs = append(errs, errors.New("version must be at least 1"))
	}
	if b.Created.Unix() < 0 || b.Expires.Unix() < 0 {
		errs = append(errs, errors.New("times before 1970"))
	}
	if !b.Created.Before(b.Expires) {
		errs = append(errs, fmt.Errorf("expires %s is not after created %s", b.Expires.Format(time.RFC3339), b.Created.Format(time.RFC3339)))
	}
	for _, en := range b.SafeSearch {
		if en.Target == "" && en.Param == "" {
			errs = append(errs, fmt.Errorf("safe-search engine %s: neither target nor param", en.Name))
		}
		if len(en.Hosts) == 0 {
			errs = append(errs, fmt.Errorf("safe-search engine %s: no hosts", en.Name))
		}
	}
	return errors.Join(errs...)
}

// validate checks everything the encoding requires, reporting all
// problems at once so a publisher fixes a source file in one pass.
func (b *Bundle) validate() error {
	errs := []error{b.validateMeta()}
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !validName(b.Publisher) {
		bad("invalid publisher id %q", b.Publisher)
	}
	if b.Created.Nanosecond() != 0 || b.Expires.Nanosecond() != 0 {
		bad("times must be whole seconds (call Normalize)")
	}
	strsOK := func(where string, ss []string, valid func(string) bool) {
		for i, s := range ss {
			if !valid(s) {
				bad("%s: invalid entry %q", where, s)
			} else if i > 0 && s <= ss[i-1] {
				bad("%s: entries not sorted and unique at %q (call Normalize)", where, s)
			}
		}
	}
	for i, c := range b.Categories {
		if !validID(c.ID) {
			bad("category %q: invalid id", c.ID)
		} else if i > 0 && c.ID <= b.Categories[i-1].ID {
			bad("category %q: categories not sorted by unique id (call Normalize)", c.ID)
		}
		for _, t := range []string{c.Name.ZH, c.Name.EN, c.Description.ZH, c.Description.EN} {
			if !validText(t) {
				bad("category %s: invalid name or description %q", c.ID, t)
			}
		}
		for j, l := range c.Lists {
			where := c.ID + "/" + l.Source
			if !validSource(l.Source) {
				bad("category %s: invalid list source %q", c.ID, l.Source)
			} else if j > 0 && l.Source <= c.Lists[j-1].Source {
				bad("%s: lists not sorted by unique source (call Normalize)", where)
			}
			strsOK(where+" domains", l.Domains, validDomain)
			strsOK(where+" urls", l.URLs, validURL)
			strsOK(where+" allow", l.Allow, validDomain)
		}
	}
	for i, en := range b.SafeSearch {
		if !validID(en.Name) {
			bad("safe-search engine %q: invalid name", en.Name)
		} else if i > 0 && en.Name <= b.SafeSearch[i-1].Name {
			bad("safe-search engine %s: engines not sorted by unique name (call Normalize)", en.Name)
		}
		strsOK("safe-search "+en.Name+" hosts", en.Hosts, validDomain)
		if !validOptionalDomain(en.Target) || !validOptionalDomain(en.ModerateTarget) {
			bad("safe-search engine %s: invalid target", en.Name)
		}
		if !validParam(en.Param) {
			bad("safe-search engine %s: invalid param %q", en.Name, en.Param)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("validating bundle: %w", err)
	}
	return nil
}

// Package ruleset assembles categories for the policy engine from what
// rules arrive as: list files on disk, the embedded defaults, and the
// lists inside verified bundles. Several sources may add to one category;
// they layer, none replaces another.
//
// A Builder is used by one goroutine and thrown away after Build, except
// that AddList and AddExceptions may run at once for different
// categories that are already declared: big lists load on every core.
// It does no network I/O and never decides anything.
package ruleset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/match"
	"github.com/greengate/greengate/rules/policy"
)

// Meta describes a category.
type Meta struct {
	ID          string
	Name        policy.Text
	Description policy.Text
	Bypass      bool // blocked in every profile (DoH resolvers, proxies, VPNs)
}

// Builder collects categories and the safe-search map.
type Builder struct {
	mu    sync.Mutex // guards byID, cats and files while lists load at once
	cats  []*category
	byID  map[string]*category
	safe  []policy.SearchEngine
	files []FileStats
}

type category struct {
	order int // declaration order
	meta  Meta
	dom   match.DomainBuilder
	allow match.DomainBuilder
	url   match.URLBuilder
}

// FileStats records what one list contributed.
type FileStats struct {
	Category string
	Source   string
	Stats    lists.Stats
	Added    int // entries new to the category (not duplicates)
	order    int
}

// Category declares a category or updates its description. Adding
// entries to an undeclared category declares it with its id as name.
func (b *Builder) Category(m Meta) {
	c := b.get(m.ID)
	if m.Name.EN == "" {
		m.Name.EN = c.meta.Name.EN
	}
	if m.Name.ZH == "" {
		m.Name.ZH = c.meta.Name.ZH
	}
	if m.Description.EN == "" {
		m.Description.EN = c.meta.Description.EN
	}
	if m.Description.ZH == "" {
		m.Description.ZH = c.meta.Description.ZH
	}
	m.Bypass = m.Bypass || c.meta.Bypass
	c.meta = m
}

func (b *Builder) get(id string) *category {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byID == nil {
		b.byID = map[string]*category{}
	}
	c, ok := b.byID[id]
	if !ok {
		c = &category{meta: Meta{ID: id, Name: policy.Text{EN: id, ZH: id}}, order: len(b.cats)}
		b.byID[id] = c
		b.cats = append(b.cats, c)
	}
	return c
}

// AddExceptions parses a list of names the category must not block and
// adds them as its exceptions, whatever the list's syntax says: a
// well-known site that a public list names by mistake is written down
// once, as a plain name, and frees that site in every category that
// reads it (the more specific entry still wins; see package policy).
func (b *Builder) AddExceptions(categoryID, source string, r io.Reader, opt lists.Options) (lists.Stats, error) {
	opt.Allow = true
	return b.AddList(categoryID, source, r, opt)
}

// AddList parses a list and adds its entries to a category. Domain
// entries block, URL entries block by prefix, Adblock exceptions become
// the category's exceptions.
func (b *Builder) AddList(categoryID, source string, r io.Reader, opt lists.Options) (lists.Stats, error) {
	c := b.get(categoryID)
	if opt.Name == "" {
		opt.Name = source
	}
	c.dom.Source(source)
	c.allow.Source(source)
	c.url.Source(source)
	added := 0
	st, err := lists.Parse(r, opt, func(e lists.Entry) error {
		var ok bool
		switch e.Kind {
		case lists.Domain:
			ok = c.dom.Add(e.Value, e.Line)
		case lists.AllowDomain:
			ok = c.allow.Add(e.Value, e.Line)
		case lists.URL:
			ok = c.url.Add(e.Value, e.Line)
		}
		if ok {
			added++ // duplicates are counted below, not reported line by line
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("adding %s to %s: %w", source, categoryID, err)
	}
	if dups := st.Entries - added; dups > 0 {
		st.Skipped[lists.ReasonDuplicate] += dups
	}
	b.mu.Lock()
	b.files = append(b.files, FileStats{Category: categoryID, Source: source, Stats: st, Added: added, order: c.order})
	b.mu.Unlock()
	return st, nil
}

// AddFile adds a list file; its source is the path as given.
func (b *Builder) AddFile(categoryID, path string) (lists.Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return lists.Stats{}, fmt.Errorf("opening list for %s: %w", categoryID, err)
	}
	defer f.Close()
	return b.AddList(categoryID, path, f, lists.Options{Name: path})
}

// AddEntries adds entries that are already lists of names, as bundles
// carry them. Entries that are not in normal form are refused and
// counted: a bundle is verified, but its content still is not trusted to
// be well-formed.
func (b *Builder) AddEntries(categoryID, source string, domains, urls, allow []string) (rejected int) {
	c := b.get(categoryID)
	c.dom.Source(source)
	c.allow.Source(source)
	c.url.Source(source)
	addDomains := func(db *match.DomainBuilder, names []string) {
		for i, d := range names {
			if n, err := hostname.Normalize(d); err != nil || n != d {
				rejected++
				continue
			}
			db.Add(d, i+1)
		}
	}
	addDomains(&c.dom, domains)
	addDomains(&c.allow, allow)
	for i, u := range urls {
		if n, err := lists.NormalizeURL(u); err != nil || n != u {
			rejected++
			continue
		}
		c.url.Add(u, i+1)
	}
	return rejected
}

// AddSafeSearch adds engines to the safe-search map; an engine with the
// name of one already there replaces it (a later source knows better).
func (b *Builder) AddSafeSearch(engines ...policy.SearchEngine) {
	for _, e := range engines {
		i := slices.IndexFunc(b.safe, func(x policy.SearchEngine) bool { return x.Name == e.Name })
		if i >= 0 {
			b.safe[i] = e
		} else {
			b.safe = append(b.safe, e)
		}
	}
}

// Files reports what each list contributed so far: by category in the
// order declared, and in the order added within a category.
func (b *Builder) Files() []FileStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	slices.SortStableFunc(b.files, func(x, y FileStats) int { return x.order - y.order })
	return b.files
}

// Build compiles the categories, in the order first declared, one per
// core at a time. The builder must not be used afterwards.
func (b *Builder) Build() ([]policy.Category, []policy.SearchEngine) {
	out := make([]policy.Category, len(b.cats))
	Each(len(b.cats), func(i int) error {
		c := b.cats[i]
		out[i] = policy.Category{
			ID:          c.meta.ID,
			Name:        c.meta.Name,
			Description: c.meta.Description,
			Bypass:      c.meta.Bypass,
			Domains:     c.dom.Build(),
			Allow:       c.allow.Build(),
			URLs:        c.url.Build(),
		}
		return nil
	})
	return out, b.safe
}

// Each runs fn(0) to fn(n-1), as many at once as there are cores, and
// returns their errors joined. Loading lists is all CPU: more goroutines
// than cores would only add switching.
func Each(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

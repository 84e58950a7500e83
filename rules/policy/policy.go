// Package policy turns rules and settings into decisions:
// Engine.Decide(Request) Verdict.
//
// An Engine is built once from a Config (compiled categories, profiles,
// safe-search engines, temporary grants) and never changes afterwards; it
// is safe for concurrent use and a new one replaces it whole when rules or
// settings change. Decide does no I/O, takes no locks and, for a
// host-only request that is allowed, allocates nothing (beyond what a
// Classifier keeps the first time it sees a name: its verdict cache).
//
// A request is decided for one profile in this order; the first step that
// applies wins:
//
//  1. an active pause or grant (override) allows;
//  2. the profile's custom allow list allows;
//  3. the profile's custom block list blocks;
//  4. allow-list-only mode blocks everything else;
//  5. outside the profile's allowed hours everything else is blocked;
//  6. a blocked category blocks (bypass categories — DNS-over-HTTPS
//     resolvers, proxies and VPNs — are blocked in every profile), unless
//     one of the category's own exceptions allows the host and is at
//     least as specific as the entry that blocks it (an exception for
//     example.com frees example.com, not nsfw.example.com listed on its
//     own, nor a path rule under it); an exception frees the host from
//     its own category only, never from another that blocks it;
//  7. a name no list decided is blocked when the Config's Classifier
//     names a category the profile blocks — unless the profile turned the
//     classifier off (Profile.NoClassifier) or an exception of that
//     category lists the host (the built-in well-known sites among them):
//     listed exceptions are never classified;
//  8. a search engine host gets safe search when the profile wants it;
//  9. everything else is allowed.
//
// Hosts in requests must already be normalised (package hostname); the
// proxy does that once at its boundary. Paths are given as sent: URL
// entries ("host/path", in categories and in a profile's allow and block
// lists) match them in package match's normal form, so every spelling an
// origin serves as one resource ("//a", "/./a", "/x/../a", "/%2Fa") gets
// one verdict; case is folded (a child's filter fails closed on case,
// since IIS and many routers ignore it), and an entry matches at a
// segment boundary ("/health" is not "/healthy") unless it ends in "*".
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/match"
)

// Action is what to do with a request.
type Action uint8

const (
	Allow Action = iota
	Block
	SafeSearch // allow, but through the engine's enforced host or parameter
)

func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Block:
		return "block"
	case SafeSearch:
		return "safe-search"
	}
	return "action?"
}

// Reason says which step of the order decided.
type Reason uint8

const (
	ReasonDefault        Reason = iota // nothing matched
	ReasonPause                        // filtering paused
	ReasonGrant                        // a temporary grant for this site
	ReasonCustomAllow                  // the profile's allow list
	ReasonCustomBlock                  // the profile's block list
	ReasonAllowListOnly                // not on the allow list in allow-list-only mode
	ReasonOutsideHours                 // outside the allowed hours
	ReasonCategory                     // a blocked category lists it
	ReasonCategoryAllow                // a blocked category lists it as an exception
	ReasonSafeSearch                   // a search engine with safe search forced
	ReasonUnknownProfile               // the request named no known profile (blocked: fail closed)
	ReasonNoName                       // a connection to an address that names no site (DecideUnnamed)
	ReasonClassifier                   // no list decided; the host name classifier did
)

var reasonNames = [...]string{
	"default", "pause", "grant", "custom-allow", "custom-block", "allow-list-only",
	"outside-hours", "category", "category-exception", "safe-search", "unknown-profile",
	"no-sni",
	"classifier",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason?"
}

// Request is one thing to decide.
type Request struct {
	Host    string    // normalised host name or address
	Path    string    // plain HTTP only: path and query, "/x?y"; "" for HTTPS
	Time    time.Time // when; decides schedules and expiries
	Profile string    // "" means the default profile
}

// Verdict is a decision and what led to it.
type Verdict struct {
	Action   Action
	Reason   Reason
	Profile  string // the profile decided for
	Category string // category id, for ReasonCategory
	Entry    string // the list entry that matched
	Source   string // where the entry came from, "file:line" when known

	// For SafeSearch: the host to dial instead (may be empty when only
	// a query parameter applies) and the parameter for plain HTTP.
	SafeHost  string
	SafeParam string
}

// Category is a compiled category.
type Category struct {
	ID          string
	Name        Text
	Description Text
	Domains     *match.DomainSet
	URLs        *match.URLSet
	Allow       *match.DomainSet // exceptions: listed here, never blocked by this category
	Bypass      bool             // a way around the filter: blocked in every profile
}

// Text is something said in both languages the product speaks.
type Text struct{ EN, ZH string }

// YouTubeMode picks YouTube's restricted mode.
type YouTubeMode uint8

const (
	YouTubeStrict YouTubeMode = iota
	YouTubeModerate
)

// Span is an allowed stretch of a day, in minutes since local midnight:
// [Start, End). End may be 1440.
type Span struct{ Start, End int }

// Profile is a set of choices for one kind of user.
type Profile struct {
	Name          string
	Block         []string // category ids to block
	Allow         []string // custom allow entries: domains or "host/path"
	Deny          []string // custom block entries: domains or "host/path"
	AllowListOnly bool
	// Hours gives each weekday (time.Sunday = 0) its allowed spans in
	// the Engine's location. nil allows every hour; a day with no spans
	// is not allowed at all.
	Hours      *[7][]Span
	SafeSearch bool
	YouTube    YouTubeMode
	// NoClassifier turns the host name classifier off for this profile:
	// only the lists block.
	NoClassifier bool
}

// Classifier names the category a host name points to when no list
// decided it, from the name alone. It must be safe for concurrent use,
// fast (it runs for every name no list has) and must not block: Decide
// calls it. A verdict it decides reads Source "classifier" and Entry as
// it gives it, e.g. "classifier: porn+tube (score 4.1)".
type Classifier interface {
	Classify(host string) (category, entry string, ok bool)
}

// SearchEngine describes how to force safe search on one search engine.
type SearchEngine struct {
	Name           string
	Hosts          []string // exact hosts
	Target         string   // host to dial instead
	ModerateTarget string   // YouTube's moderate mode
	Param          string   // plain-HTTP query parameter, "safe=active"
}

// Grant allows something for a while. An empty Host pauses filtering; an
// empty Profile applies to every profile.
type Grant struct {
	Host    string
	Profile string
	Until   time.Time
}

// Config is everything an Engine is built from.
type Config struct {
	Categories []Category
	Profiles   []Profile
	Default    string // profile for requests naming none; "" means the first
	SafeSearch []SearchEngine
	Grants     []Grant
	// Location is where schedules are read; nil means time.Local.
	Location *time.Location
	// Classifier, when not nil, decides names no list has (step 7).
	Classifier Classifier
}

// Engine decides requests. It is immutable.
type Engine struct {
	cats     []Category
	catIndex map[string]int
	profiles map[string]*profile
	def      *profile
	safe     map[string]*SearchEngine
	engines  []SearchEngine
	grants   []grant
	loc      *time.Location
	classify Classifier
}

type profile struct {
	Profile
	blocked   []int // category indexes, bypass ones included
	allowDom  *match.DomainSet
	allowURL  *match.URLSet
	denyDom   *match.DomainSet
	denyURL   *match.URLSet
	grants    []grant // host grants for this profile (and for all)
	pauses    []time.Time
	hasHours  bool
	hours     [7][]Span
	safeSites bool
}

type grant struct {
	host    *match.DomainSet
	entry   string
	profile string
	until   time.Time
}

// Errors from New; all problems are reported at once with errors.Join.
var (
	ErrNoProfiles      = errors.New("no profiles")
	ErrUnknownCategory = errors.New("unknown category")
	ErrBadEntry        = errors.New("bad custom entry")
	ErrBadSpan         = errors.New("bad time span")
)

// New builds an Engine, checking the whole Config.
func New(cfg Config) (*Engine, error) {
	e := &Engine{
		cats:     cfg.Categories,
		catIndex: make(map[string]int, len(cfg.Categories)),
		profiles: make(map[string]*profile, len(cfg.Profiles)),
		safe:     map[string]*SearchEngine{},
		engines:  cfg.SafeSearch,
		loc:      cfg.Location,
		classify: cfg.Classifier,
	}
	if e.loc == nil {
		e.loc = time.Local
	}
	var errs []error
	for i, c := range cfg.Categories {
		if _, dup := e.catIndex[c.ID]; dup {
			errs = append(errs, fmt.Errorf("category %q listed twice", c.ID))
		}
		e.catIndex[c.ID] = i
	}
	for i := range e.engines {
		eng := &e.engines[i]
		for _, h := range eng.Hosts {
			n, err := hostname.NormalizeRequest(h)
			if err != nil {
				errs = append(errs, fmt.Errorf("safe search %s: host %q: %w", eng.Name, h, err))
				continue
			}
			e.safe[n] = eng
		}
	}
	var hostGrants []grant
	var pauses []Grant
	for _, g := range cfg.Grants {
		if g.Host == "" {
			pauses = append(pauses, g)
			continue
		}
		var b match.DomainBuilder
		b.Source("grant")
		h, err := hostname.Normalize(g.Host)
		if err != nil || !b.Add(h, 0) {
			errs = append(errs, fmt.Errorf("grant for %q: %w", g.Host, ErrBadEntry))
			continue
		}
		hostGrants = append(hostGrants, grant{host: b.Build(), entry: h, profile: g.Profile, until: g.Until})
	}
	if len(cfg.Profiles) == 0 {
		errs = append(errs, ErrNoProfiles)
	}
	for _, p := range cfg.Profiles {
		cp, err := e.compileProfile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("profile %q: %w", p.Name, err))
			continue
		}
		if _, dup := e.profiles[p.Name]; dup {
			errs = append(errs, fmt.Errorf("profile %q defined twice", p.Name))
		}
		for _, g := range hostGrants {
			if g.profile == "" || g.profile == p.Name {
				cp.grants = append(cp.grants, g)
			}
		}
		for _, g := range pauses {
			if g.Profile == "" || g.Profile == p.Name {
				cp.pauses = append(cp.pauses, g.Until)
			}
		}
		e.profiles[p.Name] = cp
		if e.def == nil && (cfg.Default == "" || cfg.Default == p.Name) {
			e.def = cp
		}
	}
	if e.def == nil && len(cfg.Profiles) > 0 {
		errs = append(errs, fmt.Errorf("default profile %q is not defined", cfg.Default))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) compileProfile(p Profile) (*profile, error) {
	cp := &profile{Profile: p}
	var errs []error
	seen := map[int]bool{}
	for _, id := range p.Block {
		i, ok := e.catIndex[id]
		if !ok {
			errs = append(errs, fmt.Errorf("%w %q", ErrUnknownCategory, id))
			continue
		}
		if !seen[i] {
			seen[i] = true
			cp.blocked = append(cp.blocked, i)
		}
	}
	for i, c := range e.cats {
		if c.Bypass && !seen[i] {
			cp.blocked = append(cp.blocked, i)
		}
	}
	var err error
	if cp.allowDom, cp.allowURL, err = compileCustom(p.Name+" allow", p.Allow); err != nil {
		errs = append(errs, err)
	}
	if cp.denyDom, cp.denyURL, err = compileCustom(p.Name+" block", p.Deny); err != nil {
		errs = append(errs, err)
	}
	if p.Hours != nil {
		cp.hasHours = true
		cp.hours = *p.Hours
		for d, spans := range cp.hours {
			for _, s := range spans {
				if s.Start < 0 || s.End > 24*60 || s.Start >= s.End {
					errs = append(errs, fmt.Errorf("%s %d–%d: %w", time.Weekday(d), s.Start, s.End, ErrBadSpan))
				}
			}
		}
	}
	return cp, errors.Join(errs...)
}

// compileCustom compiles a parent's own entries; a bad one is an error
// (unlike a bad line in a downloaded list), because the parent can fix it.
func compileCustom(source string, entries []string) (*match.DomainSet, *match.URLSet, error) {
	var db match.DomainBuilder
	var ub match.URLBuilder
	db.Source(source)
	ub.Source(source)
	var errs []error
	for i, raw := range entries {
		s := strings.TrimSpace(raw)
		if strings.ContainsAny(s, "/?") {
			v, err := lists.NormalizeURL(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w %q: %v", ErrBadEntry, raw, err))
				continue
			}
			if strings.HasSuffix(v, "/") && strings.Count(v, "/") == 1 {
				// "example.com/" means the whole site.
				db.Add(strings.TrimSuffix(v, "/"), i+1)
				continue
			}
			ub.Add(v, i+1)
			continue
		}
		h, err := hostname.Normalize(strings.TrimPrefix(s, "*."))
		if err != nil {
			errs = append(errs, fmt.Errorf("%w %q: %v", ErrBadEntry, raw, err))
			continue
		}
		db.Add(h, i+1)
	}
	return db.Build(), ub.Build(), errors.Join(errs...)
}

// Decide decides one request.
func (e *Engine) Decide(r Request) Verdict {
	p := e.def
	if r.Profile != "" {
		var ok bool
		if p, ok = e.profiles[r.Profile]; !ok {
			return Verdict{Action: Block, Reason: ReasonUnknownProfile, Profile: r.Profile}
		}
	}
	v := Verdict{Profile: p.Name}
	q := match.NewQuery(r.Host)

	for _, until := range p.pauses {
		if r.Time.Before(until) {
			v.Reason = ReasonPause
			return v
		}
	}
	for i := range p.grants {
		g := &p.grants[i]
		if r.Time.Before(g.until) {
			if _, ok := g.host.LookupQuery(&q); ok {
				v.Reason, v.Entry, v.Source = ReasonGrant, g.entry, "grant"
				return v
			}
		}
	}
	if m, ok := lookup(p.allowDom, p.allowURL, &q, r); ok {
		v.Reason, v.Entry, v.Source = ReasonCustomAllow, m.Entry, source(m)
		return v
	}
	if m, ok := lookup(p.denyDom, p.denyURL, &q, r); ok {
		v.Action, v.Reason, v.Entry, v.Source = Block, ReasonCustomBlock, m.Entry, source(m)
		return v
	}
	if p.AllowListOnly {
		v.Action, v.Reason = Block, ReasonAllowListOnly
		return v
	}
	if p.hasHours && !e.inHours(p, r.Time) {
		v.Action, v.Reason = Block, ReasonOutsideHours
		return v
	}
	// An exception frees the host from its own category only: the next
	// blocked category still has its say (he.net is freed from the adult
	// list that names it by mistake, and its resolver ordns.he.net is
	// still an encrypted DNS server).
	freed := false
	for _, ci := range p.blocked {
		c := &e.cats[ci]
		m, ok := lookup(c.Domains, c.URLs, &q, r)
		if !ok {
			continue
		}
		if a, ok := c.Allow.LookupQuery(&q); ok && overrules(a, m) {
			// A host's exception still leaves its path rules standing.
			um, ok := match.Match{}, false
			if r.Path != "" && c.URLs.Len() > 0 {
				um, ok = c.URLs.Lookup(r.Host, r.Path)
			}
			if !ok {
				if !freed {
					v.Reason, v.Category, v.Entry, v.Source = ReasonCategoryAllow, c.ID, a.Entry, source(a)
					freed = true
				}
				continue
			}
			m = um
		}
		v.Action, v.Reason, v.Category, v.Entry, v.Source = Block, ReasonCategory, c.ID, m.Entry, source(m)
		return v
	}
	if freed {
		return v
	}
	if e.classify != nil && !p.NoClassifier {
		if id, entry, ok := e.classify.Classify(r.Host); ok && e.classifiable(p, id, &q) {
			v.Action, v.Reason, v.Category, v.Entry, v.Source = Block, ReasonClassifier, id, entry, "classifier"
			return v
		}
	}
	if p.SafeSearch {
		if eng, ok := e.safe[r.Host]; ok {
			v.Action, v.Reason, v.Entry, v.Source = SafeSearch, ReasonSafeSearch, r.Host, "safe-search:"+eng.Name
			v.SafeHost, v.SafeParam = eng.Target, eng.Param
			if p.YouTube == YouTubeModerate && eng.ModerateTarget != "" {
				v.SafeHost = eng.ModerateTarget
			}
			return v
		}
	}
	return v
}

// DecideUnnamed decides a connection to an address (r.Host is an IP)
// that names no site: a TLS hello without SNI, or something that is not
// TLS at all (SSH or OpenVPN over port 443). Nothing says what it carries
// or where it leads, so it is a way around every category: in a profile
// that blocks any category of its own choosing it is blocked
// (ReasonNoName, "no-sni"), unless the address itself is allowed (a
// pause, a grant, the profile's allow list, or a category's exception).
// An address a list blocks stays blocked for that; a profile that blocks
// no category decides the address as Decide does. The explicit proxy and
// transparent mode both decide nameless connections here.
func (e *Engine) DecideUnnamed(r Request) Verdict {
	v := e.Decide(r)
	if v.Action == Block || !hostname.IsIP(r.Host) {
		return v
	}
	switch v.Reason {
	case ReasonPause, ReasonGrant, ReasonCustomAllow, ReasonCategoryAllow:
		return v
	}
	p := e.def
	if r.Profile != "" {
		p = e.profiles[r.Profile] // known: Decide blocks an unknown one
	}
	if len(p.Block) == 0 {
		return v
	}
	return Verdict{Action: Block, Reason: ReasonNoName, Profile: v.Profile}
}

// classifiable says whether a classifier's verdict of category id may
// block for p: p blocks the category, and no category's exceptions list
// the host (a listed exception is a judgement a person made; a score
// never overrides it).
func (e *Engine) classifiable(p *profile, id string, q *match.Query) bool {
	ci, ok := e.catIndex[id]
	if !ok || !slices.Contains(p.blocked, ci) {
		return false
	}
	for i := range e.cats {
		if _, ok := e.cats[i].Allow.LookupQuery(q); ok {
			return false
		}
	}
	return true
}

// overrules says whether a category's exception beats its block entry:
// the more specific entry wins, and an exception wins a tie. Both match
// the same host, so the longer name is the narrower one; a URL entry
// names a path and is narrower than any host. So an exception for a
// site a list names by mistake (xiaomi.com) frees that site, and never
// a subdomain the lists block on purpose (nsfw.reddit.com under an
// exception for reddit.com).
func overrules(exception, block match.Match) bool {
	return !strings.Contains(block.Entry, "/") && len(exception.Entry) >= len(block.Entry)
}

func lookup(d *match.DomainSet, u *match.URLSet, q *match.Query, r Request) (match.Match, bool) {
	if m, ok := d.LookupQuery(q); ok {
		return m, true
	}
	if r.Path != "" && u.Len() > 0 {
		return u.Lookup(r.Host, r.Path)
	}
	return match.Match{}, false
}

// source formats where an entry came from. It allocates, but only on the
// paths that are not a plain allow.
func source(m match.Match) string {
	if m.Line <= 0 {
		return m.Source
	}
	return fmt.Sprintf("%s:%d", m.Source, m.Line)
}

func (e *Engine) inHours(p *profile, t time.Time) bool {
	lt := t.In(e.loc)
	h, m, _ := lt.Clock()
	min := h*60 + m
	for _, s := range p.hours[lt.Weekday()] {
		if s.Start <= min && min < s.End {
			return true
		}
	}
	return false
}

// Profiles lists the profile names.
func (e *Engine) Profiles() []string {
	out := make([]string, 0, len(e.profiles))
	for n := range e.profiles {
		out = append(out, n)
	}
	return out
}

// Default is the default profile's name.
func (e *Engine) Default() string { return e.def.Name }

// Categories returns the compiled categories; callers must not change them.
func (e *Engine) Categories() []Category { return e.cats }

// SafeSearchEngines returns the safe-search map; callers must not change it.
func (e *Engine) SafeSearchEngines() []SearchEngine { return e.engines }

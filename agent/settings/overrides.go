package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
)

// Bounds on overrides.
const (
	MaxGrantDuration = 7 * 24 * time.Hour
	MaxPauseDuration = 24 * time.Hour
	MaxGrants        = 1000
)

// ErrBadGrant is matched by refused grants and pauses.
var ErrBadGrant = errors.New("bad grant")

// Overrides are the temporary grants and pauses, kept on disk so they
// survive a restart. Each expires by itself: expired ones are ignored at
// once and dropped at the next write.
type Overrides struct {
	path  string
	clock func() time.Time
	mu    sync.Mutex
	gs    []client.Grant
}

// OpenOverrides loads path. A missing file is empty; an unreadable or
// corrupt file is an error (the caller may run with none: failing closed,
// a corrupt file only loses temporary permissions).
func OpenOverrides(path string, clock func() time.Time) (*Overrides, error) {
	if clock == nil {
		clock = time.Now
	}
	o := &Overrides{path: path, clock: clock}
	b, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("reading overrides: %w", err)
	}
	var gs []client.Grant
	if err := json.Unmarshal(b, &gs); err != nil {
		return o, fmt.Errorf("decoding overrides %s: %w", path, err)
	}
	now := clock()
	for _, g := range gs {
		if g.Until.After(now) && g.Until.Sub(now) <= MaxGrantDuration && len(o.gs) < MaxGrants {
			o.gs = append(o.gs, g)
		}
	}
	return o, nil
}

// Grant allows host (normalised here) for d in profile ("" = all).
func (o *Overrides) Grant(host, profile string, d time.Duration) (client.Grant, error) {
	h, err := hostname.Normalize(host)
	if err != nil {
		return client.Grant{}, fmt.Errorf("%w: host %q: %w", ErrBadGrant, host, err)
	}
	if profile != "" && !nameRE.MatchString(profile) {
		return client.Grant{}, fmt.Errorf("%w: profile %q", ErrBadGrant, profile)
	}
	if d < time.Minute || d > MaxGrantDuration {
		return client.Grant{}, fmt.Errorf("%w: duration %s: between 1m and %s", ErrBadGrant, d, MaxGrantDuration)
	}
	return o.add(client.Grant{Host: h, Profile: profile, Until: o.clock().Add(d)})
}

// Pause stops filtering for everyone for d.
func (o *Overrides) Pause(d time.Duration) (client.Grant, error) {
	if d < time.Minute || d > MaxPauseDuration {
		return client.Grant{}, fmt.Errorf("%w: pause %s: between 1m and %s", ErrBadGrant, d, MaxPauseDuration)
	}
	return o.add(client.Grant{Until: o.clock().Add(d)})
}

func (o *Overrides) add(g client.Grant) (client.Grant, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock()
	gs := o.activeLocked(now)
	// A new grant for the same host and profile replaces the old one.
	gs = slices.DeleteFunc(gs, func(x client.Grant) bool { return x.Host == g.Host && x.Profile == g.Profile })
	if len(gs) >= MaxGrants {
		return client.Grant{}, fmt.Errorf("%w: more than %d active grants", ErrBadGrant, MaxGrants)
	}
	gs = append(gs, g)
	if err := o.writeLocked(gs); err != nil {
		return client.Grant{}, err
	}
	return g, nil
}

// Resume ends every pause; reports whether there was one.
func (o *Overrides) Resume() (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	gs := o.activeLocked(o.clock())
	n := len(gs)
	gs = slices.DeleteFunc(gs, func(x client.Grant) bool { return x.Host == "" })
	if len(gs) == n {
		return false, nil
	}
	return true, o.writeLocked(gs)
}

// Revoke removes the grants for host (any profile).
func (o *Overrides) Revoke(host string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	gs := slices.DeleteFunc(o.activeLocked(o.clock()), func(x client.Grant) bool { return x.Host == host && host != "" })
	return o.writeLocked(gs)
}

func (o *Overrides) writeLocked(gs []client.Grant) error {
	b, err := json.MarshalIndent(gs, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding overrides: %w", err)
	}
	if err := WriteFileAtomic(o.path, b, 0o600); err != nil {
		return err
	}
	o.gs = gs
	return nil
}

func (o *Overrides) activeLocked(now time.Time) []client.Grant {
	var out []client.Grant
	for _, g := range o.gs {
		if g.Until.After(now) {
			out = append(out, g)
		}
	}
	return out
}

// Active returns the grants and pauses in force now.
func (o *Overrides) Active() []client.Grant {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.activeLocked(o.clock())
}

// Paused reports whether a pause is in force and until when.
func (o *Overrides) Paused() (bool, time.Time) {
	var until time.Time
	for _, g := range o.Active() {
		if g.Host == "" && g.Until.After(until) {
			until = g.Until
		}
	}
	return !until.IsZero(), until
}

// Policy returns the active overrides as policy grants.
func (o *Overrides) Policy() []policy.Grant {
	var out []policy.Grant
	for _, g := range o.Active() {
		out = append(out, policy.Grant{Host: g.Host, Profile: g.Profile, Until: g.Until})
	}
	return out
}

// NextExpiry is when the next override ends (zero if none), so the agent
// can rebuild its engine and status then.
func (o *Overrides) NextExpiry() time.Time {
	var t time.Time
	for _, g := range o.Active() {
		if t.IsZero() || g.Until.Before(t) {
			t = g.Until
		}
	}
	return t
}

// Package update fetches, verifies and installs signed rule bundles, and
// keeps the last good bundle of every trusted publisher on disk.
//
// An [Updater] polls each configured [Source] (a URL, the publisher id it
// must deliver, and the root keys pinned for it) with jitter, conditional
// GETs (ETag, Last-Modified) and exponential backoff on failure. A download
// is capped at [Config.MaxSize] before anything reads it, and installed only
// if [Verify] accepts it: a signature chain to a pinned root, valid now, the
// source's publisher, and a version strictly greater than the one installed
// for that publisher. Anything else changes nothing; the failure becomes the
// source's [Status.LastError] (typed: bundle.ErrBadSignature, ErrRollback,
// ErrTooLarge, ..., or this package's ErrHTTPStatus, ErrWrongPublisher,
// ErrStore, or the context's deadline error).
//
// On disk, [Config.Dir] holds <publisher>.bundle, the installed bundle, and
// <publisher>.bundle.prev, the one before it. A new bundle is written to a
// temporary file, synced, the current one renamed to .prev, the new one
// renamed into place and the directory synced. [Updater.Load] verifies both
// files again at start: a corrupt or tampered current file falls back to
// .prev, then to nothing, in which case the agent filters with the embedded
// defaults. Leftover temporary files from a crash are removed.
//
// # Rollback and expiry
//
// <publisher>.floor holds the highest version ever installed for the
// publisher, written atomically with fsync; a download or side-load must
// be newer, and no fallback lowers it (TUF's rollback rule): a restart
// that finds the current file corrupt and uses .prev still refuses
// anything not newer than the floor.
//
// A bundle that expires while installed stays in force, before and after
// a restart (fail-safe: its rules are the newest the agent has; dropping
// it would filter with older .prev rules or the small embedded defaults,
// which is what a freeze attack, a server that stops serving new bundles,
// would want). It is reported instead: [Status.Expired] and Expires say
// since when, and the log says so once per bundle, at Load or at the first
// check or Status after it expired. A download that is already expired is
// refused as ever (ErrExpired): expiry only spares what was installed
// while valid. ETags live in memory, so the first poll after a restart
// downloads in full.
//
// Several publishers (a vendor and a school, say) are trusted at once; their
// bundles layer on top of the defaults ([Assemble]) and never replace each
// other, because each source can only install its own publisher's file.
//
// What it does not do: decide requests, build the Engine (the agent does,
// calling [Assemble] from [Config.OnChange]), or trust the transport. Plain
// HTTP is fine because nothing is installed before its signature verifies;
// the ETag only saves bandwidth.
//
// Concurrency: all methods are safe for concurrent use. [Updater.Run] polls
// until its context ends; [Updater.CheckNow] and [Updater.Install] may run
// at the same time, and checks of one source are serialised. OnChange is
// called from the goroutine that made the change, never concurrently with
// itself, and always with the newest set.
package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

// Defaults for the zero values of Config.
const (
	DefaultInterval   = time.Hour
	DefaultMinBackoff = time.Minute
	DefaultMaxBackoff = 4 * time.Hour
	DefaultTimeout    = 5 * time.Minute // one check: 64 MiB at ~2 Mbit/s
	DefaultMaxSize    = bundle.MaxBundleSize
)

// Errors of this package; bundle's sentinels (ErrBadSignature,
// ErrRollback, ErrTooLarge, ...) are returned wrapped as they are.
var (
	// ErrHTTPStatus: the server answered something other than 200 or 304.
	ErrHTTPStatus = errors.New("unexpected HTTP status")
	// ErrWrongPublisher: a correctly signed bundle of another publisher
	// than the source's. Installing it would let one publisher replace
	// another's rules.
	ErrWrongPublisher = errors.New("bundle from another publisher than the source's")
	// ErrNoSource: Install was given a bundle whose publisher no source names.
	ErrNoSource = errors.New("no source for this publisher")
	// ErrStore: the bundle verified but could not be written to disk; the
	// previous one stays installed.
	ErrStore = errors.New("storing bundle")
)

// A Source is one place bundles come from.
type Source struct {
	// URL of the bundle, http or https. Empty means the source is never
	// polled: its bundles only arrive through Install (side-loading).
	URL string
	// Publisher is the publisher id the bundle must carry. It names the
	// files <Publisher>.bundle and .prev, so it must match
	// [A-Za-z0-9][A-Za-z0-9._-]*.
	Publisher string
	// Roots are the root keys pinned for this source.
	Roots *bundle.Roots
}

// Config configures an Updater. Zero values take the stated defaults.
type Config struct {
	// Dir holds the installed bundles; it is created if missing. Required.
	Dir string
	// Sources to poll, at most one per publisher. Their order is the
	// layering order of the bundles given to OnChange.
	Sources []Source
	// HTTPClient fetches bundles. Nil means a client that dials directly
	// (never through a proxy: the agent may be the system proxy) with
	// dial, TLS and response-header timeouts.
	HTTPClient *http.Client
	// Interval between successful checks of a source. Zero means
	// DefaultInterval.
	Interval time.Duration
	// Jitter adds a random delay in [0, Jitter) to every wait, so a fleet
	// that booted together does not poll together. Zero means Interval/10;
	// negative means none.
	Jitter time.Duration
	// MinBackoff is the wait after a first failure; it doubles with each
	// further failure up to MaxBackoff. Zero means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one check: request, download and install. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxSize caps a download in bytes. Zero means DefaultMaxSize
	// (bundle.MaxBundleSize).
	MaxSize int64
	// Clock is the time bundles are verified at and status is stamped
	// with. Waits use real timers. Nil means time.Now.
	Clock func() time.Time
	// Logger gets one line per install and per failure. Nil discards.
	Logger *slog.Logger
	// OnChange receives the valid installed bundles, in source order,
	// whenever that set changes (after Load it is not called: Load
	// returns the set).
	OnChange func([]*bundle.Bundle)
}

// Status is what an Updater knows about one source.
type Status struct {
	URL       string
	Publisher string
	Version   uint64    // installed version; 0 for none
	Expires   time.Time // of the installed bundle
	// Expired: the installed bundle expired at Expires and is still in
	// force, because nothing newer verified since (see the package doc).
	Expired bool
	// Floor is the highest version ever installed for the publisher:
	// what a new bundle must exceed.
	Floor uint64
	// File is the file the installed bundle came from:
	// "<publisher>.bundle", "<publisher>.bundle.prev", or "" for none.
	File        string
	LastCheck   time.Time // zero before the first check
	LastSuccess time.Time
	NextCheck   time.Time // zero when Run is not polling
	Failures    int       // consecutive failed checks
	LastError   error     // of the last check or Load; nil after a success
}

// Updater keeps the bundles of its sources current. Create it with New.
type Updater struct {
	cfg  Config
	log  *slog.Logger
	srcs []*sourceState

	mu sync.Mutex // guards the mutable fields of every sourceState

	changeMu sync.Mutex // serialises OnChange
	notified [][32]byte // hashes of the set OnChange last received
}

type sourceState struct {
	src   Source
	shown string     // src.URL, redacted
	run   sync.Mutex // serialises checks and installs of this source

	// Guarded by Updater.mu.
	//
	// Only the verified file's bytes are kept, with the metadata: decoded,
	// a 1M-domain bundle is ~35 MB of strings the Engine has copied
	// already, against ~5 MB compressed. Bundles decodes afresh.
	b        *bundle.Bundle // metadata only: Categories nil
	raw      []byte         // the verified file
	version  uint64         // version floor for rollback (<publisher>.floor); never lowered
	expNoted time.Time      // Expires of the bundle whose expiry was logged
	hash     [32]byte       // of the installed file, so a re-served copy is a no-op
	file     string         // base name b was loaded or installed as
	etag     string
	lastMod  string
	st       Status
	failures int
}

var publisherRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// New checks cfg and returns an Updater. It touches neither disk nor
// network; call Load, then Run.
func New(cfg Config) (*Updater, error) {
	var errs []error
	if cfg.Dir == "" {
		errs = append(errs, errors.New("no bundle directory"))
	}
	seen := map[string]bool{}
	for i, s := range cfg.Sources {
		u, err := url.Parse(s.URL)
		if s.URL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			errs = append(errs, fmt.Errorf("source %d: URL %q: want http(s)://host/...", i, s.URL))
		}
		if !publisherRE.MatchString(s.Publisher) {
			errs = append(errs, fmt.Errorf("source %d: publisher %q: want [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 bytes", i, s.Publisher))
		}
		if seen[s.Publisher] {
			errs = append(errs, fmt.Errorf("source %d: publisher %q named twice", i, s.Publisher))
		}
		seen[s.Publisher] = true
		if s.Roots == nil || len(s.Roots.Keys()) == 0 {
			errs = append(errs, fmt.Errorf("source %d: no root keys pinned", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring updater: %w", err)
	}
	cfg = withDefaults(cfg)
	u := &Updater{cfg: cfg, log: cfg.Logger}
	for _, s := range cfg.Sources {
		// Errors, logs and Status carry the URL without a password.
		shown := s.URL
		if pu, err := url.Parse(s.URL); err == nil && s.URL != "" {
			shown = pu.Redacted()
		}
		u.srcs = append(u.srcs, &sourceState{src: s, shown: shown, st: Status{URL: shown, Publisher: s.Publisher}})
	}
	return u, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = cfg.Interval / 10
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultClient()
	}
	return cfg
}

func defaultClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		// Never through a proxy: the agent itself is usually the system
		// proxy, and a bundle fetch must not depend on its own filter.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          4,
		ForceAttemptHTTP2:     true,
	}}
}

// Bundles returns the installed bundles, expired ones included (see the
// package doc), in source order, decoded afresh from the verified bytes:
// the caller owns them and may drop them once the Engine is built.
func (u *Updater) Bundles() []*bundle.Bundle {
	raws, _ := u.valid()
	return u.decode(raws)
}

// valid returns the bytes and hashes of the installed bundles. One that
// expired while installed stays: enforcing the newest rules the agent has
// is the fail-safe side (noteExpired reports it).
func (u *Updater) valid() (raws [][]byte, hashes [][32]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.srcs {
		if s.b != nil {
			raws, hashes = append(raws, s.raw), append(hashes, s.hash)
		}
	}
	return raws, hashes
}

// noteExpired logs, once per bundle, that an installed bundle expired and
// is still enforced.
func (u *Updater) noteExpired() {
	now := u.cfg.Clock()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, s := range u.srcs {
		if s.b == nil || now.Before(s.b.Expires) || s.expNoted.Equal(s.b.Expires) {
			continue
		}
		s.expNoted = s.b.Expires
		u.log.Warn("bundle expired; still enforcing it until a newer one verifies",
			"publisher", s.src.Publisher, "version", s.b.Version, "expired_since", s.b.Expires, "file", s.file)
	}
}

func (u *Updater) decode(raws [][]byte) []*bundle.Bundle {
	out := make([]*bundle.Bundle, 0, len(raws))
	for _, raw := range raws {
		// These bytes passed Verify and never left memory since, so
		// decoding them without verifying again is safe.
		b, err := bundle.Inspect(bytes.NewReader(raw))
		if err != nil {
			u.log.Error("decoding an installed bundle", "err", err) // cannot happen: it decoded before
			continue
		}
		out = append(out, b)
	}
	return out
}

// setInstalled records b, verified from data, as s's installed bundle.
// The caller holds u.mu.
func (s *sourceState) setInstalled(b *bundle.Bundle, data []byte, sum [32]byte, file string) {
	meta := *b
	meta.Categories = nil
	s.b, s.raw, s.version, s.hash, s.file = &meta, data, b.Version, sum, file
}

// Status returns the status of every source, in source order.
func (u *Updater) Status() []Status {
	u.noteExpired()
	now := u.cfg.Clock()
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]Status, len(u.srcs))
	for i, s := range u.srcs {
		out[i] = s.st
		out[i].Failures = s.failures
		out[i].Floor = s.version
		if s.b != nil {
			out[i].Version, out[i].Expires, out[i].File = s.b.Version, s.b.Expires, s.file
			out[i].Expired = !now.Before(s.b.Expires)
		}
	}
	return out
}

// notify calls OnChange if the valid set differs from the one last given.
func (u *Updater) notify() {
	u.changeMu.Lock()
	defer u.changeMu.Unlock()
	raws, hashes := u.valid()
	if slices.Equal(hashes, u.notified) {
		return
	}
	u.notified = hashes
	if u.cfg.OnChange != nil {
		u.cfg.OnChange(u.decode(raws))
	}
}

// Run polls every source until ctx ends, each in its own goroutine: the
// first check after a random part of Jitter, then every Interval (plus
// jitter) after a success, or after MinBackoff doubling to MaxBackoff after
// failures. A panic in a check is recovered and counts as a failure. Run
// returns ctx's error.
func (u *Updater) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range u.srcs {
		if s.src.URL == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.loop(ctx, s)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (u *Updater) loop(ctx context.Context, s *sourceState) {
	t := time.NewTimer(u.jitter())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d := u.checkScheduled(ctx, s)
		t.Reset(d)
	}
}

// checkScheduled checks s, recovering a panic, and returns the wait
// until its next check.
func (u *Updater) checkScheduled(ctx context.Context, s *sourceState) (next time.Duration) {
	defer func() {
		if p := recover(); p != nil {
			// A bug in a background refresh must not stop filtering: the
			// installed bundles stay, and the check is retried later.
			u.log.Error("bundle check panicked", "publisher", s.src.Publisher, "panic", fmt.Sprint(p))
			u.mu.Lock()
			s.failures++
			s.st.LastError = fmt.Errorf("checking %s: panic: %v", s.src.Publisher, p)
			next = u.wait(s.failures)
			s.st.NextCheck = u.cfg.Clock().Add(next)
			u.mu.Unlock()
		}
	}()
	u.check(ctx, s)
	u.notify()
	u.noteExpired()
	u.mu.Lock()
	defer u.mu.Unlock()
	next = u.wait(s.failures)
	s.st.NextCheck = u.cfg.Clock().Add(next)
	return next
}

// wait is the delay before the next check after failures consecutive
// failed checks.
func (u *Updater) wait(failures int) time.Duration {
	if failures == 0 {
		return u.cfg.Interval + u.jitter()
	}
	d := u.cfg.MinBackoff
	for i := 1; i < failures && d < u.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, u.cfg.MaxBackoff) + u.jitter()
}

func (u *Updater) jitter() time.Duration {
	if u.cfg.Jitter <= 0 {
		return 0
	}
	return rand.N(u.cfg.Jitter)
}

// CheckNow checks every source once, in order, and returns the errors of
// those that failed, joined. It is what "update now" in the tray does; a
// running Run keeps its own schedule.
func (u *Updater) CheckNow(ctx context.Context) error {
	var errs []error
	for _, s := range u.srcs {
		if s.src.URL != "" {
			errs = append(errs, u.check(ctx, s))
		}
	}
	u.notify()
	u.noteExpired()
	return errors.Join(errs...)
}

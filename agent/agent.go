// Package agent wires GreenGate's running endpoint: it builds the policy
// engine from the embedded defaults and the configured list files, opens the
// block log, and runs the filtering proxy until its context ends.
//
// The engine is held in an atomic.Pointer: the proxy reads it once per
// decision and SetEngine replaces it whole (build new, validate, swap), so a
// decision never waits on a reload. There is always a valid engine; one that
// fails to build is never installed.
//
// With Config.Updates naming sources, the bundle updater (agent/update)
// runs beside the proxy and every installed bundle rebuilds the engine.
// Parental settings (agent/settings) plug in through Config.Parental and
// Rebuild; agent/service wires them and the admin API (agent/admin) around
// an Agent.
//
// Concurrency: Engine and SetEngine are safe from any goroutine. Run is
// called once.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/agent/transparent"
	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// ListSpec names a list file and the category its entries block.
type ListSpec struct {
	Category string
	Path     string
}

// Config configures an Agent. Zero values take the stated defaults.
type Config struct {
	// Listen is the proxy's address. "" means proxy.DefaultListen.
	Listen string
	// DataDir holds the block log (blocklog.db). Required; created 0700
	// when missing.
	DataDir string
	// Lists are extra list files; each named category is blocked in the
	// profile (a list given to the agent is there to be blocked).
	Lists []ListSpec
	// ConnectPorts are the ports CONNECT may reach. Nil means 443.
	ConnectPorts []uint16
	// AllowedClients turns on LAN mode; nil means loopback clients only.
	AllowedClients []netip.Prefix
	// LANReachable are the private networks LAN clients may reach through
	// the proxy (proxy.Config.LANReachable).
	LANReachable []netip.Prefix
	// OwnAddrs are the agent's other listeners (admin API) the proxy must
	// never reach.
	OwnAddrs []string
	// Logger receives operational logs. Nil discards.
	Logger *slog.Logger
	// Clock gives decision time. Nil means time.Now.
	Clock func() time.Time
	// DialContext dials origins; nil means the proxy's guarded dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Ready, when set, is called with the proxy's address once it accepts
	// connections.
	Ready func(net.Addr)
	// TunnelBlocked hears of blocked HTTPS sites (proxy.Config). May be nil.
	TunnelBlocked func(remote string, ev blocklog.Event)
	// Profile picks the settings profile for a client address (a lab PC,
	// a café seat); nil means the engine's default profile for everyone.
	Profile func(client net.Addr) string
	// ClientKey names a connection's client for the per-client connection
	// limit (proxy.Config.ClientKey); server is the proxy's address, or in
	// transparent mode where the client was going. Nil means by address.
	ClientKey func(client, server net.Addr) string
	// Asks limits "ask a parent" on the block page; the service passes
	// the admin API's limiter, so both share one limit. Nil: the proxy's
	// own.
	Asks proxy.AskLimiter

	// Language is the block page's language for browsers that ask for
	// neither Chinese nor English (proxy.Config.Language).
	Language func() string
	// Transparent, when set, is the address of the transparent listener
	// (agent/transparent, Linux) for nft-redirected connections, served
	// beside the proxy with the same engine and block log. "" means off.
	Transparent string
	// LogMaxAge is how long block events are kept (the parent's
	// log_retention_days). Zero means blocklog.DefaultMaxAge.
	LogMaxAge time.Duration
	// LogMaxBytes bounds the block log on disk (the parent's
	// log_max_bytes). Zero means blocklog.DefaultMaxBytes.
	LogMaxBytes int64
	// Parental, when set, fills in the parental-settings fields of the
	// inputs of every engine build (profiles, default profile, grants):
	// agent/service wires agent/settings here. Nil runs on the single
	// default profile.
	Parental func(*EngineInputs)
	// CA, when set, shows the block page for blocked HTTPS
	// (proxy.Config.CA): agent/localca's CA for this machine. Nil
	// refuses HTTPS blocks with no page.
	CA proxy.BlockPageCA
	// Updates configures signed rule bundles (agent/update): Sources are
	// the trusted publishers; with none, the agent runs on the defaults and
	// Lists alone. Dir "" means DataDir/bundles; Clock and Logger default to
	// the agent's; OnChange is the agent's own (it rebuilds the engine).
	Updates update.Config
}

// Agent is a configured endpoint. Create it with New; Run it once.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	engine atomic.Pointer[policy.Engine]
	events *blocklog.Log
	proxy  *proxy.Proxy
	update *update.Updater // nil without update sources

	buildMu sync.Mutex // one engine build at a time
	// rules are the compiled categories of the defaults, the bundles in
	// force and the lists; guarded by buildMu. Compiling them is the
	// expensive part of a build (half a million entries), so only a
	// bundle change does it; a settings change, grant or pause reuses them.
	rules compiled

	classifier policy.Classifier // built once, shared by every engine (it caches); nil if it failed
}

// ErrNoDataDir is returned by New when Config.DataDir is empty.
var ErrNoDataDir = errors.New("agent config has no data directory")

// New builds the engine, opens the block log and prepares the proxy. It
// fails when a list cannot be read (the admin asked for it: running without
// it would silently filter less) or the block log cannot be opened; on error
// nothing is left open.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.DataDir == "" {
		return nil, ErrNoDataDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	a := &Agent{cfg: cfg, log: cfg.Logger}
	// Fail open for the classifier alone: without it the lists still block.
	if c, err := defaults.Classifier(); err != nil {
		a.log.Error("agent: host name classifier unavailable; lists only", "err", err)
	} else {
		a.classifier = c
	}
	t0 := time.Now()
	var bundles []*bundle.Bundle
	if len(cfg.Updates.Sources) > 0 {
		ucfg := cfg.Updates
		if ucfg.Dir == "" {
			ucfg.Dir = filepath.Join(cfg.DataDir, "bundles")
		}
		if ucfg.Clock == nil {
			ucfg.Clock = cfg.Clock
		}
		if ucfg.Logger == nil {
			ucfg.Logger = cfg.Logger
		}
		ucfg.OnChange = a.bundlesChanged
		u, err := update.New(ucfg)
		if err != nil {
			return nil, err
		}
		// Verified again from disk; falls back to .prev, then to none.
		bundles, a.update = u.Load(), u
	}
	in := a.inputs()
	rules, err := compileRules(in, bundles)
	if err != nil {
		return nil, err
	}
	eng, err := assemble(rules, in)
	if err != nil {
		return nil, err
	}
	a.rules = rules
	a.engine.Store(eng)
	// Parsing a big list leaves its garbage (several times the compiled
	// sets) on the heap until the next GC cycle; hand it back to the OS now,
	// so an old lab PC sees the steady footprint from the start.
	debug.FreeOSMemory()
	a.log.Info("agent: rules loaded", "lists", len(cfg.Lists), "bundles", len(bundles), "took", time.Since(t0).Round(time.Millisecond))

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	// MkdirAll keeps an existing directory's mode, and packages shipped it
	// 0755: the block log says where the family browsed.
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("making data directory %s private: %w", cfg.DataDir, err)
	}
	path := filepath.Join(cfg.DataDir, "blocklog.db")
	bl, moved, err := blocklog.OpenOrMoveAside(ctx, blocklog.Config{Path: path, Logger: cfg.Logger, Clock: cfg.Clock, MaxAge: cfg.LogMaxAge, MaxBytes: cfg.LogMaxBytes})
	if err != nil {
		return nil, fmt.Errorf("opening block log %s: %w", path, err)
	}
	if moved != "" {
		a.log.Warn("agent: block log was corrupt; moved aside and started fresh", "moved_to", moved)
	}
	a.events = bl
	a.proxy, err = proxy.New(proxy.Config{
		Listen:         cfg.Listen,
		Engine:         a.Engine,
		Profile:        cfg.Profile,
		ClientKey:      cfg.ClientKey,
		Asks:           cfg.Asks,
		Language:       cfg.Language,
		Log:            bl,
		TunnelBlocked:  cfg.TunnelBlocked,
		ConnectPorts:   cfg.ConnectPorts,
		AllowedClients: cfg.AllowedClients,
		LANReachable:   cfg.LANReachable,
		OwnAddrs:       cfg.OwnAddrs,
		DialContext:    cfg.DialContext,
		Clock:          cfg.Clock,
		Logger:         cfg.Logger,
		CA:             cfg.CA,
	})
	if err != nil {
		_ = bl.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("configuring proxy: %w", err)
	}
	return a, nil
}

// Engine returns the engine in force. It is never nil after New.
func (a *Agent) Engine() *policy.Engine { return a.engine.Load() }

// SetEngine installs a new engine for every request decided from now on.
// A nil engine is ignored: there is always a valid one.
func (a *Agent) SetEngine(e *policy.Engine) {
	if e == nil {
		return
	}
	a.engine.Store(e)
}

// bundlesChanged rebuilds the engine when the updater installed or
// dropped a bundle. A build failure keeps the engine in force.
func (a *Agent) bundlesChanged(bs []*bundle.Bundle) {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	in := a.inputs()
	rules, err := compileRules(in, bs)
	if err == nil {
		var eng *policy.Engine
		if eng, err = assemble(rules, in); err == nil {
			a.rules = rules
			a.SetEngine(eng)
		}
	}
	if err != nil {
		a.log.Error("agent: rules with new bundles failed to build; keeping the engine in force", "err", err)
		return
	}
	a.log.Info("agent: bundles changed; engine swapped", "bundles", len(bs))
}

// Rebuild builds a new engine from the bundles in force and the current
// Config.Parental inputs (after a settings edit, a grant or its expiry).
// A failure keeps the engine in force and is returned.
func (a *Agent) Rebuild() error {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	eng, err := assemble(a.rules, a.inputs())
	if err != nil {
		return err
	}
	a.SetEngine(eng)
	return nil
}

func (a *Agent) inputs() EngineInputs {
	in := EngineInputs{Lists: a.cfg.Lists, Logger: a.log, Classifier: a.classifier}
	if a.cfg.Parental != nil {
		a.cfg.Parental(&in)
	}
	return in
}

// Updater is the bundle updater, for status and "update now"; nil when
// no update source is configured.
func (a *Agent) Updater() *update.Updater { return a.update }

// BlockLog is the agent's block log, for the admin API and tests.
func (a *Agent) BlockLog() *blocklog.Log { return a.events }

// Run serves the proxy until ctx ends, then closes the block log, committing
// queued events. It returns nil after a shutdown caused by ctx.
func (a *Agent) Run(ctx context.Context) error {
	ready := func(addr net.Addr) {
		a.log.Info("agent: proxy listening", "addr", addr.String())
		if a.cfg.Ready != nil {
			a.cfg.Ready(addr)
		}
	}
	uctx, ucancel := context.WithCancel(ctx)
	var uwg sync.WaitGroup
	if a.update != nil {
		uwg.Add(1)
		go func() {
			defer uwg.Done()
			_ = a.update.Run(uctx) // returns uctx's error
		}()
	}
	if a.cfg.Transparent != "" {
		// Listen before the proxy starts: with the nft redirect in place,
		// a listener that is not there breaks every connection, so a
		// failure here stops the agent loudly.
		tl, terr := transparent.New(transparent.Config{
			Listen: a.cfg.Transparent, Engine: a.Engine, Profile: a.cfg.Profile, ClientKey: a.cfg.ClientKey, Asks: a.cfg.Asks, Log: a.events, TunnelBlocked: a.cfg.TunnelBlocked, Clock: a.cfg.Clock, Logger: a.log,
		})
		var tln net.Listener
		if terr == nil {
			var lc net.ListenConfig
			tln, terr = lc.Listen(ctx, "tcp", a.cfg.Transparent)
		}
		if terr != nil {
			ucancel()
			uwg.Wait()
			_ = a.events.Close(context.WithoutCancel(ctx))
			return fmt.Errorf("starting transparent mode on %s: %w", a.cfg.Transparent, terr)
		}
		a.log.Info("agent: transparent listener ready", "addr", tln.Addr().String())
		uwg.Add(1)
		go func() {
			defer uwg.Done()
			if err := tl.Serve(uctx, tln); err != nil {
				a.log.Error("agent: transparent listener stopped", "err", err)
			}
		}()
	}
	err := a.proxy.ListenAndServe(ctx, ready)
	ucancel()
	uwg.Wait()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if cerr := a.events.Close(cctx); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing block log: %w", cerr))
	}
	return err
}

// EngineInputs is what an engine is built from besides the bundles in
// force (which the agent holds): the lists, and the parental settings
// (agent/settings) that Config.Parental fills in.
type EngineInputs struct {
	Lists  []ListSpec
	Logger *slog.Logger

	// Parental settings (agent/settings). Profiles, when any, replace the
	// default profile; category ids no rules provide are dropped from them
	// (nothing to block with) and logged. Default names the profile for
	// requests naming none. Grants are active grants and pauses.
	Profiles []policy.Profile
	Default  string
	Grants   []policy.Grant

	// Classifier decides names no list has (nil: lists only).
	Classifier policy.Classifier
}

// ─── compileRules and assemble: where rules and settings become an Engine ──
//
// Order matters only for display: sources layer, none replaces another.
// Plug-in points, in the order they will apply:
//  1. embedded defaults (always; the floor when everything else fails);
//  2. verified bundles' lists (agent/update) — AddEntries per category;
//  3. list files named in the config (--list);
//  4. profiles from parental settings (agent/settings) replace the single
//     default profile below; grants and pauses go into policy.Config.Grants.

// compiled is what compileRules makes: immutable, shared by every engine
// assembled on it.
type compiled struct {
	cats []policy.Category
	safe []policy.SearchEngine
}

// compileRules compiles steps 1 to 3: the expensive part, done when the
// rules change (start, a bundle installed or dropped), never for settings.
func compileRules(in EngineInputs, bundles []*bundle.Bundle) (compiled, error) {
	log := in.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		return compiled{}, fmt.Errorf("loading embedded rules: %w", err)
	}
	if n := update.Assemble(&b, bundles); n > 0 {
		// Signed, but still not trusted to be well-formed: such entries
		// are skipped, the rest of the bundle is used.
		log.Warn("agent: bundle entries not in normal form skipped", "rejected", n)
	}
	for _, l := range in.Lists {
		st, err := b.AddFile(l.Category, l.Path)
		if err != nil {
			return compiled{}, fmt.Errorf("loading list %s for %s: %w", l.Path, l.Category, err)
		}
		log.Info("agent: list loaded", "category", l.Category, "path", l.Path,
			"entries", st.Entries, "rejected", st.Rejected()-st.Skipped[lists.ReasonDuplicate])
	}
	cats, safe := b.Build()
	return compiled{cats: cats, safe: safe}, nil
}

// assemble is step 4 on compiled rules: profiles, the default profile,
// grants and pauses. It compiles only the profiles' own short lists, so
// a settings change costs milliseconds whatever the size of the rules.
func assemble(r compiled, in EngineInputs) (*policy.Engine, error) {
	log := in.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	profiles := []policy.Profile{defaults.Profile()}
	if len(in.Profiles) > 0 {
		profiles = slices.Clone(in.Profiles)
	}
	for _, l := range in.Lists {
		for i := range profiles {
			if !slices.Contains(profiles[i].Block, l.Category) {
				profiles[i].Block = append(slices.Clip(profiles[i].Block), l.Category)
			}
		}
	}
	known := make(map[string]bool, len(r.cats))
	for _, c := range r.cats {
		known[c.ID] = true
	}
	for i := range profiles {
		profiles[i].Block = slices.DeleteFunc(slices.Clone(profiles[i].Block), func(id string) bool {
			if !known[id] {
				log.Warn("agent: profile blocks a category no rules provide; skipped", "profile", profiles[i].Name, "category", id)
			}
			return !known[id]
		})
	}
	eng, err := policy.New(policy.Config{Categories: r.cats, SafeSearch: r.safe, Profiles: profiles, Default: in.Default, Grants: in.Grants, Classifier: in.Classifier})
	if err != nil {
		return nil, fmt.Errorf("building policy engine: %w", err)
	}
	return eng, nil
}

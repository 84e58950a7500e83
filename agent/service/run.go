package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/agent/admin"
	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/localca"
	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
)

// AgentConfig configures RunAgent. Zero values take the stated defaults.
type AgentConfig struct {
	// Settings locates the settings, password and overrides files.
	Settings settings.Config
	// DataDir holds the block log and bundles. "" means
	// settings.DefaultStateDir.
	DataDir string
	// Socket is the admin API's socket or pipe. "" means
	// client.DefaultSocket.
	Socket string
	// Listen, when set, overrides the settings' proxy address (tests use
	// 127.0.0.1:0).
	Listen string
	// Version is reported in the status.
	Version string
	// Ready is called with the proxy's address once it accepts.
	Ready func(net.Addr)
	// Agent, when set, adjusts the agent's Config last (tests set
	// DialContext).
	Agent func(*agent.Config)
	// Logger receives operational logs. Nil discards.
	Logger *slog.Logger
	// Clock is the time source. Nil means time.Now.
	Clock func() time.Time
}

// RunAgent is what `greengate service run` runs: the agent with the
// parental settings, grants, settings watcher and admin API wired in. It
// serves until ctx ends and returns nil then.
//
// Failure classes: a missing settings file runs on settings.Default; an
// invalid one runs on the defaults too and reports why in the status
// (fail-safe: the filter never turns off over a typo). A corrupt
// overrides file drops the temporary grants (fail-closed). Failing to open
// the block log or the admin socket is an error: the service manager
// restarts us.
//
// Settings the agent reads only when it starts (listen address, LAN
// clients, update sources, log retention) take effect by restarting the
// agent in this process: a lab admin who moves the proxy to the LAN
// address sees it there a moment later, not after a reboot. Requests in
// flight get the proxy's shutdown grace; open tunnels are cut.
func RunAgent(ctx context.Context, cfg AgentConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.DataDir == "" {
		cfg.DataDir = settings.DefaultStateDir
	}
	if cfg.Socket == "" {
		cfg.Socket = client.DefaultSocket
	}
	if cfg.Settings.Logger == nil {
		cfg.Settings.Logger = cfg.Logger
	}
	if cfg.Settings.Clock == nil {
		cfg.Settings.Clock = cfg.Clock
	}
	store, err := settings.Open(cfg.Settings)
	if err != nil {
		return err
	}
	for {
		again, err := runOnce(ctx, cfg, store)
		if err != nil || !again || ctx.Err() != nil {
			return err
		}
		cfg.Logger.Info("service: agent restarting for settings it reads at start")
	}
}

// startFields are the settings runOnce reads only at start.
func startFields(s settings.Settings) string {
	b, _ := json.Marshal([]any{s.Listen, s.LANClients, s.Updates, s.LogRetentionDays, s.LogMaxBytes})
	return string(b)
}

// runOnce runs the agent until ctx ends (false) or a settings change needs
// a fresh start (true).
func runOnce(ctx context.Context, cfg AgentConfig, store *settings.Store) (restart bool, err error) {
	log := cfg.Logger
	inner, stop := context.WithCancel(ctx)
	defer stop()
	var restarting atomic.Bool
	var settingsErr atomic.Pointer[string]
	setErr := func(err error) {
		if err == nil {
			settingsErr.Store(nil)
			return
		}
		s := err.Error()
		settingsErr.Store(&s)
	}
	st, err := store.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Info("service: no settings file yet; running on the defaults", "path", store.Path())
	case err != nil:
		log.Error("service: settings refused; running on the defaults", "err", err)
		setErr(err)
		st = settings.Default()
	}
	ov, err := store.Overrides()
	if err != nil {
		log.Error("service: grants and pauses unreadable; starting without them", "err", err)
	}
	var cur atomic.Pointer[settings.Settings]
	cur.Store(&st)

	acfg := agent.Config{
		Listen:      st.Listen,
		DataDir:     cfg.DataDir,
		LogMaxAge:   time.Duration(st.LogRetentionDays) * 24 * time.Hour,
		LogMaxBytes: st.LogMaxBytes,
		Logger:      log,
		Clock:       cfg.Clock,
		Parental: func(in *agent.EngineInputs) {
			s := cur.Load()
			ps, _, err := settings.ToPolicy(*s, nil)
			if err != nil { // cannot happen: only validated settings are stored
				log.Error("service: settings do not convert; keeping the default profile", "err", err)
				return
			}
			in.Profiles, in.Default, in.Grants = ps, s.DefaultProfile, ov.Policy()
		},
	}
	acfg.Language = func() string { return cur.Load().Language }
	// HTTPS block pages are on where the machine's CA was made and trusted
	// (`greengate ca install`, which the package runs); off otherwise.
	if ca, err := localca.Load(localca.Config{Dir: filepath.Join(cfg.DataDir, "ca")}); err == nil {
		acfg.CA = ca
		log.Info("service: HTTPS block pages on; allowed HTTPS is never decrypted", "ca", ca.Subject())
	} else if !errors.Is(err, localca.ErrNoCA) {
		log.Warn("service: local CA unusable; HTTPS blocks are refused without a page", "err", err)
	}
	if cfg.Listen != "" {
		acfg.Listen = cfg.Listen
	}
	if len(st.LANClients) > 0 {
		acfg.AllowedClients = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		for _, c := range st.LANClients {
			acfg.AllowedClients = append(acfg.AllowedClients, netip.MustParsePrefix(c).Masked())
		}
	}
	var proxyAddr atomic.Pointer[string]
	proxyServer := func() net.Addr {
		if p := proxyAddr.Load(); p != nil {
			if ap, err := netip.ParseAddrPort(*p); err == nil {
				return net.TCPAddrFromAddrPort(ap)
			}
		}
		return nil
	}
	board := &notices{now: cfg.Clock}
	acfg.TunnelBlocked = func(remote string, ev blocklog.Event) {
		board.blocked(remote, ev, func(c net.Addr) (int, bool) { return localUID(c, proxyServer()) })
	}
	acfg.Ready = func(a net.Addr) {
		s := a.String()
		proxyAddr.Store(&s)
		if cfg.Ready != nil {
			cfg.Ready(a)
		}
	}
	// "Ask a parent" from the block page and from the tray share one
	// limit per user.
	asks := settings.NewAskLimiter(admin.DefaultAskEvery, cfg.Clock)
	acfg.Asks = asks
	// One local user's processes share one per-client connection limit;
	// LAN machines, and local sockets the kernel names no owner of, are
	// limited by address.
	acfg.ClientKey = func(c, server net.Addr) string {
		if uid, ok := localUID(c, server); ok {
			return "uid:" + strconv.Itoa(uid)
		}
		return ""
	}
	// LAN clients by network (settings "lan_profiles"); local ones by OS
	// user ("users"): the kernel says which user owns a loopback client's
	// socket. Anything unknown gets the default profile.
	acfg.Profile = func(c net.Addr) string {
		s := cur.Load()
		if ap, ok := addrPort(c); ok && !ap.Addr().Unmap().IsLoopback() {
			return settings.ProfileForAddr(*s, ap.Addr())
		}
		if len(s.Users) == 0 {
			return ""
		}
		uid, ok := localUID(c, proxyServer())
		if !ok {
			return ""
		}
		u, err := user.LookupId(strconv.Itoa(uid))
		if err != nil {
			return ""
		}
		return settings.ProfileFor(*s, u.Username)
	}
	if srcs, err := updateSources(st); err != nil {
		log.Error("service: update sources unusable; running without updates", "err", err)
	} else if len(srcs) > 0 {
		acfg.Updates = update.Config{Sources: srcs, Dir: filepath.Join(cfg.DataDir, "bundles"), Interval: time.Duration(st.Updates.Interval)}
	}
	if cfg.Agent != nil {
		cfg.Agent(&acfg)
	}
	a, err := agent.New(inner, acfg)
	if err != nil {
		return false, fmt.Errorf("starting agent: %w", err)
	}
	known := func() []string {
		var ids []string
		for _, c := range a.Engine().Categories() {
			ids = append(ids, c.ID)
		}
		return ids
	}
	rebuild := func(why string) {
		if err := a.Rebuild(); err != nil {
			log.Error("service: engine rebuild failed; keeping the engine in force", "why", why, "err", err)
			return
		}
		log.Info("service: engine rebuilt", "why", why)
	}
	apply := func(s settings.Settings) {
		old := cur.Swap(&s)
		setErr(nil)
		if startFields(*old) != startFields(s) {
			if !restarting.Swap(true) {
				log.Info("service: settings read at start changed; restarting the agent")
				stop()
			}
			return
		}
		rebuild("settings changed")
	}
	w, err := settings.Watch(settings.WatchConfig{
		Dir: store.Dir(), Current: st, Known: known, OnChange: apply, OnError: setErr, Logger: log,
	})
	if err != nil {
		log.Error("service: not watching the settings file; edits need a restart", "err", err)
	} else {
		defer w.Close()
	}
	var updateNow func(context.Context) error
	if u := a.Updater(); u != nil {
		updateNow = u.CheckNow
	}
	var ln net.Listener
	srv, err := admin.New(admin.Config{
		Store:       store,
		Overrides:   ov,
		Log:         a.BlockLog(),
		Known:       known,
		OnSettings:  apply,
		OnOverrides: func() { rebuild("grant or pause") },
		UpdateNow:   updateNow,
		Notices:     board.since,
		Asks:        asks,
		Logger:      log,
		Clock:       cfg.Clock,
		Status: func() client.Status {
			s := client.Status{Running: true, Version: cfg.Version, RuleCounts: map[string]int{}}
			if ca, ok := acfg.CA.(*localca.CA); ok {
				s.HTTPSBlockPages = ca.Subject() + " (SHA-256 " + ca.Fingerprint()[:16] + "…)"
			}
			if p := proxyAddr.Load(); p != nil {
				s.ProxyAddr = *p
			}
			if e := settingsErr.Load(); e != nil {
				s.SettingsError = *e
			}
			for _, c := range a.Engine().Categories() {
				n := 0
				if c.Domains != nil {
					n += c.Domains.Len()
				}
				s.RuleCounts[c.ID] = n
			}
			if u := a.Updater(); u != nil {
				for _, us := range u.Status() {
					bs := client.BundleStatus{Publisher: us.Publisher, Version: us.Version, LastCheck: us.LastCheck, LastSuccess: us.LastSuccess,
						Expires: us.Expires, Expired: us.Expired}
					if us.LastError != nil {
						bs.LastError = us.LastError.Error()
					}
					s.Bundles = append(s.Bundles, bs)
				}
			}
			return s
		},
	})
	if err == nil {
		ln, err = admin.Listen(cfg.Socket)
	}
	if err != nil {
		// The agent's block log is open; Run would close it. Close it here.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return false, errors.Join(err, a.BlockLog().Close(cctx))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
			log.Error("service: admin API stopped", "err", err)
		}
	})
	wg.Go(func() {
		<-inner.Done()
		// A parent reading the log sees when the filter went down.
		why := "filter stopping"
		if restarting.Load() {
			why = "filter restarting for new settings"
		}
		a.BlockLog().Record(blocklog.Event{Action: blocklog.ActionAdmin, Reason: why})
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	a.BlockLog().Record(blocklog.Event{Action: blocklog.ActionAdmin, Reason: "filter started"})
	err = a.Run(inner)
	wg.Wait()
	return restarting.Load(), err
}

// updateSources turns the settings' sources into agent/update's.
func updateSources(s settings.Settings) ([]update.Source, error) {
	var out []update.Source
	for _, src := range s.Updates.Sources {
		var text string
		for _, k := range src.RootKeys {
			text += k + "\n"
		}
		roots, err := bundle.ParseRoots(text)
		if err != nil {
			return nil, fmt.Errorf("root keys of %s: %w", src.Publisher, err)
		}
		out = append(out, update.Source{URL: src.URL, Publisher: src.Publisher, Roots: roots})
	}
	return out, nil
}

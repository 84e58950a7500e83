// Package proxy is GreenGate's explicit filtering proxy. Browsers are pointed
// at it (127.0.0.1:8899 by default) and every request is decided by the
// current policy.Engine before anything reaches the network.
//
// # Plain HTTP
//
// The host in the request line is normalised once (package hostname) and the
// request is decided on host plus path and query (raw and percent-decoded; a
// block on either blocks). The common request, an allowed HTTP/1.1 GET
// with no body, is served by the lane (lane.go): its own loop on the
// client's connection, which decides on peeked bytes and gives the
// connection, unread, to the net/http server and goproxy for everything
// else. goproxy handles keep-alive, WebSocket upgrades and trailers; a GET
// or HEAD with no body goes to the origin and back on the client's
// goroutine over a pool of origin connections (upstream.go), the rest
// through http.Transport. Blocked ones get the
// block page: status 403, English or Chinese by Accept-Language, every value
// HTML-escaped, with an "ask a parent" link to /greengate/request on the
// blocked host, which the proxy answers itself and records as a
// blocklog.ActionRequest event. What is decided is what is contacted: the
// request goes to the request line's host, in its normal form, and carries
// that host as its Host header whatever the client wrote there.
//
// # HTTPS (CONNECT)
//
// CONNECT is handled here, not by goproxy (whose hijack action drops bytes a
// client pipelines after the CONNECT request). The CONNECT host is decided
// first; a block answers 403 with a short body. Otherwise the proxy answers
// 200, peeks the ClientHello (agent/sni, with a deadline and a size cap) and
// decides the SNI too. The tunnel is closed when either is blocked: an IP
// literal CONNECT with a blocked SNI, or a fronted CONNECT whose SNI differs
// from its host, is blocked by the SNI. An IP literal that is blocked only
// for not being allowed (allow-list-only mode names sites, not addresses)
// is decided by its SNI instead, and refused without one. Only then is the
// origin dialled; the peeked bytes are forwarded untouched and both
// directions are spliced.
//
// A CONNECT to port 80 is how browsers send an unencrypted ws://
// WebSocket through a proxy. Unless port 80 is in Config.ConnectPorts,
// such a tunnel carries exactly that: its first request must be a
// WebSocket upgrade for the CONNECT host, decided on its path like plain
// HTTP, before anything is dialled (wstunnel.go).
// Nothing is ever decrypted. A hello without SNI, or a tunnel that is not TLS,
// follows Config.NoSNI; a hello that is malformed, too large or too slow
// closes the tunnel (fail closed). With TLS Encrypted Client Hello only the
// outer, public name is visible and is what is decided: blocking by provider
// (a bundle's ECH-fronting entries) is the remedy, not refusing ECH, which
// Chromium offers (as GREASE) to every server.
//
// # Safe search
//
// A SafeSearch verdict on HTTPS dials Verdict.SafeHost on the same port and
// forwards the client's hello unchanged (the SNI stays the search engine's).
// On plain HTTP, Verdict.SafeParam is set in the query (replacing an existing
// value of that key) and Verdict.SafeHost, when set, is dialled instead.
//
// # Destinations
//
// The proxy never becomes a path to the agent itself: every dial is checked
// on the resolved address (the dialer's Control hook, so DNS rebinding,
// decimal or octal addresses, "localhost." and "[::1]" all end as the address
// they resolve to), and a loopback, unspecified or local-interface address on
// a port of the proxy's own listeners or Config.OwnAddrs is refused with
// ErrForbiddenDestination. In LAN mode (Config.AllowedClients names a
// non-loopback network) loopback, unspecified, link-local and multicast
// destinations are refused outright, and private ones unless listed in
// Config.LANReachable: LAN clients must not reach what only this machine
// can. CONNECT goes only to Config.ConnectPorts; plain HTTP only to port 80,
// 443 and ports from 1024 up.
//
// # What it serves itself
//
// Requests addressed to the proxy rather than through it: /proxy.pac, a PAC
// file naming the proxy with no DIRECT fallback (fail closed), and the "ask
// a parent" page.
//
// # What it does not do
//
// It does not decrypt, cache, authenticate users, or log allowed traffic:
// only blocks and children's requests go to Config.Log.
//
// # Concurrency
//
// A Proxy serves many connections at once; each connection runs on its own
// goroutine and a panic in one is recovered, logged and closes only that
// connection. Config.Engine is called once per decision and must be safe for
// concurrent use (the agent backs it with an atomic.Pointer). Serve may be
// called once per Proxy.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/sni"
	"github.com/greengate/greengate/internal/connfeed"
	"github.com/greengate/greengate/rules/policy"
)

// Defaults for zero Config fields.
const (
	DefaultListen            = "127.0.0.1:8899"
	DefaultMaxConns          = 1024
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultTunnelIdleTimeout = 10 * time.Minute
	DefaultDialTimeout       = 10 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultShutdownTimeout   = 5 * time.Second
)

// NoSNIPolicy says what to do with a CONNECT tunnel whose first bytes carry no
// server name: a TLS hello without SNI, or something that is not TLS at all.
type NoSNIPolicy uint8

const (
	// NoSNIAllowIfHostAllowed lets the tunnel through when the CONNECT host
	// itself was allowed (it was decided already; the destination is
	// exactly that host).
	NoSNIAllowIfHostAllowed NoSNIPolicy = iota
	// NoSNIBlock closes every tunnel without a server name.
	NoSNIBlock
)

// Recorder takes block events; *blocklog.Log is one. Record must not block.
type Recorder interface {
	Record(blocklog.Event) bool
}

var _ Recorder = (*blocklog.Log)(nil)

// ErrForbiddenDestination is returned by the proxy's dialer for an address the
// proxy must never connect to (its own listeners, the admin API, and in LAN
// mode this machine's loopback and link-local addresses).
var ErrForbiddenDestination = errors.New("destination not allowed through the proxy")

// ErrNoEngine is returned by New when Config.Engine is nil.
var ErrNoEngine = errors.New("proxy config has no Engine")

// Config configures a Proxy. Zero values take the stated defaults.
type Config struct {
	// Listen is the address ListenAndServe listens on. "" means
	// DefaultListen.
	Listen string
	// Engine returns the current engine. Required. A nil engine answers
	// 503 to everything (fail closed).
	Engine func() *policy.Engine
	// Profile picks the settings profile for a client. Nil means the
	// engine's default profile for everyone. It is asked once a
	// connection and again when Engine returns a new engine.
	Profile func(client net.Addr) string

	// Language gives the block page's language ("zh" or "en") for
	// browsers whose Accept-Language puts neither Chinese nor English
	// first. It is read per page, so a settings change applies at once.
	// Nil means English.
	Language func() string
	// Log receives block and request events. Nil discards them.
	Log Recorder
	// TunnelBlocked, when set, also hears of each blocked HTTPS site (a
	// CONNECT host or its SNI), where the browser can show no block page;
	// remote is the client's address with its port. It runs on the
	// client's goroutine.
	TunnelBlocked func(remote string, ev blocklog.Event)
	// ConnectPorts are the ports CONNECT may reach. Nil means 443 only.
	// Browsers tunnel unencrypted ws:// WebSockets with CONNECT to port
	// 80; without 80 here such a tunnel still works, but carries only a
	// WebSocket upgrade for its own host, decided on its path like plain
	// HTTP. Adding 80 opens port-80 tunnels to anything, decided on the
	// CONNECT host alone (no path lists, no Host header check).
	ConnectPorts []uint16
	// AllowedClients are the networks that may use the proxy. Nil means
	// loopback only; naming any other network turns on LAN mode (see the
	// package documentation). Others are disconnected at accept.
	AllowedClients []netip.Prefix
	// LANReachable are private networks (an intranet) that LAN-mode
	// clients may reach through the proxy; in LAN mode every other private
	// address is refused. Ignored outside LAN mode.
	LANReachable []netip.Prefix
	// OwnAddrs are other listeners of the agent (the admin API) that the
	// proxy must never connect to, as "host:port". The listener Serve is
	// given is added automatically.
	OwnAddrs []string
	// DialContext dials origins. Nil means a net.Dialer with DialTimeout
	// whose Control hook refuses forbidden addresses before connecting.
	// An injected dialer is checked on the connection's remote address
	// after it connects.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Clock gives the time decisions are made at. Nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs. Nil discards.
	Logger *slog.Logger
	// NoSNI is the policy for tunnels without a server name.
	NoSNI NoSNIPolicy
	// CA, when set, shows the block page for blocked HTTPS: a blocked
	// CONNECT or server name is answered by terminating TLS with a
	// certificate for that name (tlsblock.go). Allowed tunnels are never
	// terminated. Nil refuses HTTPS blocks with no page.
	CA BlockPageCA
	// MaxConns bounds the client connections served at once, tunnels
	// included; further clients wait in the listen backlog. Zero means
	// DefaultMaxConns.
	MaxConns int
	// ReadHeaderTimeout bounds reading a request's headers. Zero means
	// DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive client connections. Zero means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// TunnelIdleTimeout closes a CONNECT tunnel or WebSocket with no
	// traffic either way for this long. Zero means DefaultTunnelIdleTimeout.
	TunnelIdleTimeout time.Duration
	// HelloTimeout bounds waiting for a tunnel's ClientHello. Zero means
	// sni.DefaultTimeout.
	HelloTimeout time.Duration
	// DialTimeout bounds connecting to an origin. Zero means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxHeaderBytes caps a request's headers. Zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

// Proxy is the filtering proxy. Create it with New.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	gp     *goproxy.ProxyHttpServer
	tr     *http.Transport
	up     *upstream
	lan    bool
	guard  *guard
	pages  *pages
	served atomic.Bool

	refusedCert refusedHosts

	mu           sync.Mutex
	tunnels      map[net.Conn]struct{}
	closing      bool
	lanes        map[*lane]struct{}
	lanesClosing atomic.Bool
	noLane       bool // every connection to the server (tests compare)
}

// New checks cfg, applies defaults and returns a Proxy ready to Serve.
func New(cfg Config) (*Proxy, error) {
	if cfg.Engine == nil {
		return nil, ErrNoEngine
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.ConnectPorts == nil {
		cfg.ConnectPorts = []uint16{443}
	}
	if cfg.AllowedClients == nil {
		cfg.AllowedClients = []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	cfg.ReadHeaderTimeout = orDefault(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.TunnelIdleTimeout = orDefault(cfg.TunnelIdleTimeout, DefaultTunnelIdleTimeout)
	cfg.DialTimeout = orDefault(cfg.DialTimeout, DefaultDialTimeout)
	cfg.HelloTimeout = orDefault(cfg.HelloTimeout, sni.DefaultTimeout)
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	var errs []error
	for i, pre := range cfg.AllowedClients {
		if !pre.IsValid() {
			errs = append(errs, fmt.Errorf("checking allowed client network %d: invalid prefix", i))
		}
	}
	for i, pre := range cfg.LANReachable {
		if !pre.IsValid() {
			errs = append(errs, fmt.Errorf("checking LAN-reachable network %d: invalid prefix", i))
		}
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, tunnels: make(map[net.Conn]struct{})}
	for _, pre := range cfg.AllowedClients {
		if !pre.Addr().Unmap().IsLoopback() {
			p.lan = true
		}
	}
	g, err := newGuard(cfg.OwnAddrs, p.lan, cfg.LANReachable)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.guard = g
	p.pages, err = newPages()
	if err != nil {
		return nil, err
	}
	p.tr = &http.Transport{
		Proxy:                 nil, // never chain to an environment proxy: decided traffic goes where it was decided to go
		DialContext:           p.dial,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256, // a page opens many connections to one CDN host; churn costs more than idle sockets
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass the client's Accept-Encoding and the origin's encoding through untouched
	}
	p.up = &upstream{dial: p.dial, idleFor: 90 * time.Second, perHost: 256, maxIdle: 1024}
	p.gp = goproxy.NewProxyHttpServer()
	p.gp.Tr = p.tr
	p.gp.ConnectDial = nil // CONNECT never reaches goproxy
	p.gp.KeepAcceptEncoding = true
	p.gp.Logger = slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)
	p.gp.NonproxyHandler = http.HandlerFunc(p.serveLocal)
	p.gp.OnRequest().DoFunc(p.onRequest)
	return p, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ListenAndServe listens on Config.Listen and serves until ctx ends. ready, if
// not nil, is called with the bound address once connections are accepted.
func (p *Proxy) ListenAndServe(ctx context.Context, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", p.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening for proxy clients on %s: %w", p.cfg.Listen, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return p.Serve(ctx, ln)
}

// Serve serves proxy clients on ln until ctx ends, then shuts down: requests
// in flight get DefaultShutdownTimeout to finish and are then cut, tunnels
// are closed at once. It returns nil after a shutdown caused by ctx.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	if !p.served.CompareAndSwap(false, true) {
		return errors.New("serving proxy: Serve called twice")
	}
	p.guard.addOwn(ln.Addr())
	lim := newLimitListener(ln, p.cfg.MaxConns, p.cfg.AllowedClients, p.log)
	hand := connfeed.New(ln.Addr()) // what the lane leaves to the server
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.cfg.ReadHeaderTimeout,
		IdleTimeout:       p.cfg.IdleTimeout,
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			m := &connProfile{}
			if h, ok := c.(*handed); ok {
				m = h.prof // the lane's memory of this connection
			}
			return context.WithValue(ctx, connProfileKey{}, m)
		},
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(hand) }()
	go func() { errc <- p.acceptLanes(lim, hand) }()
	select {
	case err := <-errc:
		_ = lim.Close()
		_ = srv.Close()
		p.shutdownLanes(canceled)
		p.closeTunnels()
		<-errc
		return fmt.Errorf("serving proxy on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	_ = lim.Close()
	sctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
	defer cancel()
	lanesDone := make(chan struct{})
	go func() { p.shutdownLanes(sctx); close(lanesDone) }()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running (a long download) after the grace
		// period are cut: stopping is what was asked for.
		p.log.Info("proxy: shutdown grace period over; closing remaining connections", "err", err)
		_ = srv.Close()
	}
	<-lanesDone
	p.closeTunnels()
	p.tr.CloseIdleConnections()
	p.up.close()
	<-errc
	<-errc
	return nil
}

// canceled is a context that has ended: shut down at once.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// ServeHTTP is the proxy's handler: CONNECT here, the rest through goproxy.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			p.log.Error("proxy: panic serving a client; connection closed",
				"client", r.RemoteAddr, "method", r.Method, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			// Abort closes this connection without a partial or empty
			// 200: fail closed, and only for this client.
			panic(http.ErrAbortHandler)
		}
	}()
	if r.Method == http.MethodConnect {
		p.serveConnect(w, r)
		return
	}
	p.gp.ServeHTTP(w, r)
}

// trackTunnel registers a hijacked connection so shutdown can close it. It
// reports false when the proxy is already shutting down.
func (p *Proxy) trackTunnel(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.tunnels[c] = struct{}{}
	return true
}

func (p *Proxy) untrackTunnel(c net.Conn) {
	p.mu.Lock()
	delete(p.tunnels, c)
	p.mu.Unlock()
}

func (p *Proxy) closeTunnels() {
	p.mu.Lock()
	p.closing = true
	cs := make([]net.Conn, 0, len(p.tunnels))
	for c := range p.tunnels {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}

// decision is what the proxy knows about one request while deciding it.
type decision struct {
	eng     *policy.Engine
	profile string
	client  string // the client's address, as logged
	remote  string // and with its port
	now     time.Time
}

// begin starts deciding for the client at remote, on the connection whose
// profile m remembers (nil: pick afresh).
func (p *Proxy) begin(remote string, m *connProfile) (decision, bool) {
	eng := p.cfg.Engine()
	if eng == nil {
		return decision{}, false
	}
	d := decision{eng: eng, now: p.cfg.Clock(), client: remote, remote: remote}
	ap, err := netip.ParseAddrPort(remote)
	if err == nil {
		d.client = ap.Addr().Unmap().String()
	}
	if p.cfg.Profile != nil {
		// The address is built only when the profile is picked, not on
		// every request of a connection whose profile is remembered.
		pick := func() string {
			var addr net.Addr
			if err == nil {
				addr = net.TCPAddrFromAddrPort(ap)
			}
			return p.cfg.Profile(addr)
		}
		if m != nil {
			d.profile = m.get(eng, pick)
		} else {
			d.profile = pick()
		}
	}
	return d, true
}

// profileOf is the profile memory of r's connection, or nil.
func profileOf(r *http.Request) *connProfile {
	m, _ := r.Context().Value(connProfileKey{}).(*connProfile)
	return m
}

// connProfile remembers a connection's profile under the engine it was
// picked with. Config.Profile may be costly (the service asks the kernel
// who owns the socket) and a connection's owner never changes, so it runs
// once a connection, not once a request; a new engine (settings or grants
// changed) picks afresh.
type connProfile struct {
	mu      sync.Mutex
	eng     *policy.Engine
	profile string
}

type connProfileKey struct{}

func (m *connProfile) get(eng *policy.Engine, pick func() string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng != eng {
		m.eng, m.profile = eng, pick()
	}
	return m.profile
}

func (d *decision) decide(host, path string) policy.Verdict {
	return d.eng.Decide(policy.Request{Host: host, Path: path, Time: d.now, Profile: d.profile})
}

// record sends an event for a block or a request; allowed traffic never
// reaches it.
func (p *Proxy) record(d *decision, v policy.Verdict, action blocklog.Action, host, url, reason string) {
	ev := blocklog.Event{Time: d.now, Profile: v.Profile, Client: d.client, Host: host, URL: url,
		Category: v.Category, Entry: v.Entry, Source: v.Source, Action: action, Reason: reason}
	if action == blocklog.ActionBlock && url == "" && p.cfg.TunnelBlocked != nil {
		p.cfg.TunnelBlocked(d.remote, ev)
	}
	if p.cfg.Log != nil && !p.cfg.Log.Record(ev) {
		p.log.Debug("proxy: block log queue full; event dropped", "host", host)
	}
}

func (p *Proxy) connectPortAllowed(port uint16) bool {
	return slices.Contains(p.cfg.ConnectPorts, port)
}

// httpPortAllowed keeps plain HTTP off the well-known ports of other
// protocols (SMTP, IMAP, ...) where a forwarded request could be read as
// commands.
func httpPortAllowed(port uint16) bool {
	return port == 80 || port == 443 || port >= 1024
}

//go:build linux

package transparent

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/agent/sni"
	"github.com/greengate/greengate/internal/connfeed"
	"github.com/greengate/greengate/internal/connlimit"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
)

// ip6tSoOriginalDst is IP6T_SO_ORIGINAL_DST, which x/sys/unix lacks; it has
// the same value as SO_ORIGINAL_DST.
const ip6tSoOriginalDst = 80

// Listener serves redirected connections. Create it with New.
type Listener struct {
	cfg   Config
	log   *slog.Logger
	http  *proxy.Proxy
	limit *connlimit.Limiter
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// New checks cfg and prepares a Listener.
func New(cfg Config) (*Listener, error) {
	if cfg.Engine == nil {
		return nil, proxy.ErrNoEngine
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Mark == 0 {
		cfg.Mark = DefaultMark
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = proxy.DefaultMaxConns
	}
	if cfg.TunnelIdleTimeout <= 0 {
		cfg.TunnelIdleTimeout = proxy.DefaultTunnelIdleTimeout
	}
	if cfg.MaxConnsPerClient <= 0 {
		cfg.MaxConnsPerClient = max(1, cfg.MaxConns/4)
	}
	if cfg.MaxConns > 1 && cfg.MaxConnsPerClient >= cfg.MaxConns {
		return nil, fmt.Errorf("checking connection limits: %d per client must be below %d in all", cfg.MaxConnsPerClient, cfg.MaxConns)
	}
	l := &Listener{cfg: cfg, log: cfg.Logger, conns: map[net.Conn]struct{}{}, limit: connlimit.New(cfg.MaxConnsPerClient)}
	var err error
	l.http, err = proxy.New(proxy.Config{
		Engine:  cfg.Engine,
		Profile: cfg.Profile,
		Log:     cfg.Log,
		Asks:    cfg.Asks,
		// Any client; and, as in LAN mode, never to loopback or
		// link-local destinations.
		AllowedClients: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
		// Private destinations are where redirected clients were going
		// anyway (an intranet server): the redirect adds no reach.
		LANReachable:      []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
		DialContext:       l.dial,
		Clock:             cfg.Clock,
		Logger:            cfg.Logger,
		TunnelIdleTimeout: cfg.TunnelIdleTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring the HTTP side: %w", err)
	}
	return l, nil
}

// dial connects upstream with the agent's mark, so the nft table lets the
// connection out instead of redirecting it back here.
func (l *Listener) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{
		Timeout: proxy.DefaultDialTimeout,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, l.cfg.Mark)
			}); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("setting SO_MARK %#x: %w", l.cfg.Mark, serr)
			}
			return nil
		},
	}
	// An HTTP request goes where the client was going (the original
	// address), under the name its Host header gave; only a different
	// name (a safe-search host) is resolved.
	if hint, ok := ctx.Value(dialKey{}).(dialHint); ok {
		if h, p, err := net.SplitHostPort(addr); err == nil && h == hint.name && p == strconv.Itoa(int(hint.orig.Port())) {
			addr = hint.orig.String()
		}
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting upstream to %s: %w", addr, err)
	}
	return c, nil
}

type dialKey struct{}

type dialHint struct {
	name string
	orig netip.AddrPort
}

// ListenAndServe listens on Config.Listen and serves until ctx ends.
func (l *Listener) ListenAndServe(ctx context.Context, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", l.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening for redirected connections on %s: %w", l.cfg.Listen, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return l.Serve(ctx, ln)
}

type origKey struct{}

// Serve serves redirected connections from ln until ctx ends.
func (l *Listener) Serve(ctx context.Context, ln net.Listener) error {
	hl := connfeed.New(ln.Addr())
	srv := &http.Server{
		Handler:           http.HandlerFunc(l.serveHTTP),
		ReadHeaderTimeout: proxy.DefaultReadHeaderTimeout,
		IdleTimeout:       proxy.DefaultIdleTimeout,
		MaxHeaderBytes:    proxy.DefaultMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
		ConnState:         proxy.ConnState,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if oc, ok := c.(*peekedConn); ok {
				return context.WithValue(ctx, origKey{}, oc.orig)
			}
			return ctx
		},
	}
	go func() { _ = srv.Serve(hl) }()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	sem := make(chan struct{}, l.cfg.MaxConns)
	var err error
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		c, aerr := ln.Accept()
		if aerr != nil {
			<-sem
			if ctx.Err() == nil {
				err = fmt.Errorf("accepting redirected connections on %s: %w", ln.Addr(), aerr)
			}
			break
		}
		go l.handle(c, hl, func() { <-sem })
	}
	sctx, cancel := context.WithTimeout(context.Background(), proxy.DefaultShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	l.mu.Lock()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	return err
}

// OriginalDst returns where a redirected connection was going.
func OriginalDst(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("reading original destination: %T is not a TCP connection", c)
	}
	local, _ := netip.ParseAddrPort(tc.LocalAddr().String())
	rc, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("reading original destination: %w", err)
	}
	var ap netip.AddrPort
	var gerr error
	cerr := rc.Control(func(fd uintptr) {
		if local.Addr().Unmap().Is4() {
			// sockaddr_in fits in the 20-byte ipv6_mreq.
			m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
			if err != nil {
				gerr = err
				return
			}
			ap, gerr = decodeOrigDst4(m.Multiaddr[:])
			return
		}
		// sockaddr_in6 fits in ip6_mtuinfo.
		i, err := unix.GetsockoptIPv6MTUInfo(int(fd), unix.SOL_IPV6, ip6tSoOriginalDst)
		if err != nil {
			gerr = err
			return
		}
		var b [24]byte
		binary.NativeEndian.PutUint16(b[0:], i.Addr.Family)
		binary.NativeEndian.PutUint16(b[2:], i.Addr.Port) // already network order in memory
		copy(b[8:], i.Addr.Addr[:])
		ap, gerr = decodeOrigDst6(b[:])
	})
	if cerr != nil {
		return netip.AddrPort{}, fmt.Errorf("reading original destination: %w", cerr)
	}
	if gerr != nil {
		return netip.AddrPort{}, fmt.Errorf("reading original destination: %w", gerr)
	}
	if ap == netip.AddrPortFrom(local.Addr().Unmap(), local.Port()) {
		return ap, ErrNotRedirected
	}
	return ap, nil
}

func (l *Listener) track(c net.Conn) func() {
	l.mu.Lock()
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
	}
}

// handle sorts one redirected connection into TLS or HTTP. release
// frees its place under Config.MaxConns, when the connection closes
// (after the HTTP server is done with it, for HTTP).
func (l *Listener) handle(raw net.Conn, hl *connfeed.Listener, release func()) {
	var c net.Conn = raw
	handedOff := false
	defer func() {
		if v := recover(); v != nil {
			l.log.Error("transparent: panic serving a connection; closed", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		if !handedOff {
			_ = c.Close()
		}
	}()
	orig, err := OriginalDst(raw)
	if err != nil {
		l.log.Warn("transparent: refused a connection", "client", raw.RemoteAddr().String(), "err", err)
		release()
		return
	}
	key := ""
	if l.cfg.ClientKey != nil {
		key = l.cfg.ClientKey(raw.RemoteAddr(), net.TCPAddrFromAddrPort(orig))
	}
	if key == "" {
		key = proxy.ClientAddrKey(raw.RemoteAddr())
	}
	lc, ok := l.limit.Admit(raw, key, release)
	if !ok {
		l.log.Debug("transparent: refused a connection: its client holds its limit of busy connections", "client", raw.RemoteAddr().String())
		release()
		return
	}
	c = lc
	opt := sni.Options{Timeout: l.cfg.HelloTimeout}
	br := sni.NewReader(c, opt)
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = sni.DefaultTimeout
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	first, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		return
	}
	if first[0] != 0x16 { // not a TLS handshake record: HTTP
		pc := &peekedConn{Conn: c, r: br, orig: orig}
		if hl.Give(pc) {
			handedOff = true
		}
		return
	}
	done := l.track(c)
	defer done()
	l.serveTLS(c, lc, br, orig, opt)
}

func (l *Listener) serveTLS(c net.Conn, slot *connlimit.Conn, br *bufio.Reader, orig netip.AddrPort, opt sni.Options) {
	hello, err := sni.PeekConn(c, br, opt)
	name := ""
	switch {
	case err == nil:
		name = hello.ServerName
	case errors.Is(err, sni.ErrNoSNI):
		// Decided on the address alone below.
	default:
		l.log.Debug("transparent: no usable ClientHello; closed", "orig", orig.String(), "err", err)
		return
	}
	eng := l.cfg.Engine()
	if eng == nil {
		return
	}
	now := l.cfg.Clock()
	profile := ""
	if l.cfg.Profile != nil {
		profile = l.cfg.Profile(c.RemoteAddr())
	}
	ipHost := orig.Addr().String()
	decide := func(h string) policy.Verdict {
		return eng.Decide(policy.Request{Host: h, Time: now, Profile: profile})
	}
	// The address decides alone only without a name, or when a list names
	// the address itself; otherwise the name does (an allow-list-only
	// profile allows sites by name, not their addresses).
	v := decide(ipHost)
	blockedHost := ipHost
	switch {
	case name == "":
		v = eng.DecideUnnamed(policy.Request{Host: ipHost, Time: now, Profile: profile})
	case !listed(v):
		v, blockedHost = decide(name), name
	}
	if v.Action == policy.Block {
		l.record(c, now, v, blockedHost, "transparent tls: "+v.Reason.String())
		l.log.Debug("transparent: blocked", "name", name, "orig", orig.String())
		return
	}
	// The tunnel is decided: from here it is busy, not one the
	// per-client limit may take back.
	if !slot.Busy() {
		return
	}
	target := orig.String()
	if v.Action == policy.SafeSearch && v.SafeHost != "" {
		target = net.JoinHostPort(v.SafeHost, fmt.Sprint(orig.Port()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), proxy.DefaultDialTimeout)
	up, err := l.dial(ctx, "tcp", target)
	cancel()
	if err != nil {
		l.log.Info("transparent: upstream unreachable", "name", name, "target", target, "err", err)
		return
	}
	defer up.Close()
	l.log.Debug("transparent: tunnel", "client", c.RemoteAddr().String(), "orig", orig.String(), "name", name, "target", target)
	proxy.Splice(c, br, up, l.cfg.TunnelIdleTimeout)
}

func (l *Listener) record(c net.Conn, now time.Time, v policy.Verdict, host, reason string) {
	remote := c.RemoteAddr().String()
	client := remote
	if ap, err := netip.ParseAddrPort(client); err == nil {
		client = ap.Addr().Unmap().String()
	}
	ev := blocklog.Event{Time: now, Profile: v.Profile, Client: client, Host: host,
		Category: v.Category, Entry: v.Entry, Source: v.Source, Action: blocklog.ActionBlock, Reason: reason}
	if l.cfg.TunnelBlocked != nil {
		l.cfg.TunnelBlocked(remote, ev)
	}
	if l.cfg.Log != nil {
		l.cfg.Log.Record(ev)
	}
}

// serveHTTP turns a redirected origin-form request into the proxy's
// absolute form and lets the proxy decide and forward it.
func (l *Listener) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		http.Error(w, "GreenGate: CONNECT on a redirected connection", http.StatusMethodNotAllowed)
		return
	}
	orig, ok := r.Context().Value(origKey{}).(netip.AddrPort)
	if !ok {
		http.Error(w, "GreenGate: no original destination", http.StatusInternalServerError)
		return
	}
	r.URL.Scheme = "http"
	r.URL.Host = r.Host
	if r.URL.Host == "" || l.addrListed(orig.Addr(), r.RemoteAddr) {
		// No name, or an address listed itself: decide (and block) on
		// the address, so an allowed Host header does not launder it.
		r.URL.Host = orig.String()
	}
	if name, err := hostname.NormalizeRequest(r.URL.Host); err == nil {
		r = r.WithContext(context.WithValue(r.Context(), dialKey{}, dialHint{name: name, orig: orig}))
	}
	l.http.ServeHTTP(w, r)
}

// addrListed reports whether the original address is itself on a block
// list for this client.
func (l *Listener) addrListed(ip netip.Addr, remote string) bool {
	eng := l.cfg.Engine()
	if eng == nil {
		return false // the proxy answers 503 for a missing engine
	}
	profile := ""
	if ap, err := netip.ParseAddrPort(remote); err == nil && l.cfg.Profile != nil {
		profile = l.cfg.Profile(net.TCPAddrFromAddrPort(ap))
	}
	return listed(eng.Decide(policy.Request{Host: ip.String(), Time: l.cfg.Clock(), Profile: profile}))
}

// peekedConn is a redirected connection whose first bytes are in r.
type peekedConn struct {
	net.Conn
	r    *bufio.Reader
	orig netip.AddrPort
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// LimitConn is the per-client limit's connection under p.
func (p *peekedConn) LimitConn() *connlimit.Conn { return connlimit.Of(p.Conn) }

// Enable installs the endpoint-mode nft table (see Ruleset). Needs root.
func Enable(ctx context.Context, o RulesetOptions) error {
	script, err := Ruleset(o)
	if err != nil {
		return err
	}
	return nft(ctx, script)
}

// Disable removes the table; removing a table that is not there is not an
// error.
func Disable(ctx context.Context, table string) error {
	if table == "" {
		table = TableName
	}
	if !plainName(table) {
		return fmt.Errorf("removing nft table %q: %w", table, ErrBadName)
	}
	return nft(ctx, fmt.Sprintf("add table inet %s\ndelete table inet %s\n", table, table))
}

func nft(ctx context.Context, script string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("running nft: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greengate/greengate/internal/connlimit"
)

// guard decides whether the proxy may connect to a resolved address. It is
// checked after name resolution, so a name that resolves to this machine is
// caught whatever way it was spelled.
type guard struct {
	lan bool
	// reachable are private networks LAN clients may reach through the
	// proxy (an intranet); other private addresses are refused in LAN mode.
	reachable []netip.Prefix
	// own holds the ports of the agent's listeners; replaced whole.
	own atomic.Pointer[map[uint16]struct{}]
	mu  sync.Mutex
}

func newGuard(ownAddrs []string, lan bool, reachable []netip.Prefix) (*guard, error) {
	g := &guard{lan: lan, reachable: reachable}
	m := map[uint16]struct{}{}
	g.own.Store(&m)
	for _, a := range ownAddrs {
		_, ps, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("reading own address %q: %w", a, err)
		}
		port, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || port == 0 {
			return nil, fmt.Errorf("reading own address %q: bad port", a)
		}
		g.addPort(uint16(port))
	}
	return g, nil
}

func (g *guard) addOwn(a net.Addr) {
	if ta, ok := a.(*net.TCPAddr); ok {
		g.addPort(uint16(ta.Port))
	}
}

func (g *guard) addPort(port uint16) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := *g.own.Load()
	m := make(map[uint16]struct{}, len(old)+1)
	for k := range old {
		m[k] = struct{}{}
	}
	m[port] = struct{}{}
	g.own.Store(&m)
}

// check returns an error wrapping ErrForbiddenDestination when ap must not be
// connected to.
func (g *guard) check(ap netip.AddrPort) error {
	ip := ap.Addr().Unmap().WithZone("")
	// 0.0.0.0 and :: connect to this machine on Linux: they are loopback in
	// disguise.
	local := ip.IsLoopback() || ip.IsUnspecified()
	if g.lan && (local || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast()) {
		return fmt.Errorf("dialling %s: %w (LAN mode: local, link-local or multicast address)", ap, ErrForbiddenDestination)
	}
	if g.lan && ip.IsPrivate() && !slices.ContainsFunc(g.reachable, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		// A machine on two networks (a café PC also on the office LAN)
		// must not become the LAN clients' way into the other one.
		return fmt.Errorf("dialling %s: %w (LAN mode: private address not in the reachable networks)", ap, ErrForbiddenDestination)
	}
	if _, own := (*g.own.Load())[ap.Port()]; own && (local || isInterfaceAddr(ip)) {
		return fmt.Errorf("dialling %s: %w (one of the agent's own listeners)", ap, ErrForbiddenDestination)
	}
	return nil
}

// isInterfaceAddr reports whether ip belongs to one of this machine's
// interfaces. It is asked only for the agent's own ports, so its cost (one
// netlink dump) is paid only by requests aimed at the agent.
func isInterfaceAddr(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: treat as local (fail closed for the agent's own ports)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// control is the net.Dialer Control hook: it runs after resolution and
// before the SYN, on the exact address about to be connected.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialling %s: %w (unparseable address)", address, ErrForbiddenDestination)
	}
	return g.check(ap)
}

// dial connects to an origin through the configured dialer, enforcing the
// guard.
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	if p.cfg.DialContext == nil {
		d := net.Dialer{Timeout: p.cfg.DialTimeout, Control: p.guard.control}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", addr, err)
		}
		return c, nil
	}
	c, err := p.cfg.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
	if perr != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connecting to %s: %w (remote address %q)", addr, ErrForbiddenDestination, c.RemoteAddr())
	}
	if err := p.guard.check(ap); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// limitListener accepts only allowed clients, at most n connections at
// once and at most perClient of them from one client (package connlimit:
// a client at its limit loses its longest-idle connection); a
// connection's slot is freed when it is closed (tunnels included).
type limitListener struct {
	net.Listener
	sem         chan struct{}
	perClient   *connlimit.Limiter
	clientKey   func(client, local net.Addr) string
	allowed     []netip.Prefix
	log         *slog.Logger
	done        chan struct{}
	once        sync.Once
	lastRefusal atomic.Int64
}

func newLimitListener(ln net.Listener, n, perClient int, key func(client, local net.Addr) string, allowed []netip.Prefix, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), perClient: connlimit.New(perClient), clientKey: key,
		allowed: allowed, log: log, done: make(chan struct{})}
}

// key names c's client for the per-client limit: Config.ClientKey's
// answer, else the client's address.
func (l *limitListener) key(c net.Conn) string {
	if l.clientKey != nil {
		if k := l.clientKey(c.RemoteAddr(), c.LocalAddr()); k != "" {
			return k
		}
	}
	return ClientAddrKey(c.RemoteAddr())
}

// ClientAddrKey is the per-client limit's key for a client known only by
// its address: the address without its port.
func ClientAddrKey(a net.Addr) string {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap().String()
	}
	return a.String()
}

// refused logs a client refused for holding its limit of busy
// connections, at most once a second, as an attacker would fill the log.
func (l *limitListener) refused(c net.Conn) {
	now := time.Now().UnixNano()
	last := l.lastRefusal.Load()
	if now-last > int64(time.Second) && l.lastRefusal.CompareAndSwap(last, now) {
		l.log.Warn("proxy: refused a connection: its client holds its limit of busy connections", "client", c.RemoteAddr().String())
	}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.sem
			return nil, err
		}
		if !l.clientAllowed(c.RemoteAddr()) {
			l.log.Warn("proxy: refused a client outside the allowed networks", "client", c.RemoteAddr().String())
			_ = c.Close()
			<-l.sem
			continue
		}
		lc, ok := l.perClient.Admit(c, l.key(c), func() { <-l.sem })
		if !ok {
			l.refused(c)
			_ = c.Close()
			<-l.sem
			continue
		}
		return lc, nil
	}
}

func (l *limitListener) clientAllowed(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, pre := range l.allowed {
		if pre.Contains(ip) {
			return true
		}
	}
	return false
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

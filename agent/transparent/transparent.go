// Package transparent filters connections that the firewall redirected to
// the agent, for clients that were never told about a proxy (Linux only).
//
// An nftables table (Ruleset; installed by `greengate transparent enable`)
// redirects this machine's outgoing TCP 80 and 443 to the listener and drops
// outgoing UDP 443, so QUIC falls back to TCP at once (endpoint mode). With
// RulesetOptions.LANInterface the machine is also the gateway of a lab or
// café network: what its clients route through it is redirected the same
// way and their UDP 443 is dropped in the forward path. For each redirected
// connection the listener reads the original destination (SO_ORIGINAL_DST,
// IPv4 and IPv6) and looks at the first bytes:
//
//   - TLS: the ClientHello is peeked (agent/sni) and the SNI decided by the
//     same policy.Engine as the explicit proxy. Blocked: the connection is
//     closed (a page would need a certificate we do not have). Allowed: the
//     original address is dialled and the bytes spliced untouched. Safe
//     search: Verdict.SafeHost is dialled instead. A hello without SNI is
//     decided on the original address by policy.Engine.DecideUnnamed, as
//     the proxy decides a nameless tunnel: blocked ("no-sni") in a
//     profile that blocks a category unless the address is allowed.
//     Nothing is decrypted.
//   - Anything else is read as HTTP and served by agent/proxy's plain-HTTP
//     path, so the Host header decides, blocks get the block page, and
//     every request on a keep-alive connection is decided on its own.
//
// The agent's own upstream connections carry SO_MARK Config.Mark, which the
// table exempts, so they are not redirected back to it. Setting a mark needs
// CAP_NET_ADMIN (the service runs as root).
//
// What it does not do: TPROXY, IPv6 in gateway mode's tests (the rules are
// inet, so they apply), or anything on other systems, where New returns
// ErrUnsupported. Protocols other than TLS and HTTP on ports 80 and 443 are
// refused (they are read as HTTP and fail to parse).
//
// Concurrency: a Listener serves each connection on its own goroutine and
// recovers a panic in one without affecting the others. Config.Engine must be
// safe for concurrent use. Serve is called once.
package transparent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/proxy"
	"github.com/greengate/greengate/rules/policy"
)

// Defaults for zero Config fields.
const (
	DefaultListen = ":3129"
	DefaultMark   = 0x1
	TableName     = "greengate"
)

// ErrUnsupported is returned on systems without transparent mode.
var ErrUnsupported = errors.New("transparent mode is only supported on Linux")

// ErrNotRedirected means a connection reached the listener directly, not
// through the firewall's redirect: it is closed, so the listener cannot be
// used as an open relay or made to connect to itself.
var ErrNotRedirected = errors.New("connection was not redirected")

// Config configures a Listener. Zero values take the stated defaults.
type Config struct {
	// Listen is the address redirected connections arrive at. "" means
	// DefaultListen (all addresses, IPv4 and IPv6).
	Listen string
	// Engine returns the current engine. Required.
	Engine func() *policy.Engine
	// Profile picks the settings profile for a client; nil means the
	// default profile.
	Profile func(client net.Addr) string
	// Log receives block events. Nil discards.
	Log proxy.Recorder
	// TunnelBlocked also hears of each blocked TLS connection, where the
	// browser can show no block page (proxy.Config.TunnelBlocked). May be
	// nil.
	TunnelBlocked func(remote string, ev blocklog.Event)
	// Mark is the SO_MARK on upstream connections; the nft table must
	// exempt the same mark. Zero means DefaultMark.
	Mark int
	// Clock gives decision time. Nil means time.Now.
	Clock func() time.Time
	// Logger receives operational logs. Nil discards.
	Logger *slog.Logger
	// HelloTimeout bounds waiting for the first bytes. Zero means
	// sni.DefaultTimeout.
	HelloTimeout time.Duration
	// TunnelIdleTimeout closes a connection idle both ways for this long.
	// Zero means proxy.DefaultTunnelIdleTimeout.
	TunnelIdleTimeout time.Duration
	// MaxConns bounds connections served at once. Zero means
	// proxy.DefaultMaxConns.
	MaxConns int
	// MaxConnsPerClient bounds one client's connections, as
	// proxy.Config.MaxConnsPerClient does (the same eviction of the
	// longest idle). Zero means a quarter of MaxConns; it must be below
	// MaxConns.
	MaxConnsPerClient int
	// ClientKey names a connection's client for MaxConnsPerClient, given
	// the client's address and where it was going; nil or "" means the
	// client's address (proxy.ClientAddrKey).
	ClientKey func(client, orig net.Addr) string
	// Asks limits "ask a parent" on the block page
	// (proxy.Config.Asks). Nil: the HTTP side's own.
	Asks proxy.AskLimiter
}

// RulesetOptions shape the nftables table.
type RulesetOptions struct {
	Port  uint16 // the listener's port; 0 means 3129
	Mark  int    // the agent's upstream mark; 0 means DefaultMark
	Table string // "" means TableName
	// LANInterface, when set, adds gateway mode: TCP 80 and 443 arriving
	// on this interface from the machines behind it (a lab, a café) are
	// redirected to the listener too, and their UDP 443 is dropped in the
	// forward path. The machine's own traffic is filtered either way.
	LANInterface string
}

// ErrBadName is returned by Ruleset for a table or interface name that is
// not a plain identifier: names are pasted into an nft script.
var ErrBadName = errors.New("table or interface name must be 1-15 letters, digits, '-', '_' or '.'")

func plainName(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Ruleset returns the nft script: in every mode, redirect this machine's
// outgoing TCP 80 and 443 to the listener, except the agent's own marked
// connections and local destinations, and drop outgoing UDP 443 (QUIC);
// with LANInterface, the same for traffic routed from that interface. It
// deletes an existing table of the same name first, so applying it twice
// leaves one copy.
func Ruleset(o RulesetOptions) (string, error) {
	if o.Port == 0 {
		o.Port = 3129
	}
	if o.Mark <= 0 {
		o.Mark = DefaultMark
	}
	if o.Table == "" {
		o.Table = TableName
	}
	if !plainName(o.Table) || (o.LANInterface != "" && !plainName(o.LANInterface)) {
		return "", fmt.Errorf("writing nft ruleset for table %q, interface %q: %w", o.Table, o.LANInterface, ErrBadName)
	}
	var b strings.Builder
	// "add table" then "delete table" makes the delete succeed whether or
	// not the table existed: one atomic nft transaction either way.
	fmt.Fprintf(&b, "add table inet %s\ndelete table inet %s\n", o.Table, o.Table)
	fmt.Fprintf(&b, `table inet %s {
	chain output_nat {
		type nat hook output priority -100; policy accept;
		meta mark 0x%x return
		fib daddr type local return
		meta l4proto tcp th dport { 80, 443 } redirect to :%d
	}
	chain output_filter {
		type filter hook output priority filter; policy accept;
		meta mark 0x%x return
		udp dport 443 counter drop
	}
`, o.Table, o.Mark, o.Port, o.Mark)
	if o.LANInterface != "" {
		fmt.Fprintf(&b, `	chain prerouting_nat {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "%s" fib daddr type local return
		iifname "%s" meta l4proto tcp th dport { 80, 443 } redirect to :%d
	}
	chain forward_filter {
		type filter hook forward priority filter; policy accept;
		iifname "%s" udp dport 443 counter drop
	}
`, o.LANInterface, o.LANInterface, o.Port, o.LANInterface)
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// decodeOrigDst4 reads a struct sockaddr_in as getsockopt(SO_ORIGINAL_DST)
// fills it: family (host order), port (network order), address.
func decodeOrigDst4(b []byte) (netip.AddrPort, error) {
	if len(b) < 8 {
		return netip.AddrPort{}, fmt.Errorf("reading original destination: %d bytes for sockaddr_in", len(b))
	}
	port := uint16(b[2])<<8 | uint16(b[3])
	ip := netip.AddrFrom4([4]byte(b[4:8]))
	return netip.AddrPortFrom(ip, port), nil
}

// decodeOrigDst6 reads a struct sockaddr_in6: family, port (network
// order), flowinfo, address.
func decodeOrigDst6(b []byte) (netip.AddrPort, error) {
	if len(b) < 24 {
		return netip.AddrPort{}, fmt.Errorf("reading original destination: %d bytes for sockaddr_in6", len(b))
	}
	port := uint16(b[2])<<8 | uint16(b[3])
	ip := netip.AddrFrom16([16]byte(b[8:24]))
	return netip.AddrPortFrom(ip.Unmap(), port), nil
}

// listed reports a block because a list names the host (a category or the
// profile's own block list), as opposed to a block of everything not
// allowed (allow-list-only mode, hours): an address is only blocked on its
// own account, never because it is not on an allow list that names sites.
func listed(v policy.Verdict) bool {
	return v.Action == policy.Block && (v.Reason == policy.ReasonCategory || v.Reason == policy.ReasonCustomBlock)
}

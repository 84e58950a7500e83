package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/sni"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
)

// ErrBadAuthority is returned by ParseAuthority.
var ErrBadAuthority = errors.New("bad host:port")

// ParseAuthority reads a CONNECT authority ("host:port", "[v6]:port") into
// the host's normal form and the port. The port is required and must be 1 to
// 65535 in plain decimal.
func ParseAuthority(s string) (host string, port uint16, err error) {
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("reading authority %q: %w", s, ErrBadAuthority)
	}
	port, err = parsePort(ps)
	if err != nil {
		return "", 0, fmt.Errorf("reading authority %q: %w", s, err)
	}
	host, err = hostname.NormalizeRequest(h)
	if err != nil {
		return "", 0, fmt.Errorf("reading authority %q: %w: %w", s, ErrBadAuthority, err)
	}
	return host, port, nil
}

// parsePort accepts only plain decimal 1-65535: "+443", "0x1bb", "0443" and
// "" are refused so the port checked is the port dialled.
func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, fmt.Errorf("port %q: %w", s, ErrBadAuthority)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("port %q: %w", s, ErrBadAuthority)
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q: %w", s, ErrBadAuthority)
	}
	return uint16(n), nil
}

func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// refuse answers a CONNECT that is not hijacked with a short text body.
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Connection", "close")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

func (p *Proxy) serveConnect(w http.ResponseWriter, r *http.Request) {
	host, port, err := ParseAuthority(r.Host)
	if err != nil {
		refuse(w, http.StatusBadRequest, "GreenGate: bad CONNECT target")
		return
	}
	// Port 80 is for ws:// WebSockets only (wstunnel.go), unless the
	// configuration opens it to any tunnel.
	open := p.connectPortAllowed(port)
	wsOnly := port == wsPort && !open
	if !open && !wsOnly {
		refuse(w, http.StatusForbidden, "GreenGate: CONNECT to port "+strconv.Itoa(int(port))+" is not allowed")
		return
	}
	d, ok := p.begin(r.RemoteAddr, profileOf(r))
	if !ok {
		refuse(w, http.StatusServiceUnavailable, "GreenGate: filter not ready")
		return
	}
	v := d.decide(host, "")
	// An address that is blocked only because it is not allowed
	// (allow-list-only mode allows sites by name) waits for the SNI: the
	// name decides then, and without one the tunnel is refused.
	needName := v.Action == policy.Block && hostname.IsIP(host) && !listed(v) && !wsOnly
	blockPage := v.Action == policy.Block && !needName && !wsOnly && p.canShowTLSBlock(host)
	if v.Action == policy.Block && !needName && !blockPage {
		p.record(&d, v, blocklog.ActionBlock, host, "", "connect: "+v.Reason.String())
		refuse(w, http.StatusForbidden, "GreenGate: "+host+" is blocked ("+blockWhat(d.eng, v)+")")
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		refuse(w, http.StatusInternalServerError, "GreenGate: cannot open a tunnel on this connection")
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		p.log.Debug("proxy: hijacking CONNECT", "client", r.RemoteAddr, "err", err)
		return
	}
	defer conn.Close()
	if !p.trackTunnel(conn) {
		return
	}
	defer p.untrackTunnel(conn)
	// The server's header deadlines must not cut the tunnel.
	_ = conn.SetDeadline(time.Time{})

	// Bytes the client pipelined after the CONNECT request are already in
	// the server's reader; replay them in front of the connection.
	var src io.Reader = conn
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	if wsOnly {
		p.serveWebSocketTunnel(r.Context(), &d, conn, src, host)
		return
	}
	if blockPage {
		p.serveTLSBlock(&d, conn, src, host, v, "connect: "+v.Reason.String())
		return
	}
	opt := sni.Options{Timeout: p.cfg.HelloTimeout}
	br := sni.NewReader(src, opt)
	hello, err := sni.PeekConn(conn, br, opt)
	name := ""
	switch {
	case err == nil:
		name = hello.ServerName
	case errors.Is(err, sni.ErrNoSNI), errors.Is(err, sni.ErrNotTLS):
		// Nothing to decide but the CONNECT host.
		if needName {
			p.record(&d, v, blocklog.ActionBlock, host, "", "connect to an address without a server name: "+v.Reason.String())
			return
		}
		if p.cfg.NoSNI == NoSNIBlock {
			v.Action, v.Reason = policy.Block, policy.ReasonDefault
			p.record(&d, v, blocklog.ActionBlock, host, "", "tunnel without a server name")
			return
		}
	default:
		// Malformed, oversized, bad name, too slow, or gone: nothing safe to
		// forward. Fail closed; the client sees a closed connection.
		p.log.Debug("proxy: tunnel closed before a usable ClientHello", "client", d.client, "host", host, "err", err)
		return
	}

	target := v
	if needName {
		if name == host {
			p.record(&d, v, blocklog.ActionBlock, host, "", "connect to an address named by itself: "+v.Reason.String())
			return
		}
		target = policy.Verdict{} // decided by the name below
	}
	if name != "" && name != host {
		// Both must be allowed: an IP or allowed CONNECT host does not
		// launder a blocked SNI (domain fronting), nor the reverse.
		sv := d.decide(name, "")
		if sv.Action == policy.Block {
			reason := "sni (connect " + host + "): " + sv.Reason.String()
			if p.canShowTLSBlock(name) {
				p.serveTLSBlock(&d, conn, br, name, sv, reason)
				return
			}
			p.record(&d, sv, blocklog.ActionBlock, name, "", reason)
			return
		}
		if sv.Action == policy.SafeSearch {
			target = sv
		}
	}
	dialHost := host
	if target.Action == policy.SafeSearch && target.SafeHost != "" {
		dialHost = target.SafeHost
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.DialTimeout)
	up, err := p.dial(ctx, "tcp", hostPort(dialHost, port))
	cancel()
	if err != nil {
		p.log.Info("proxy: tunnel origin unreachable", "host", host, "dial", dialHost, "err", err)
		return
	}
	defer up.Close()
	p.splice(conn, br, up)
}

// listed reports a block because a list names the host (a category or the
// profile's block list), not a block of everything not allowed.
func listed(v policy.Verdict) bool {
	return v.Action == policy.Block && (v.Reason == policy.ReasonCategory || v.Reason == policy.ReasonCustomBlock)
}

// blockWhat names why something is blocked in a line of text.
func blockWhat(eng *policy.Engine, v policy.Verdict) string {
	if v.Category != "" {
		return categoryName(eng, v.Category, false) + ": " + v.Entry
	}
	return v.Reason.String()
}

func (p *Proxy) splice(client net.Conn, clientR io.Reader, up net.Conn) {
	Splice(client, clientR, up, p.cfg.TunnelIdleTimeout)
}

// Splice copies both ways between a client and an origin until both sides
// are done or the pair has carried nothing either way for idle. clientR
// holds the client's bytes (a peeked hello first); client is the connection
// under it. It closes neither connection's file on a clean end, only
// half-closes; callers close both. A panic in the copier goroutine is
// recovered and closes both sides. agent/transparent uses it too.
func Splice(client net.Conn, clientR io.Reader, up net.Conn, idle time.Duration) {
	if idle <= 0 {
		idle = DefaultTunnelIdleTimeout
	}
	t := &tunnel{idle: idle}
	t.touch(time.Now())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if v := recover(); v != nil {
				_ = client.Close()
				_ = up.Close()
			}
		}()
		if err := t.pipe(up, clientR, client); err != nil {
			_ = up.Close()
			_ = client.Close()
			return
		}
		closeWrite(up)
	}()
	if err := t.pipe(client, up, up); err != nil {
		_ = up.Close()
		_ = client.Close()
	} else {
		closeWrite(client)
	}
	wg.Wait()
}

// tunnel is the idle clock shared by both directions of a splice: a
// one-way download is not idle just because the client sends nothing.
type tunnel struct {
	idle time.Duration
	last atomic.Int64 // unix nanoseconds of the last byte either way
}

func (t *tunnel) touch(now time.Time) { t.last.Store(now.UnixNano()) }

// bufPool holds the copy buffers; a tunnel keeps two for its lifetime, and a
// browser keeps a hundred tunnels open, so they are one TLS record (16 KiB)
// rather than io.Copy's 32 KiB: half the memory, throughput within noise
// (BenchmarkTunnelThroughput 148-174 MB/s against 171-186 MB/s).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// pipe copies src to dst until EOF (nil) or an error. The read deadline on
// srcConn is pushed forward at most every idle/4, keeping the clock off the
// per-read path; when it fires, the tunnel is idle only if the other
// direction was quiet too.
func (t *tunnel) pipe(dst net.Conn, src io.Reader, srcConn net.Conn) error {
	if d, s := tcpConn(dst), tcpConn(srcConn); d != nil && s != nil && src == io.Reader(srcConn) {
		return t.pipeKernel(dst, d, srcConn, s)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var last time.Time
	for {
		if now := time.Now(); now.Sub(last) > t.idle/4 {
			last = now
			_ = srcConn.SetReadDeadline(now.Add(t.idle))
			_ = dst.SetWriteDeadline(now.Add(t.idle))
			t.touch(now)
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, t.last.Load())) < t.idle:
			last = time.Time{} // the other way is busy: extend and keep reading
		default:
			return err
		}
	}
}

// kernelChunk is the most pipeKernel moves in one call.
const kernelChunk = 1 << 20

// pipeKernel is pipe between two TCP connections with no bytes buffered
// in front (the origin's side of a tunnel: a download). The kernel moves
// the bytes (splice(2) on Linux, through TCPConn.ReadFrom), never copying
// them into the agent. The read deadline is a quarter of idle, so the
// shared idle clock hears of bytes that moved at least that often, as the
// other direction relies on. A read deadline leaves no bytes in flight
// (they stop before being taken from the socket); the write deadline,
// which might, stays the whole idle period and ends the tunnel.
func (t *tunnel) pipeKernel(dst net.Conn, d *net.TCPConn, srcConn net.Conn, s *net.TCPConn) error {
	lr := &io.LimitedReader{R: s}
	for {
		start := time.Now()
		_ = srcConn.SetReadDeadline(start.Add(t.idle / 4))
		_ = dst.SetWriteDeadline(start.Add(t.idle))
		lr.N = kernelChunk
		n, err := d.ReadFrom(lr)
		now := time.Now()
		if n > 0 {
			t.touch(now)
		}
		switch {
		case err == nil && lr.N > 0:
			return nil // the origin's EOF
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded) && now.Sub(start) < t.idle && now.Sub(time.Unix(0, t.last.Load())) < t.idle:
			// Quiet for a quarter of idle, not idle yet.
		default:
			return err
		}
	}
}

// tcpConn is the TCP connection under c, or nil.
func tcpConn(c net.Conn) *net.TCPConn {
	for range 4 {
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

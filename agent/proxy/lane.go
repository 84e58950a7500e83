package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/greengate/greengate/internal/connfeed"
	"github.com/greengate/greengate/internal/connlimit"
)

// The lane serves the common request itself: an HTTP/1.1 GET for an
// absolute http:// URL, with no body, no upgrade, headers that fit in
// laneBufSize, that the policy allows. Everything else, and every
// connection after its first request of another kind, goes to the
// net/http server and goproxy (proxy.go), as all requests did before.
//
// Why: on loopback, net/http's per-request machinery (a goroutine
// watching the connection during each request, contexts, the response
// writer's buffering and chunking) cost the proxy about as much as the
// forwarding. The lane reads a connection through one buffer and writes
// the origin's answer with Response.Write: scripts/bench-proxy.sh went
// from 0.31-0.41x direct to 0.37-0.45x.
//
// Safety rests on two rules. First, the lane decides on bytes it has only
// peeked at: a request it does not take is left unread and the connection
// handed to the server, which parses it from the first byte, as if the
// lane were not there. Second, the lane takes only what the server would
// take the same way: the request is parsed by http.ReadRequest, the
// server's own parser, over exactly the peeked header, and then put
// through the server's checks (Host, header names and values); anything
// that could carry a body or change the connection (any Content-Length
// or Transfer-Encoding field, Expect, Upgrade) is the server's. So a
// request the two would frame differently cannot be smuggled between
// them; FuzzLaneAgreesWithServer plays streams through both to show it.
const laneBufSize = 4 << 10

// laneWatchAfter is how long a request waits on its origin before the lane
// starts watching the client for a disconnect that should cut it; most
// answers come well before, and watching costs a goroutine.
const laneWatchAfter = 250 * time.Millisecond

// errNotLane says a request is not the lane's: hand the connection over.
var errNotLane = errors.New("not a lane request")

// Lane states; the shutdown closes idle lanes and waits for busy ones.
const (
	laneIdle int32 = iota
	laneBusy
	laneClosed
)

type lane struct {
	p      *Proxy
	c      net.Conn
	remote string
	br     *bufio.Reader // the client's bytes; what is not used stays here
	bw     *bufio.Writer
	hr     bytes.Reader  // a peeked header,
	pr     *bufio.Reader // read by http.ReadRequest through this
	prof   connProfile
	state  atomic.Int32
	served bool // a request was served: waits between requests are idle

	// The watch: ctx ends when the client goes while its request waits on
	// the origin.
	ctx       context.Context
	cancel    context.CancelFunc
	watch     *time.Timer
	watchDone chan struct{}
	unwatch   atomic.Bool
}

// handed is a connection given to the server with the lane's unused
// bytes in front. Once they are read it reads the connection directly,
// and only then does NetConn show it (connect.go's kernel copy reads
// under the wrapper).
type handed struct {
	net.Conn
	br      *bufio.Reader
	drained atomic.Bool
	prof    *connProfile
}

func (h *handed) Read(b []byte) (int, error) {
	if h.drained.Load() {
		return h.Conn.Read(b)
	}
	n, err := h.br.Read(b)
	if h.br.Buffered() == 0 {
		h.br = nil // only this reader touches it, and no more: free it for a long tunnel
		h.drained.Store(true)
	}
	return n, err
}

// NetConn is the connection under h once nothing is left in front of it;
// before that, nil (a reader below h would skip those bytes).
func (h *handed) NetConn() net.Conn {
	if h.drained.Load() {
		return h.Conn
	}
	return nil
}

// LimitConn is the per-client limit's connection under h.
func (h *handed) LimitConn() *connlimit.Conn { return connlimit.Of(h.Conn) }

// CloseWrite half-closes when the connection under h can.
func (h *handed) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return h.Conn.Close()
}

// acceptLanes accepts clients from ln and serves each on a lane until ln
// is closed.
func (p *Proxy) acceptLanes(ln net.Listener, h *connfeed.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait, as
			// net/http's server does, rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			p.log.Warn("proxy: accepting a client", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if p.noLane {
			if !h.Give(c) {
				_ = c.Close()
			}
			continue
		}
		go p.serveLane(c, h)
	}
}

func (p *Proxy) serveLane(c net.Conn, h *connfeed.Listener) {
	l := &lane{p: p, c: c, remote: c.RemoteAddr().String(),
		br: bufio.NewReaderSize(c, laneBufSize), watchDone: make(chan struct{}, 1)}
	given := false
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("proxy: panic serving a client; connection closed",
				"client", l.remote, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		if !given {
			_ = c.Close()
		}
		p.untrackLane(l)
		if l.cancel != nil {
			l.cancel()
		}
	}()
	if !p.trackLane(l) {
		return
	}
	slot := connlimit.Of(c)
	for {
		n, err := l.next()
		if errors.Is(err, errNotLane) {
			break
		}
		if err != nil {
			return
		}
		// A whole head is in: from here to the answer the connection is
		// busy, not one the per-client limit may take back.
		if slot != nil && !slot.Busy() {
			return
		}
		req := l.parse(n)
		if req == nil {
			break
		}
		if _, ok := p.route(req, &l.prof, true); !ok {
			break
		}
		_, _ = l.br.Discard(n)
		l.served = true
		if !l.serve(req) || !l.idle() {
			return
		}
		if slot != nil {
			slot.Idle()
		}
	}
	if slot != nil {
		slot.Idle() // the server says from here (connState)
	}
	p.untrackLane(l)
	given = h.Give(&handed{Conn: c, br: l.br, prof: &l.prof})
}

// next waits for the next request and peeks its header: n bytes, the
// blank line included. errNotLane: the request is the server's.
func (l *lane) next() (int, error) {
	// A new connection has the header timeout for its whole first
	// request, as the server's have; an idle wait before the header is
	// for connections that asked something already.
	timed := false
	if l.br.Buffered() == 0 {
		if l.served {
			_ = l.c.SetReadDeadline(time.Now().Add(l.p.cfg.IdleTimeout))
		} else {
			_ = l.c.SetReadDeadline(time.Now().Add(l.p.cfg.ReadHeaderTimeout))
			timed = true
		}
		if _, err := l.br.Peek(1); err != nil {
			return 0, err
		}
	}
	if !l.state.CompareAndSwap(laneIdle, laneBusy) {
		return 0, net.ErrClosed // shutting down
	}
	if !timed {
		_ = l.c.SetReadDeadline(time.Now().Add(l.p.cfg.ReadHeaderTimeout))
	}
	from := 0
	for {
		buf, _ := l.br.Peek(l.br.Buffered())
		if !lanePrefix(buf) {
			return 0, errNotLane
		}
		if n := headerEnd(buf, from); n > 0 {
			return n, nil
		}
		if len(buf) == l.br.Size() {
			return 0, errNotLane // headers too large for the lane
		}
		from = max(0, len(buf)-2)
		if _, err := l.br.Peek(len(buf) + 1); err != nil {
			// A request cut short (by the client, or by the header
			// timeout) is the server's to answer, as it would have:
			// 400. A slow client thus has the header timeout twice at
			// most, lane's and server's, for a request that stays
			// within the lane's buffer.
			return 0, errNotLane
		}
	}
}

// lanePrefix reports whether b can start a lane request, so that others
// go to the server at their first bytes rather than after the header.
// HEAD is not the lane's: an answer to it of unknown length keeps the
// connection with the server, where Response.Write would close it.
func lanePrefix(b []byte) bool {
	const m = "GET http://"
	k := min(len(b), len(m))
	return string(b[:k]) == m[:k]
}

// headerEnd is the length of the header in b up to and including its
// blank line ("\n\n" or "\n\r\n", as the server's line reader allows),
// looking for the line feed from from on; 0 if there is none yet.
func headerEnd(b []byte, from int) int {
	for i := from; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
	return 0
}

// parse reads the peeked header of n bytes with the server's parser and
// checks, and returns the request if it is the lane's, else nil.
func (l *lane) parse(n int) *http.Request {
	hdr, _ := l.br.Peek(n)
	l.hr.Reset(hdr)
	if l.pr == nil {
		l.pr = bufio.NewReaderSize(&l.hr, laneBufSize)
	} else {
		l.pr.Reset(&l.hr)
	}
	req, err := http.ReadRequest(l.pr)
	if err != nil || l.pr.Buffered() > 0 || l.hr.Len() > 0 {
		return nil
	}
	// simple refuses any Transfer-Encoding (ReadRequest moves it out of
	// the header for HTTP/1.1); a Content-Length field, even 0, stays the
	// server's too.
	if req.Method != http.MethodGet || req.ProtoMajor != 1 || req.ProtoMinor != 1 || !simple(req) ||
		req.URL.Host == "" || req.Header["Content-Length"] != nil {
		return nil
	}
	// The server's checks (net/http server.go, conn.readRequest), on
	// the Host field ReadRequest takes out of the header.
	host, ok := hostField(hdr)
	if !ok || !httpguts.ValidHostHeader(host) {
		return nil
	}
	for k, vs := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil
			}
		}
	}
	req.RemoteAddr = l.remote
	return req
}

// hostField is the value of the one Host field in hdr, a header that
// http.ReadRequest took. ok is false when there is none, or the header
// has folded lines, whose joining the lane leaves to the server.
func hostField(hdr []byte) (host string, ok bool) {
	_, rest, _ := bytes.Cut(hdr, []byte("\n")) // the request line
	n := 0
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return "", false
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		if len(k) == 4 && strings.EqualFold(string(k), "Host") {
			host = string(bytes.Trim(v, " \t"))
			n++
		}
	}
	return host, n == 1
}

// serve forwards req, which route allowed, and writes the answer. It
// reports whether the connection can carry another request.
func (l *lane) serve(req *http.Request) bool {
	// As goproxy does for the server's requests (RemoveProxyHeaders,
	// keeping Accept-Encoding).
	req.RequestURI = ""
	for _, k := range [...]string{"Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Connection"} {
		delete(req.Header, k)
	}
	if l.ctx == nil {
		l.ctx, l.cancel = context.WithCancel(context.Background())
		l.watch = time.AfterFunc(laneWatchAfter, l.watchClient)
	} else {
		l.watch.Reset(laneWatchAfter)
	}
	resp, err := l.p.up.roundTrip(l.ctx, req)
	resp = l.p.forwarded(req, resp, err)
	keep := l.answer(req, resp)
	if !l.watch.Stop() {
		l.unwatch.Store(true)
		_ = l.c.SetReadDeadline(aLongTimeAgo)
		<-l.watchDone
		l.unwatch.Store(false)
		keep = keep && l.ctx.Err() == nil
	}
	return keep
}

var aLongTimeAgo = time.Unix(1, 0)

// watchClient runs when a request has waited laneWatchAfter: a client
// that closes its connection meanwhile cancels the request, as the
// server's requests are. Bytes it sends (a pipelined request) end the
// watch and stay buffered.
func (l *lane) watchClient() {
	defer func() { l.watchDone <- struct{}{} }()
	_ = l.c.SetReadDeadline(time.Time{})
	if l.unwatch.Load() {
		return
	}
	if _, err := l.br.Peek(1); err != nil && !l.unwatch.Load() {
		l.cancel()
	}
}

// answer writes resp, the answer to req, and reports whether the
// connection can carry another request.
func (l *lane) answer(req *http.Request, resp *http.Response) bool {
	h := resp.Header
	// Hop-by-hop fields are the origin connection's, not the client's
	// (RFC 9110 7.6.1); framing is Response.Write's.
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
		delete(h, k)
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{time.Now().UTC().Format(http.TimeFormat)}
	}
	// The status line is ours, as the server's would be: the origin's
	// reason text is not passed on.
	resp.Status, resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "", "HTTP/1.1", 1, 1
	resp.Request = req
	// Response.Write ends a body of unknown length by closing, and says
	// so (as it decides: by length and chunking alone); else closing is
	// the client's wish.
	resp.Close = req.Close || (resp.ContentLength < 0 && !isChunked(resp.TransferEncoding))
	if l.bw == nil {
		l.bw = bufio.NewWriterSize(l.c, laneBufSize)
	}
	// Response.Write is given a plain Writer, never the bufio.Writer
	// itself: that one's ReadFrom would have the body read straight into
	// its buffer, where laneBody's flush before a wait would then send
	// stale bytes in the body's place.
	var w io.Writer = writeOnly{l.bw}
	if resp.ContentLength < 0 {
		// A stream (chunked, events): each piece goes out as it comes,
		// as goproxy's flushWriter does.
		w = flushing{l.bw}
	}
	body := &laneBody{rc: resp.Body, bw: l.bw}
	defer body.Close()
	resp.Body = body
	if err := resp.Write(w); err != nil {
		return false
	}
	if err := l.bw.Flush(); err != nil {
		return false
	}
	return !resp.Close
}

func isChunked(te []string) bool { return len(te) > 0 && te[0] == "chunked" }

// writeOnly is a bufio.Writer with nothing but Write.
type writeOnly struct{ bw *bufio.Writer }

func (w writeOnly) Write(b []byte) (int, error) { return w.bw.Write(b) }

// flushing writes through to the client at every write.
type flushing struct{ bw *bufio.Writer }

func (f flushing) Write(b []byte) (int, error) {
	n, err := f.bw.Write(b)
	if err == nil {
		err = f.bw.Flush()
	}
	return n, err
}

// laneBody is an answer's body as Response.Write reads it: before a read
// that will wait on the origin, what is written so far goes out, so a
// slow body is never held back for want of a full buffer.
type laneBody struct {
	rc io.ReadCloser
	bw *bufio.Writer
}

func (b *laneBody) Read(p []byte) (int, error) {
	if b.bw.Buffered() > 0 && !b.ready() {
		if err := b.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return b.rc.Read(p)
}

// ready reports whether the next read will not wait on the origin.
func (b *laneBody) ready() bool {
	ub, ok := b.rc.(*upBody)
	return ok && ub.ready()
}

// Close first reads nothing: a body already at its end (a HEAD's, a 304's)
// says so, and its origin connection is kept, as when read through.
func (b *laneBody) Close() error {
	_, _ = b.rc.Read(nil)
	return b.rc.Close()
}

// idle marks the lane idle between requests; false when shutdown has
// begun and the lane should close.
func (l *lane) idle() bool {
	l.state.Store(laneIdle)
	return !l.p.lanesClosing.Load()
}

func (p *Proxy) trackLane(l *lane) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lanesClosing.Load() {
		return false
	}
	if p.lanes == nil {
		p.lanes = make(map[*lane]struct{})
	}
	p.lanes[l] = struct{}{}
	return true
}

func (p *Proxy) untrackLane(l *lane) {
	p.mu.Lock()
	delete(p.lanes, l)
	p.mu.Unlock()
}

// shutdownLanes closes idle lanes now and busy ones as they finish their
// request, or all that are left when ctx ends.
func (p *Proxy) shutdownLanes(ctx context.Context) {
	p.lanesClosing.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		for l := range p.lanes {
			if l.state.CompareAndSwap(laneIdle, laneClosed) || ctx.Err() != nil {
				_ = l.c.Close()
			}
		}
		left := len(p.lanes)
		p.mu.Unlock()
		if left == 0 || ctx.Err() != nil {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

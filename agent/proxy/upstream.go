package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// upstream forwards the common plain-HTTP request, a GET or HEAD with no
// body and no upgrade, on the client's own goroutine: write it, read the answer,
// hand the body to goproxy or the lane, and keep the origin connection for the next
// request once the body was read to its end. http.Transport does the same
// through two goroutines a connection and channels between them; on
// loopback the handoffs cost more than the forwarding. Everything else
// (request bodies, Expect: 100-continue, upgrades) goes to the
// Transport. The parsing and writing are net/http's own (Request.Write,
// ReadResponse). A connection goes back to the pool only after its
// answer's body was read to the end and the request was not cancelled
// meanwhile, so no answer's rest can reach another request.
type upstream struct {
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	idleFor time.Duration // an idle connection older than this is closed
	perHost int           // idle connections kept per host
	maxIdle int           // and in all

	mu     sync.Mutex
	idle   map[string][]*upConn
	nidle  int
	sweep  *time.Timer // closes connections idle too long; armed while any are
	closed bool
}

type upConn struct {
	c     net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	key   string
	since time.Time // idle since
}

// simple reports whether upstream can carry req: idempotent, so it may be
// sent again when a kept connection turns out closed.
func simple(req *http.Request) bool {
	return (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody) && req.ContentLength == 0 &&
		len(req.TransferEncoding) == 0 && req.Header.Get("Upgrade") == "" &&
		req.Header.Get("Expect") == "" && req.URL.Scheme == "http"
}

func (u *upstream) get(key string) *upConn {
	u.mu.Lock()
	defer u.mu.Unlock()
	cs := u.idle[key]
	for len(cs) > 0 {
		c := cs[len(cs)-1]
		cs = cs[:len(cs)-1]
		u.nidle--
		if time.Since(c.since) < u.idleFor {
			u.idle[key] = cs
			return c
		}
		_ = c.c.Close()
	}
	delete(u.idle, key)
	return nil
}

// expire closes the connections idle for idleFor, and re-arms itself
// while others are left.
func (u *upstream) expire() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for key, cs := range u.idle {
		kept := cs[:0]
		for _, c := range cs {
			if time.Since(c.since) < u.idleFor {
				kept = append(kept, c)
				continue
			}
			_ = c.c.Close()
			u.nidle--
		}
		if len(kept) == 0 {
			delete(u.idle, key)
		} else {
			u.idle[key] = kept
		}
	}
	if u.nidle > 0 && !u.closed {
		u.sweep.Reset(u.idleFor / 2)
	} else {
		u.sweep = nil
	}
}

func (u *upstream) put(c *upConn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || len(u.idle[c.key]) >= u.perHost || u.nidle >= u.maxIdle {
		_ = c.c.Close()
		return
	}
	if u.idle == nil {
		u.idle = map[string][]*upConn{}
	}
	c.since = time.Now()
	u.idle[c.key] = append(u.idle[c.key], c)
	u.nidle++
	if u.sweep == nil {
		u.sweep = time.AfterFunc(u.idleFor/2, u.expire)
	}
}

// close closes the idle connections, and those given back later.
func (u *upstream) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, cs := range u.idle {
		for _, c := range cs {
			_ = c.c.Close()
		}
	}
	u.idle = nil
	u.nidle = 0
	u.closed = true
}

// roundTrip sends req, which simple allows, and reads its answer; ctx
// ending cuts both (the lane's requests carry no context of their own).
func (u *upstream) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	key := req.URL.Host
	if _, _, err := net.SplitHostPort(key); err != nil {
		key = net.JoinHostPort(key, "80")
	}
	// The request line and headers as the Transport writes them; an
	// empty User-Agent keeps Request.Write from adding Go's.
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""}
	}
	for attempt := 0; ; attempt++ {
		c := u.get(key)
		reused := c != nil
		if c == nil {
			nc, err := u.dial(ctx, "tcp", key)
			if err != nil {
				return nil, err
			}
			c = &upConn{c: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc), key: key}
		}
		resp, err := u.exchange(ctx, c, req)
		if err == nil {
			return resp, nil
		}
		_ = c.c.Close()
		// An idle connection the origin closed meanwhile fails at once;
		// a GET or HEAD is safe to send again, once.
		if !reused || attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
	}
}

func (u *upstream) exchange(ctx context.Context, c *upConn, req *http.Request) (*http.Response, error) {
	if err := req.Write(c.bw); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetReadDeadline(time.Now()) })
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			stop()
			return nil, err
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			// Nothing here asked for an upgrade (those go through the
			// Transport): what follows is not an answer.
			stop()
			return nil, errors.New("origin switched protocols unasked")
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			continue // an interim answer; the real one follows
		}
		resp.Body = &upBody{rc: resp.Body, c: c, u: u, keep: !resp.Close, stop: stop}
		return resp, nil
	}
}

// upBody gives the connection back once its body was read to the end.
type upBody struct {
	rc   io.ReadCloser
	c    *upConn
	u    *upstream
	keep bool
	stop func() bool
	done bool
	eof  bool
}

func (b *upBody) Read(p []byte) (int, error) {
	if b.eof {
		// The body below is closed, its connection given back; a
		// reader that asks again (Response.Write checks for bytes past
		// Content-Length) hears the end again.
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done, b.eof = true, true
		b.release(true)
	}
	return n, err
}

// ready reports whether the next Read returns without waiting on the
// origin: its bytes are read already, or the body is over (and its
// connection, maybe another request's now, is not to be touched).
func (b *upBody) ready() bool {
	return b.done || b.c.br.Buffered() > 0
}

func (b *upBody) Close() error {
	if !b.done {
		b.done = true
		b.release(false)
	}
	return nil
}

func (b *upBody) release(atEOF bool) {
	// Bytes after the answer's end were sent unasked; kept, they would
	// be read as the answer to the connection's next request.
	if b.stop() && atEOF && b.keep && b.c.br.Buffered() == 0 {
		_ = b.rc.Close()
		b.u.put(b.c)
		return
	}
	_ = b.c.c.Close()
}

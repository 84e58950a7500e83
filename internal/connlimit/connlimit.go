// Package connlimit bounds the connections one client holds at once, so
// that no one client (a process, a local user, a LAN machine) can fill a
// listener's global limit and starve everyone else.
//
// A listener admits each accepted connection under its client's key
// (whatever the caller decides names a client: a uid, an address). Below
// the per-client limit it is simply counted. At the limit, room is made
// by closing that client's connection that has been idle longest: one
// that is between requests, or has not finished sending a request head
// (a slowloris, or a hoard of connections opened and never used). Only if
// every one of the client's connections is busy (serving a request, or a
// tunnel) is the new one refused. So a client that hoards connections
// loses its own oldest idle ones first, and its own next real request
// still gets through, while other clients never notice.
//
// The listener's server tells a Conn when it is busy and idle (Busy,
// Idle); a Conn starts idle. Closing a Conn frees its place and runs the
// release function it was admitted with, once, whoever closes it first.
//
// Concurrency: a Limiter and its Conns are safe for concurrent use.
package connlimit

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states.
const (
	stateIdle int32 = iota
	stateBusy
	stateGone // evicted or closed
)

// Limiter counts connections by client. Create it with New.
type Limiter struct {
	max     int
	mu      sync.Mutex
	clients map[string][]*Conn
}

// New returns a Limiter allowing perClient connections to each client;
// less than 1 means 1.
func New(perClient int) *Limiter {
	return &Limiter{max: max(perClient, 1), clients: map[string][]*Conn{}}
}

// Conn is an admitted connection.
type Conn struct {
	net.Conn
	l       *Limiter
	key     string
	state   atomic.Int32
	since   atomic.Int64 // unix nanoseconds it last became idle
	once    sync.Once
	release func()
}

// Admit counts c for the client key, making room by evicting that
// client's longest-idle connection when it is at its limit. release (may
// be nil) runs once when the returned Conn closes. ok is false when all
// of the client's connections are busy: c is not admitted, and the
// caller closes it (release is not run).
func (l *Limiter) Admit(c net.Conn, key string, release func()) (lc *Conn, ok bool) {
	lc = &Conn{Conn: c, l: l, key: key, release: release}
	lc.since.Store(time.Now().UnixNano())
	var victim *Conn
	l.mu.Lock()
	cs := l.clients[key]
	if len(cs) >= l.max {
		vi := -1
		for i, o := range cs {
			if o.state.Load() == stateIdle && (vi < 0 || o.since.Load() < cs[vi].since.Load()) {
				vi = i
			}
		}
		if vi < 0 || !cs[vi].state.CompareAndSwap(stateIdle, stateGone) {
			l.mu.Unlock()
			return nil, false
		}
		victim = cs[vi]
		cs[vi] = cs[len(cs)-1]
		cs = cs[:len(cs)-1]
	}
	l.clients[key] = append(cs, lc)
	l.mu.Unlock()
	if victim != nil {
		victim.free()
	}
	return lc, true
}

// Count is the number of connections the client key holds.
func (l *Limiter) Count(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients[key])
}

// remove takes c out of its client's list, if still there.
func (l *Limiter) remove(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.clients[c.key]
	for i, o := range cs {
		if o == c {
			cs[i] = cs[len(cs)-1]
			cs = cs[:len(cs)-1]
			break
		}
	}
	if len(cs) == 0 {
		delete(l.clients, c.key)
	} else {
		l.clients[c.key] = cs
	}
}

// free closes the connection and releases its place, once.
func (c *Conn) free() (err error) {
	err = net.ErrClosed
	c.once.Do(func() {
		err = c.Conn.Close()
		if c.release != nil {
			c.release()
		}
	})
	return err
}

// Busy marks c as serving a request or a tunnel: it is not evicted. It
// reports false when c was evicted already (its reads and writes fail).
func (c *Conn) Busy() bool {
	return c.state.CompareAndSwap(stateIdle, stateBusy) || c.state.Load() == stateBusy
}

// Idle marks c as waiting for its client: the first to be evicted when
// the client needs room.
func (c *Conn) Idle() {
	c.since.Store(time.Now().UnixNano())
	c.state.CompareAndSwap(stateBusy, stateIdle)
}

// Close closes the connection and frees its place.
func (c *Conn) Close() error {
	if c.state.Swap(stateGone) != stateGone {
		c.l.remove(c)
	}
	return c.free()
}

// NetConn is the connection under c (for a kernel copy of a tunnel);
// closing stays with c, which frees the place.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes when the connection under c can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Wrapper is a connection wrapping an admitted one.
type Wrapper interface{ LimitConn() *Conn }

// Of is the admitted connection c is or wraps, or nil.
func Of(c net.Conn) *Conn {
	switch v := c.(type) {
	case *Conn:
		return v
	case Wrapper:
		return v.LimitConn()
	}
	return nil
}

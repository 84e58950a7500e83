// Package connfeed is a net.Listener that a program feeds by hand: for a
// server (net/http's) that should serve connections another loop accepted
// and sorted first, such as the proxy's lane or the transparent listener.
package connfeed

import (
	"net"
	"sync"
)

// Listener hands connections given to Give to whoever calls Accept.
type Listener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// New returns a Listener that reports addr as its address.
func New(addr net.Addr) *Listener {
	return &Listener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Give waits until an Accept takes c, and reports false, leaving c to the
// caller, if the Listener is closed first.
func (l *Listener) Give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// Accept returns the next connection given, or net.ErrClosed once the
// Listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Give; the connections given stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address given to New.
func (l *Listener) Addr() net.Addr { return l.addr }

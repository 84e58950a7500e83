package connlimit_test

import (
	"net"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/connlimit"
)

// pair is a real loopback connection: the server's end and the client's.
func pair(t *testing.T, ln net.Listener) (server, client net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return err != nil && !(ok && ne.Timeout())
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := connlimit.New(2)
	released := 0
	admit := func(key string) (*connlimit.Conn, net.Conn, bool) {
		s, c := pair(t, ln)
		lc, ok := l.Admit(s, key, func() { released++ })
		return lc, c, ok
	}
	a, ac, _ := admit("u")
	b, bc, _ := admit("u")
	if _, _, ok := admit("v"); !ok {
		t.Fatal("another client refused")
	}
	a.Busy()
	// At the limit, with a busy: the idle one goes.
	c, _, ok := admit("u")
	if !ok || l.Count("u") != 2 {
		t.Fatalf("third connection: ok %v, count %d", ok, l.Count("u"))
	}
	if !closedByPeer(t, bc) || closedByPeer(t, ac) {
		t.Fatal("the idle connection was not the one evicted")
	}
	if b.Busy() {
		t.Fatal("an evicted connection became busy")
	}
	c.Busy()
	// All busy: refused, nothing evicted.
	if _, _, ok := admit("u"); ok {
		t.Fatal("admitted past the limit with every connection busy")
	}
	if released != 1 {
		t.Fatalf("released %d times, want 1 (the evicted one)", released)
	}
	// Idle again: the longest idle goes first.
	c.Idle()
	time.Sleep(time.Millisecond)
	a.Idle()
	if _, _, ok := admit("u"); !ok {
		t.Fatal("refused with idle connections")
	}
	if c.Busy() || !a.Busy() {
		t.Fatal("did not evict the longest idle")
	}
	a.Close()
	a.Close()
	if released != 3 || l.Count("u") != 1 {
		t.Fatalf("released %d, count %d after closes", released, l.Count("u"))
	}
}

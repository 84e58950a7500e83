package connfeed_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/connfeed"
)

func TestGiveAcceptClose(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l := connfeed.New(&net.TCPAddr{Port: 1})
	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	if !l.Give(a) {
		t.Fatal("Give refused on an open listener")
	}
	if c := <-got; c != a {
		t.Fatal("Accept returned another connection")
	}
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	done := make(chan bool)
	go func() { done <- l.Give(b) }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Give after Close took the connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Give after Close waits forever")
	}
	if a, ok := l.Addr().(*net.TCPAddr); !ok || a.Port != 1 {
		t.Fatalf("Addr %v", l.Addr())
	}
}

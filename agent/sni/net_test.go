package sni_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/sni"
	"github.com/greengate/greengate/internal/testcert"
)

// listen starts a loopback listener closed at the end of the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// accept returns the next connection on ln, failing the test after 10s.
func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		ch <- c
	}()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return c
	case err := <-errc:
		t.Fatalf("accepting: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no connection within 10s")
	}
	return nil
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	tc := c.(*net.TCPConn)
	// Each Write becomes its own segment, so the peek really sees pieces.
	if err := tc.SetNoDelay(true); err != nil {
		t.Fatalf("setting TCP_NODELAY: %v", err)
	}
	return tc
}

// pieces splits b at the given offsets.
func pieces(b []byte, at ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, i := range at {
		out = append(out, b[prev:i])
		prev = i
	}
	return append(out, b[prev:])
}

func TestPeekConnOverLoopback(t *testing.T) {
	t.Parallel()
	chromium := readHello(t, "chromium.bin")
	multi := fragment(t, readHello(t, "chromium-dot.bin"), 700) // 3 records
	ones := func(b []byte) [][]byte {
		out := make([][]byte, len(b))
		for i := range b {
			out[i] = b[i : i+1]
		}
		return out
	}
	tests := []struct {
		name   string
		raw    []byte
		writes [][]byte
		want   string
	}{
		{"one write", chromium, [][]byte{chromium}, "chromium.test"},
		{"one byte per write", chromium, ones(chromium), "chromium.test"},
		{"split mid record header", chromium, pieces(chromium, 2, 4), "chromium.test"},
		{"split mid handshake header", chromium, pieces(chromium, 6, 8, 1000), "chromium.test"},
		{"multi-record, split at record boundaries", multi, pieces(multi, 705, 1410), "chromium-dot.test"},
		{"multi-record, split mid next header", multi, pieces(multi, 707, 1412), "chromium-dot.test"},
		{"multi-record, one byte per write", multi, ones(multi), "chromium-dot.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln := listen(t)
			client := dial(t, ln.Addr().String())
			server := accept(t, ln)
			// Bytes after the hello must stay behind it, untouched.
			trailer := []byte("\x17\x03\x03\x00\x05hello")
			go func() {
				for _, w := range tt.writes {
					if _, err := client.Write(w); err != nil {
						return
					}
				}
				client.Write(trailer)
			}()
			br := sni.NewReader(server, sni.Options{})
			h, err := sni.PeekConn(server, br, sni.Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("PeekConn: %v", err)
			}
			if h.ServerName != tt.want || h.Len != len(tt.raw) {
				t.Errorf("got %q Len %d, want %q Len %d", h.ServerName, h.Len, tt.want, len(tt.raw))
			}
			got := make([]byte, len(tt.raw)+len(trailer))
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("reading after Peek: %v", err)
			}
			// A fresh slice: appending to tt.raw would write into the array
			// that parallel subtests share.
			want := append(append([]byte(nil), tt.raw...), trailer...)
			if !bytes.Equal(got, want) {
				t.Error("bytes after Peek differ from what the client sent")
			}
		})
	}
}

// TestPeekConnStalledClient: a client sends half a hello and stops, as a
// slowloris or a confused program would. PeekConn must give up at the
// deadline, consume nothing, and clear the deadline so the same connection
// still works when the rest arrives.
func TestPeekConnStalledClient(t *testing.T) {
	t.Parallel()
	raw := readHello(t, "chromium.bin")
	for _, cut := range []int{1, 3, 5, 9, len(raw) - 1} {
		t.Run(fmt.Sprintf("after %d bytes", cut), func(t *testing.T) {
			t.Parallel()
			ln := listen(t)
			client := dial(t, ln.Addr().String())
			server := accept(t, ln)
			if _, err := client.Write(raw[:cut]); err != nil {
				t.Fatalf("writing: %v", err)
			}
			br := sni.NewReader(server, sni.Options{})
			start := time.Now()
			h, err := sni.PeekConn(server, br, sni.Options{Timeout: 150 * time.Millisecond})
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("PeekConn error = %v, want a deadline error", err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("PeekConn took %v with a 150ms timeout", el)
			}
			if h.ServerName != "" {
				t.Errorf("Hello on timeout = %+v, want zero", h)
			}
			if _, err := client.Write(raw[cut:]); err != nil {
				t.Fatalf("writing the rest: %v", err)
			}
			// Peek without a deadline of its own: if PeekConn had left the
			// old deadline set, this would fail at once.
			time.Sleep(200 * time.Millisecond)
			h, err = sni.Peek(br, sni.Options{})
			if err != nil || h.ServerName != "chromium.test" {
				t.Fatalf("Peek after the rest arrived = %+v, %v", h, err)
			}
			got := make([]byte, len(raw))
			if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("reader after timeout and retry does not yield the hello: %v", err)
			}
		})
	}
}

// TestPeekConnLyingLengthDoesNotWait: a declared 16 MB hello is refused as
// soon as the header arrives, not after the timeout.
func TestPeekConnLyingLengthDoesNotWait(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	client := dial(t, ln.Addr().String())
	server := accept(t, ln)
	if _, err := client.Write([]byte{0x16, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff}); err != nil {
		t.Fatalf("writing: %v", err)
	}
	br := sni.NewReader(server, sni.Options{})
	_, err := sni.PeekConn(server, br, sni.Options{Timeout: 30 * time.Second})
	if !errors.Is(err, sni.ErrTooLarge) {
		t.Fatalf("PeekConn error = %v, want ErrTooLarge", err)
	}
}

// selfSigned makes a certificate for name, valid for an hour.
func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := testcert.SelfSigned(name)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pool
}

// TestForwardThroughPeek runs a real TLS client and server with a tiny
// SNI-filtering forwarder between them: peek, decide, then copy bytes both
// ways. A completed, verified handshake proves the peek left the client's
// bytes exactly as sent; a refused name proves the decision happens before
// any byte reaches the origin.
func TestForwardThroughPeek(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, serverName string
		blocked          bool
	}{
		{"allowed", "origin.test", false},
		{"allowed with uppercase", "ORIGIN.test", false},
		{"blocked", "blocked.test", true},
		{"blocked with uppercase", "Blocked.Test", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cert, pool := selfSigned(t, "origin.test")
			if tt.blocked {
				cert, pool = selfSigned(t, "blocked.test")
			}
			origin := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{cert}})
			originReached := make(chan bool, 1)
			go func() {
				c, err := origin.Accept()
				originReached <- err == nil
				if err != nil {
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "ping" {
					c.Write([]byte("pong"))
				}
			}()

			proxy := listen(t)
			decided := make(chan string, 1)
			go forward(proxy, origin.Addr().String(), decided)

			d := tls.Dialer{Config: &tls.Config{ServerName: tt.serverName, RootCAs: pool}}
			c, err := d.DialContext(ctx, "tcp", proxy.Addr().String())
			got := <-decided
			want := "allow origin.test"
			if tt.blocked {
				want = "block blocked.test"
			}
			if got != want {
				t.Errorf("forwarder decided %q, want %q", got, want)
			}
			if tt.blocked {
				if err == nil {
					c.Close()
					t.Fatal("handshake through the forwarder succeeded for a blocked name")
				}
				select {
				case <-originReached:
					t.Error("a blocked hello reached the origin")
				case <-time.After(100 * time.Millisecond):
				}
				return
			}
			if err != nil {
				t.Fatalf("TLS handshake through the forwarder: %v", err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatalf("writing through the tunnel: %v", err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
				t.Fatalf("reading through the tunnel = %q, %v", buf, err)
			}
		})
	}
}

// forward accepts one connection, peeks the SNI, refuses "blocked.test",
// otherwise relays both ways to origin. It reports its decision on decided.
func forward(ln net.Listener, origin string, decided chan<- string) {
	c, err := ln.Accept()
	if err != nil {
		decided <- "accept: " + err.Error()
		return
	}
	defer c.Close()
	br := sni.NewReader(c, sni.Options{})
	h, err := sni.PeekConn(c, br, sni.Options{Timeout: 5 * time.Second})
	if err != nil {
		decided <- "error: " + err.Error()
		return
	}
	if h.ServerName == "blocked.test" {
		decided <- "block " + h.ServerName
		return
	}
	decided <- "allow " + h.ServerName
	d := net.Dialer{Timeout: 5 * time.Second}
	o, err := d.Dial("tcp", origin)
	if err != nil {
		return
	}
	defer o.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_ = o.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{})
	go func() {
		io.Copy(c, o)
		close(done)
	}()
	// br first: it holds the peeked hello, then reads on from c.
	io.Copy(o, br)
	<-done
}

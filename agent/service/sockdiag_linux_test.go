package service

import (
	"net"
	"net/netip"
	"os"
	"testing"
)

func TestDiagUIDOfARealConnection(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"tcp4", "tcp6"} {
		ln, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
		if err != nil {
			t.Logf("%s: %v", network, err)
			continue
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		client, _ := addrPort(s.RemoteAddr())
		server, _ := addrPort(s.LocalAddr())
		uid, err := diagUID(client, server)
		if err != nil || uid != os.Getuid() {
			t.Fatalf("%s: diagUID = %d, %v; want %d", network, uid, err, os.Getuid())
		}
		// The same ends with another port name no socket.
		other := netip.AddrPortFrom(client.Addr(), client.Port()^1)
		if _, err := diagUID(other, server); err == nil {
			t.Errorf("%s: diagUID found a socket that does not exist", network)
		}
	}
}

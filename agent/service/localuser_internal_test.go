package service

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"testing"
)

// procSample is /proc/net/tcp and tcp6 as the kernel writes them, with a
// browser (uid 1000) connected to the proxy on 8899, the proxy's accepted
// side (uid 0), a listener, and a v4-mapped v6 socket.
const procSample = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:22C3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1664258 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:22C3 01 00000000:00000000 00:00000000 00000000  1000        0 1664300 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:22C3 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1664301 1 0000000000000000 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:D432 00000000000000000000000001000000:22C3 01 00000000:00000000 00:00000000 00000000  1001        0 9 1
   1: 0000000000000000FFFF00000100007F:D433 0000000000000000FFFF00000100007F:22C3 01 00000000:00000000 00:00000000 00000000  1002        0 9 1
   2: garbage line
   3: 0100007F:ZZZZ 0100007F:22C3 01 00000000:00000000 00:00000000 00000000  7 0 1
`

func TestOwnerOfFromProcSample(t *testing.T) {
	t.Parallel()
	rows := parseProcNetTCP(strings.NewReader(procSample))
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5: %+v", len(rows), rows)
	}
	proxy := netip.MustParseAddrPort("127.0.0.1:8899")
	tests := []struct {
		client, server string
		uid            int
		ok             bool
	}{
		{"127.0.0.1:54321", "127.0.0.1:8899", 1000, true}, // the browser, not the proxy's side
		{"[::1]:54322", "[::1]:8899", 1001, true},         // IPv6 loopback
		{"[::1]:54322", "127.0.0.1:8899", 0, false},       // the right socket, but not to this proxy
		{"127.0.0.1:54323", "127.0.0.1:8899", 1002, true}, // v4-mapped row, v4 client
		{"127.0.0.1:40000", "127.0.0.1:8899", 0, false},   // no such socket
		{"127.0.0.1:8899", "127.0.0.1:8899", 0, false},    // the proxy's own end is no client
	}
	for _, tt := range tests {
		uid, ok := ownerOf(rows, netip.MustParseAddrPort(tt.client), netip.MustParseAddrPort(tt.server))
		if uid != tt.uid || ok != tt.ok {
			t.Errorf("ownerOf(%s) = %d, %v; want %d, %v", tt.client, uid, ok, tt.uid, tt.ok)
		}
	}
	// Two owners for one local end: refuse to guess.
	amb := append(rows, socketRow{local: netip.MustParseAddrPort("127.0.0.1:54321"), remote: proxy, uid: 4})
	if _, ok := ownerOf(amb, netip.MustParseAddrPort("127.0.0.1:54321"), proxy); ok {
		t.Error("ambiguous owner accepted")
	}
}

func hexAddr(ap netip.AddrPort) string {
	b := ap.Addr().AsSlice()
	for i := 0; i+4 <= len(b); i += 4 {
		binary.LittleEndian.PutUint32(b[i:], binary.BigEndian.Uint32(b[i:]))
	}
	return fmt.Sprintf("%X:%04X", b, ap.Port())
}

// FuzzParseProcNetTCP: never panics on any text; every row it returns has
// a valid address, a uid >= 0, and prints back to hex that parses to
// itself.
func FuzzParseProcNetTCP(f *testing.F) {
	f.Add(procSample)
	f.Add("   0: 0100007F:1 0100007F:22C3 01 0:0 0:0 0 5\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, r := range parseProcNetTCP(strings.NewReader(text)) {
			if !r.local.IsValid() || !r.remote.IsValid() || r.uid < 0 {
				t.Fatalf("bad row %+v", r)
			}
			for _, ap := range []netip.AddrPort{r.local, r.remote} {
				back, ok := parseHexAddr(hexAddr(ap))
				if !ok || back != ap {
					t.Fatalf("%v prints as %s, parses back as %v", ap, hexAddr(ap), back)
				}
			}
		}
	})
}

func TestLocalUIDOfARealConnection(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
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
	// What the proxy sees: the client's address as the accepted conn's
	// remote end.
	uid, ok := localUID(s.RemoteAddr(), s.LocalAddr())
	if !ok || uid != os.Getuid() {
		t.Fatalf("localUID = %d, %v; want %d", uid, ok, os.Getuid())
	}
}

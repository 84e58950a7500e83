package service

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// socketRow is one line of /proc/net/tcp or tcp6: a socket's two ends and
// the uid that owns it.
type socketRow struct {
	local, remote netip.AddrPort
	uid           int
}

// maxProcLines bounds a parse; a machine with more sockets than this is
// not a family PC, and the lookup gives up (default profile).
const maxProcLines = 1 << 16

// parseProcNetTCP reads the /proc/net/tcp format (tcp6 too). Lines it
// cannot read are skipped: the kernel writes this file, but a lookup must
// never fail the connection it is for.
func parseProcNetTCP(r io.Reader) []socketRow {
	var rows []socketRow
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 4096)
	for n := 0; sc.Scan() && n < maxProcLines; n++ {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || !strings.HasSuffix(f[0], ":") {
			continue // the header, or junk
		}
		l, ok1 := parseHexAddr(f[1])
		rm, ok2 := parseHexAddr(f[2])
		uid, err := strconv.Atoi(f[7])
		if !ok1 || !ok2 || err != nil || uid < 0 {
			continue
		}
		rows = append(rows, socketRow{local: l, remote: rm, uid: uid})
	}
	return rows
}

// parseHexAddr reads "0100007F:1F90": the address as the kernel's 32-bit
// words in host (little-endian) order, the port big-endian hex.
func parseHexAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || (len(a) != 8 && len(a) != 32) {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	// Each 4-byte word is little-endian; turn it into network order.
	for i := 0; i+4 <= len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	var ip netip.Addr
	if len(raw) == 4 {
		ip = netip.AddrFrom4([4]byte(raw))
	} else {
		ip = netip.AddrFrom16([16]byte(raw)).Unmap()
	}
	return netip.AddrPortFrom(ip, uint16(port)), true
}

// ownerOf finds the uid of the socket whose local end is client: the
// browser's side of a loopback connection to the proxy. server, when
// valid, picks among several rows with that local end. ok is false when
// no row, or more than one, matches.
func ownerOf(rows []socketRow, client, server netip.AddrPort) (uid int, ok bool) {
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	found := -1
	for _, r := range rows {
		if r.local != client {
			continue
		}
		if server.IsValid() && server.Port() != 0 && r.remote != server {
			continue
		}
		if found >= 0 && found != r.uid {
			return 0, false // ambiguous: do not guess a profile
		}
		found = r.uid
	}
	if found < 0 {
		return 0, false
	}
	return found, true
}

// addrPort reads a connection address.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if a == nil {
		return netip.AddrPort{}, false
	}
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort(), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

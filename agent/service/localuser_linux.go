package service

import (
	"net"
	"net/netip"
	"os"
)

// localUID returns the uid of the local process at the other end of a
// loopback connection from client to server: by sock_diag (one exact
// lookup), else from /proc/net/tcp{,6}. The
// kernel fills in the owner, so a process cannot claim another user's
// profile. Non-loopback clients (LAN mode) have no local owner.
func localUID(client, server net.Addr) (int, bool) {
	c, ok := addrPort(client)
	if !ok || !c.Addr().Unmap().IsLoopback() {
		return 0, false
	}
	s, _ := addrPort(server)
	if s.IsValid() && s.Port() != 0 {
		if uid, err := diagUID(c, s); err == nil {
			return uid, true
		}
	}
	var rows []socketRow
	for _, p := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		rows = append(rows, parseProcNetTCP(f)...)
		f.Close()
	}
	if uid, ok := ownerOf(rows, c, s); ok {
		return uid, true
	}
	// Transparent mode: the browser's socket points at the origin, not
	// at the proxy. Its local end alone still names it.
	return ownerOf(rows, c, netip.AddrPort{})
}

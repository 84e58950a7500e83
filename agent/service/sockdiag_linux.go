package service

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// diagUID asks the kernel (netlink sock_diag, as ss(8) does) for the uid
// owning the TCP socket whose local end is client and remote end server.
// One exact lookup costs a few microseconds whatever the number of
// sockets, where reading /proc/net/tcp costs a line per socket: under a
// flood of connections the per-client limit asks this at every accept.
// No privilege is needed.
func diagUID(client, server netip.AddrPort) (int, error) {
	fam, src, dst := byte(unix.AF_INET), client.Addr().Unmap(), server.Addr().Unmap()
	if !src.Is4() || !dst.Is4() {
		fam, src, dst = unix.AF_INET6, client.Addr(), server.Addr()
		if src.Is4() {
			src = netip.AddrFrom16(src.As16())
		}
		if dst.Is4() {
			dst = netip.AddrFrom16(dst.As16())
		}
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return 0, fmt.Errorf("opening sock_diag: %w", err)
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})

	// struct nlmsghdr, then struct inet_diag_req_v2 with its
	// inet_diag_sockid (ports and addresses in network order).
	const hdr, req = 16, 56
	b := make([]byte, hdr+req)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], hdr+req)
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1)
	r := b[hdr:]
	r[0], r[1] = fam, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // any state
	binary.BigEndian.PutUint16(r[8:], client.Port())
	binary.BigEndian.PutUint16(r[10:], server.Port())
	putAddr(r[12:28], src)
	putAddr(r[28:44], dst)
	ne.PutUint32(r[48:], 0xffffffff) // INET_DIAG_NOCOOKIE
	ne.PutUint32(r[52:], 0xffffffff)
	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("asking sock_diag: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("reading sock_diag: %w", err)
	}
	buf = buf[:n]
	// struct inet_diag_msg: family, state, timer, retrans, the sockid (48
	// bytes), expires, rqueue, wqueue, then uid.
	const uidAt = hdr + 4 + 48 + 12
	if len(buf) < hdr {
		return 0, errors.New("reading sock_diag: short answer")
	}
	if ne.Uint16(buf[4:]) == unix.NLMSG_ERROR {
		return 0, errors.New("reading sock_diag: no such socket")
	}
	if ne.Uint16(buf[4:]) != unix.SOCK_DIAG_BY_FAMILY || len(buf) < uidAt+4 {
		return 0, errors.New("reading sock_diag: unexpected answer")
	}
	return int(ne.Uint32(buf[uidAt:])), nil
}

func putAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
		return
	}
	v := a.As16()
	copy(b, v[:])
}

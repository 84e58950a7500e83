//go:build linux || darwin

package admin

import "net"

// peerOf asks the kernel who connected (credOf, per OS): the caller
// cannot forge it.
func peerOf(c net.Conn) Caller {
	out := Caller{UID: -1}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return out
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return out
	}
	_ = rc.Control(func(fd uintptr) {
		if cred, ok := credOf(int(fd)); ok {
			out = cred
		}
	})
	return out
}

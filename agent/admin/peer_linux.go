package admin

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerOf asks the kernel who connected (SO_PEERCRED): it cannot be forged
// by the caller.
func peerOf(c net.Conn) Caller {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Caller{UID: -1}
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return Caller{UID: -1}
	}
	out := Caller{UID: -1}
	_ = rc.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			out = Caller{UID: int(cred.Uid), PID: int(cred.Pid)}
		}
	})
	return out
}

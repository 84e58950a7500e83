package admin

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerOf asks the kernel who connected (LOCAL_PEERCRED).
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
		if cred, err := unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED); err == nil {
			out = Caller{UID: int(cred.Uid)}
		}
	})
	return out
}

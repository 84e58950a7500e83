package admin

import "golang.org/x/sys/unix"

// credOf reads SO_PEERCRED.
func credOf(fd int) (Caller, bool) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Caller{}, false
	}
	return Caller{UID: int(cred.Uid), PID: int(cred.Pid), Admin: cred.Uid == 0}, true
}

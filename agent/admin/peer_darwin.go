package admin

import "golang.org/x/sys/unix"

// credOf reads LOCAL_PEERCRED.
func credOf(fd int) (Caller, bool) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Caller{}, false
	}
	return Caller{UID: int(cred.Uid), Admin: cred.Uid == 0}, true
}

package admin

import (
	"net"

	"golang.org/x/sys/windows"
)

// peerOf asks Windows which process is on the other end of the pipe and
// reads its user SID and elevation from the process token. Any failure leaves the caller
// unidentified (one shared rate-limit key).
func peerOf(c net.Conn) Caller {
	out := Caller{UID: -1}
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return out
	}
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(windows.Handle(f.Fd()), &pid); err != nil {
		return out
	}
	out.PID = int(pid)
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return out
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return out
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return out
	}
	out.SID = u.User.Sid.String()
	// An elevated token is "run as administrator"; LocalSystem is the
	// installer and the service itself. A filtered (UAC) admin token of
	// the same user is not elevated and counts as a plain user.
	out.Admin = tok.IsElevated() || u.User.Sid.IsWellKnown(windows.WinLocalSystemSid)
	if acct, dom, _, err := u.User.Sid.LookupAccount(""); err == nil {
		out.Name = dom + `\` + acct
	}
	return out
}

package admin

import (
	"context"
	"fmt"
	"net"
	"os/user"
	"strconv"
)

// Caller is who is on the other end of a connection.
type Caller struct {
	UID  int    // -1 when the OS does not say (Windows)
	PID  int    // 0 when unknown
	SID  string // Windows: the caller's user SID, "" when unknown
	Name string // Windows: DOMAIN\user, "" when unknown
	// Admin: the kernel says the caller is an administrator: uid 0 on
	// Linux and macOS, an elevated token (or LocalSystem) on Windows.
	// Only an administrator may set the first parent password.
	Admin bool
}

// Key identifies the caller for rate limiting and sessions. Callers the OS
// does not identify share one key: slower for all, never a fresh start.
func (c Caller) Key() string {
	switch {
	case c.SID != "":
		return "sid:" + c.SID
	case c.UID < 0:
		return "unknown"
	}
	return "uid:" + strconv.Itoa(c.UID)
}

// String names the caller for the block log: "uid 1000 (alice)".
func (c Caller) String() string {
	if c.SID != "" {
		return c.SID + " (" + c.Name + ")"
	}
	if c.UID < 0 {
		return "unidentified local client"
	}
	s := fmt.Sprintf("uid %d", c.UID)
	if u, err := user.LookupId(strconv.Itoa(c.UID)); err == nil {
		s += " (" + u.Username + ")"
	}
	return s
}

type peerKey struct{}

// withPeer stores the connection's caller in the request context.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, peerOf(c))
}

func callerOf(ctx context.Context) Caller {
	if c, ok := ctx.Value(peerKey{}).(Caller); ok {
		return c
	}
	return Caller{UID: -1}
}

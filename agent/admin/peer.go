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
	UID int // -1 when the OS does not say (Windows pipe)
	PID int // 0 when unknown
}

// Key identifies the caller for rate limiting and sessions.
func (c Caller) Key() string {
	if c.UID < 0 {
		return "pipe"
	}
	return "uid:" + strconv.Itoa(c.UID)
}

// String names the caller for the block log: "uid 1000 (alice)".
func (c Caller) String() string {
	if c.UID < 0 {
		return "local pipe client"
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

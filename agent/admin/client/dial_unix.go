//go:build !windows

package client

import (
	"context"
	"errors"
	"net"
	"runtime"
	"syscall"
)

// DefaultSocket is where the agent listens: root-owned /run on Linux,
// /var/run on macOS and the BSDs.
var DefaultSocket = func() string {
	if runtime.GOOS == "linux" {
		return "/run/greengate/admin.sock"
	}
	return "/var/run/greengate/admin.sock"
}()

func dial(ctx context.Context, sock string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", sock)
}

// isNotRunning: no socket file, or a socket nobody accepts on.
func isNotRunning(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

//go:build windows

package client

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/Microsoft/go-winio"
)

// DefaultSocket is the agent's named pipe.
const DefaultSocket = `\\.\pipe\greengate-admin`

func dial(ctx context.Context, pipe string) (net.Conn, error) {
	return winio.DialPipeContext(ctx, pipe)
}

// isNotRunning: the pipe does not exist.
func isNotRunning(err error) bool {
	return errors.Is(err, os.ErrNotExist)
}

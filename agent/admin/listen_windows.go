//go:build windows

package admin

import (
	"fmt"
	"net"

	"github.com/Microsoft/go-winio"
)

// pipeSDDL: SYSTEM and Administrators full control, authenticated users
// read and write (the tray runs as the child; the password guards changes).
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)"

// Listen creates the named pipe.
func Listen(name string) (net.Listener, error) {
	ln, err := winio.ListenPipe(name, &winio.PipeConfig{SecurityDescriptor: pipeSDDL})
	if err != nil {
		return nil, fmt.Errorf("listening on pipe %s: %w", name, err)
	}
	return ln, nil
}

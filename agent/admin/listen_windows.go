//go:build windows

package admin

import (
	"fmt"
	"net"
	"time"

	"github.com/Microsoft/go-winio"
)

// pipeSDDL: SYSTEM and Administrators full control, authenticated users
// read and write (the tray runs as the child; the password guards changes).
const pipeSDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)"

// Listen creates the named pipe.
//
// It then connects to it once and hangs up. Where ConnectNamedPipe on the
// first pipe instance reports ERROR_IO_PENDING although a client is
// already connected (Windows 7 and Server 2008 R2, microsoft/go-winio#313;
// Wine 8, measured by scripts/windows-test.sh), the first client's
// requests hang until it gives up: under Wine the uninstaller's password
// check timed out. The throw-away connection takes that first instance;
// the server sees one connection that ends at once. Fail-open: if the
// dial fails the pipe is still served.
func Listen(name string) (net.Listener, error) {
	ln, err := winio.ListenPipe(name, &winio.PipeConfig{SecurityDescriptor: pipeSDDL})
	if err != nil {
		return nil, fmt.Errorf("listening on pipe %s: %w", name, err)
	}
	timeout := time.Second
	if c, err := winio.DialPipe(name, &timeout); err == nil {
		c.Close()
	}
	return ln, nil
}

//go:build !windows

package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
)

// Listen makes the socket's directory (0755), removes a stale socket left
// by a crash, and listens with the socket mode 0666 (see the package doc
// for why anyone may connect). It refuses to remove anything that is not a
// socket.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("making socket directory %s: %w", dir, err)
	}
	// MkdirAll keeps an existing directory's mode; a directory others may
	// write would let them replace the socket with their own.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("securing socket directory %s: %w", dir, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("listening on %s: exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listening on %s: another agent is answering there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("checking socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("opening socket %s to the tray: %w", path, err)
	}
	return ln, nil
}

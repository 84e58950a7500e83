//go:build unix

package privfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// open opens path without following a final symlink and without blocking
// on a FIFO (O_NONBLOCK; Read then refuses it as not regular).
func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		// O_NOFOLLOW on a symlink: ELOOP (Linux, macOS), EMLINK (FreeBSD,
		// NetBSD).
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
			return nil, fmt.Errorf("reading %s: a symlink: %w", path, ErrNotRegular)
		}
		return nil, err
	}
	return f, nil
}

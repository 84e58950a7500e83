//go:build !unix

package privfile

import (
	"fmt"
	"os"
)

// open refuses a symlink (or reparse point) by Lstat, then checks that the
// file opened is the one Lstat saw, so a swap in between is refused too.
func open(path string) (*os.File, error) {
	li, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !li.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s: %s: %w", path, li.Mode().Type(), ErrNotRegular)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !os.SameFile(li, fi) {
		f.Close()
		return nil, fmt.Errorf("reading %s: replaced while opening: %w", path, ErrNotRegular)
	}
	return f, nil
}

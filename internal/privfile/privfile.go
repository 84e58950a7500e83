// Package privfile reads the files the agent keeps in its own directories
// (settings, password hash, grants, rule bundles, version floors): no
// symlinks, regular files only, and never more than a stated cap.
//
// Why: those directories are root's, but what the agent reads from them
// can reach an unauthenticated answer (a refused settings file's decode
// error is in the admin status). A symlink planted there, by a mistaken
// script or a package, to /etc/shadow would have its first bytes echoed
// to any local user; a huge or endless file (a FIFO, /dev/zero) would be
// read whole into memory before any size check. Open refuses a symlink
// in the last path element (O_NOFOLLOW on Unix; Lstat and a same-file
// check after opening on Windows), anything but a regular file, and reads
// at most max+1 bytes to tell "too large" from "exactly max".
//
// It does not make the directories safe: that is their 0700 mode.
package privfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Sentinels; errors.Is them. A missing file is fs.ErrNotExist as usual.
var (
	// ErrNotRegular: a symlink, directory, device, FIFO or socket where a
	// file was expected.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file holds more than the cap.
	ErrTooLarge = errors.New("file too large")
)

// Read returns the contents of path, a regular file of at most max bytes.
func Read(path string, max int64) ([]byte, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("reading %s: %s: %w", path, st.Mode().Type(), ErrNotRegular)
	}
	// Sized from Stat, so a 5 MB bundle is one allocation; the limit
	// still holds if the file grows meanwhile.
	var buf bytes.Buffer
	if st.Size() <= max {
		buf.Grow(int(st.Size()) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("reading %s: over %d bytes: %w", path, max, ErrTooLarge)
	}
	return buf.Bytes(), nil
}

package blocklog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// makePrivate creates the database file 0600 before SQLite does, and makes
// an existing one and its -wal, -shm and -journal 0600. The log says where
// the family browsed; no other local user may read it. SQLite creates a
// new database 0644 (less the umask) and its -wal and -shm with the
// database's mode, so the database file's own mode is the one that counts.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating block log %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("making block log %s private: %w", p, err)
		}
	}
	return nil
}

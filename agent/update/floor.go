package update

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/greengate/greengate/internal/privfile"
)

// The version floor is the highest bundle version ever installed for a
// publisher, kept in <publisher>.floor beside the bundles (TUF's rollback
// rule). A download or side-load must be newer than it; nothing lowers it:
// not a restart, not an expired or corrupt bundle that makes Load fall
// back to .prev, not a failed install. Before it was on disk, a restart
// after the current bundle was refused (expired, say) left the floor at
// .prev's version, and the server could then install anything newer than
// that: older rules than the agent had already enforced.

const (
	floorSuffix = ".floor"
	maxFloor    = 64 // bytes: one decimal uint64 and a newline, with room
)

func (u *Updater) floorPath(publisher string) string {
	return filepath.Join(u.cfg.Dir, publisher+floorSuffix)
}

// readFloor returns the persisted floor, 0 when there is none yet (a fresh
// install, or bundles written before the floor existed: Load raises it to
// what verifies on disk). A floor file that cannot be read or parsed is an
// error: the caller keeps the highest version it can see rather than
// start from 0 (fail-closed towards rollback).
func (u *Updater) readFloor(publisher string) (uint64, error) {
	b, err := readCapped(u.floorPath(publisher), maxFloor)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading version floor: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading version floor %s: %w", u.floorPath(publisher), err)
	}
	return v, nil
}

// writeFloor persists v as publisher's floor atomically and durably
// (privfile.Write), so a power cut leaves the old floor or the new one,
// never none.
func (u *Updater) writeFloor(publisher string, v uint64) error {
	if err := privfile.Write(u.floorPath(publisher), []byte(strconv.FormatUint(v, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing version floor: %w", err)
	}
	return nil
}

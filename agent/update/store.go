package update

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/greengate/greengate/internal/privfile"
	"github.com/greengate/greengate/rules/bundle"
)

// tmpPatterns name temporary files in Dir; Load removes leftovers. The
// leading dot keeps them out of a plain "ls" and never ends in ".bundle".
var tmpPatterns = [...]string{".*.bundle.tmp-*", ".*" + floorSuffix + ".tmp-*"}

// Load reads and verifies the bundles on disk, as at agent start, and
// returns the ones in force in source order (possibly none: then the agent
// uses its embedded defaults). For each source it tries
// <publisher>.bundle, then <publisher>.bundle.prev; a file that fails
// verification is logged and its error kept as the source's LastError.
// A bundle that verifies but has expired since it was installed is used
// all the same, and logged and reported as expired (fail-safe: the newest
// rules the agent had keep filtering; falling back to .prev would enforce
// older ones). The version floor (<publisher>.floor) is read and raised to
// the newest version that verifies on disk; it is never lowered. Leftover
// temporary files, from a crash between write and rename, are removed.
// Load does not call OnChange.
func (u *Updater) Load() []*bundle.Bundle {
	dir := u.cfg.Dir
	if err := privateDir(dir); err != nil {
		u.log.Error("creating bundle directory", "dir", dir, "err", err)
	}
	for _, pat := range tmpPatterns {
		leftovers, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range leftovers {
			// Never renamed into place, so never verified: worthless.
			if err := os.Remove(f); err != nil {
				u.log.Warn("removing leftover temporary file", "file", f, "err", err)
			}
		}
	}
	now := u.cfg.Clock()
	loaded := make([]*bundle.Bundle, len(u.srcs))
	for i, s := range u.srcs {
		s.run.Lock()
		floor, floorErr := u.readFloor(s.src.Publisher)
		if floorErr != nil {
			u.log.Error("version floor unreadable; keeping the newest version on disk as the floor", "publisher", s.src.Publisher, "err", floorErr)
		}
		var loadErr error
		for _, name := range []string{s.src.Publisher + ".bundle", s.src.Publisher + ".bundle.prev"} {
			data, err := readCapped(filepath.Join(dir, name), u.cfg.MaxSize)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			var b *bundle.Bundle
			if err == nil {
				b, err = verifyInstalled(data, s.src.Roots, s.src.Publisher, now)
			}
			if err != nil {
				err = fmt.Errorf("loading %s: %w", filepath.Join(dir, name), err)
				u.log.Warn("bundle on disk refused; trying the previous one", "publisher", s.src.Publisher, "err", err)
				loadErr = cmpLoad(loadErr, err)
				continue
			}
			u.mu.Lock()
			s.setInstalled(b, data, sha256.Sum256(data), name)
			s.version = max(s.version, floor)
			loaded[i] = b
			u.mu.Unlock()
			u.log.Info("bundle loaded", "publisher", s.src.Publisher, "file", name, "version", b.Version, "floor", max(b.Version, floor))
			break
		}
		u.mu.Lock()
		if s.version < floor {
			s.version = floor // nothing loaded, or only an older .prev
		}
		v := s.version
		s.st.LastError = cmpLoad(loadErr, floorErr)
		u.mu.Unlock()
		if v > floor {
			// Bundles from before the floor file, or a crash between the
			// floor and the bundle's rename: the disk knows better.
			if err := u.writeFloor(s.src.Publisher, v); err != nil {
				u.log.Error("persisting version floor", "publisher", s.src.Publisher, "err", err)
			}
		}
		s.run.Unlock()
	}
	u.noteExpired()
	// The bundles just verified are returned as they are: decoding them
	// again from the kept bytes would double the start-up cost.
	_, hashes := u.valid()
	u.changeMu.Lock()
	u.notified = hashes
	u.changeMu.Unlock()
	var out []*bundle.Bundle
	for _, b := range loaded {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// cmpLoad keeps the first error: the current file's failure is the news.
func cmpLoad(prev, err error) error {
	if prev != nil {
		return prev
	}
	return err
}

// readCapped reads a file of the bundle directory: a regular file, not a
// symlink, at most max bytes (internal/privfile). Too large is
// bundle.ErrTooLarge, as for a download.
func readCapped(path string, max int64) ([]byte, error) {
	data, err := privfile.Read(path, max)
	if errors.Is(err, privfile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", bundle.ErrTooLarge, err)
	}
	return data, err
}

// store writes data, of the given version, as s's installed bundle: temp
// file, fsync, current to .prev, temp to current, the version floor
// (writeFloor), fsync the directory. A crash at any point
// leaves a state Load recovers from: a leftover temp file (removed), or
// no current file with the good one as .prev (loaded).
func (u *Updater) store(s *sourceState, data []byte, version uint64) error {
	dir := u.cfg.Dir
	cur := filepath.Join(dir, s.src.Publisher+".bundle")
	prev := cur + ".prev"
	if err := privateDir(dir); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+s.src.Publisher+".bundle.tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmpName, err)
	}

	u.mu.Lock()
	fromCurrent := s.b != nil && s.file == filepath.Base(cur)
	u.mu.Unlock()
	// Only a current file that verified becomes .prev: if Load fell back
	// to .prev because current was corrupt, .prev is the good one to keep.
	if fromCurrent {
		if err := os.Rename(cur, prev); err != nil {
			return fmt.Errorf("keeping %s as .prev: %w", cur, err)
		}
		u.mu.Lock()
		s.file = filepath.Base(prev)
		u.mu.Unlock()
	}
	if err := os.Rename(tmpName, cur); err != nil {
		return fmt.Errorf("renaming into %s: %w", cur, err)
	}
	// The floor goes up once the bundle is in place. Raised first, a
	// crash before the rename would leave a floor the server's bundle of
	// that version can never meet again. A crash between the two, or a
	// floor that cannot be written, leaves the floor behind the bundle on
	// disk, and Load raises it from there; the floor in memory is
	// already the new version.
	if err := u.writeFloor(s.src.Publisher, version); err != nil {
		u.log.Error("persisting version floor; Load will raise it from the bundle on disk", "publisher", s.src.Publisher, "version", version, "err", err)
	}
	if err := syncDir(dir); err != nil {
		// The rename happened; only its durability across a power cut is
		// in doubt, and Load copes with either outcome.
		u.log.Warn("syncing bundle directory", "dir", dir, "err", err)
	}
	return nil
}

// privateDir makes dir 0700, also when it exists (MkdirAll keeps an
// existing mode): which rules are installed is nobody else's business, and
// files in it are 0600 (os.CreateTemp).
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there; NTFS renames are journaled
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

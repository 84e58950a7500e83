package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/greengate/greengate/internal/privfile"
)

// File names inside Config.Dir and Config.StateDir.
const (
	SettingsFile  = "settings.json"
	PasswordFile  = "password"
	OverridesFile = "overrides.json"
)

// Config configures Open. Zero values take the stated defaults.
type Config struct {
	// Dir holds settings.json and the password hash. "" means DefaultDir.
	Dir string
	// StateDir holds overrides.json. "" means DefaultStateDir.
	StateDir string
	// Hash are the argon2id parameters for new passwords. Zero means
	// DefaultHashParams.
	Hash HashParams
	// Logger receives notes about files. Nil discards.
	Logger *slog.Logger
	// Clock is the time source for grants. Nil means time.Now.
	Clock func() time.Time
}

// Store reads and writes the settings files.
type Store struct {
	cfg Config
	mu  sync.Mutex // serialises password changes
}

// Open makes the directories 0700, and makes an existing one 0700 (older
// packages shipped them 0755), then returns a Store. Every file in them
// is written 0600: the settings say which sites a child may not reach and
// the overrides when filtering is paused, which no other local user needs
// to know; the admin API is how the tray reads status.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		cfg.Dir = DefaultDir
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	for _, d := range []string{cfg.Dir, cfg.StateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("making settings directory: %w", err)
		}
		// MkdirAll keeps an existing directory's mode.
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("making settings directory %s private: %w", d, err)
		}
	}
	return &Store{cfg: cfg}, nil
}

// Dir is the settings directory (what a Watcher watches).
func (s *Store) Dir() string { return s.cfg.Dir }

// Path is settings.json's path.
func (s *Store) Path() string { return filepath.Join(s.cfg.Dir, SettingsFile) }

// Load reads settings.json. A missing file gives Default() and an error
// matching fs.ErrNotExist, so a fresh install filters with the defaults
// (fail-safe) and the caller can say so.
func (s *Store) Load() (Settings, error) {
	b, err := readFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), fmt.Errorf("reading settings: %w", err)
	}
	if err != nil {
		return Settings{}, fmt.Errorf("reading settings: %w", err)
	}
	st, err := DecodeBytes(b)
	if err != nil {
		return Settings{}, fmt.Errorf("%s: %w", s.Path(), err)
	}
	return st, nil
}

// Save validates st (known: category ids, nil for form only) and writes it
// atomically. Invalid settings are refused whole and nothing is written.
func (s *Store) Save(st Settings, known []string) error {
	ApplyDefaults(&st)
	if err := Validate(st, known); err != nil {
		return err
	}
	b, err := Encode(st)
	if err != nil {
		return err
	}
	return WriteFileAtomic(s.Path(), b, 0o600)
}

// PasswordSet reports whether a parent password has been set.
func (s *Store) PasswordSet() bool {
	_, err := s.readHash()
	return err == nil
}

func (s *Store) readHash() (string, error) {
	b, err := privfile.Read(filepath.Join(s.cfg.Dir, PasswordFile), maxHashFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoPassword
	}
	if err != nil {
		return "", fmt.Errorf("reading password hash: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// CheckPassword returns nil for the parent password, ErrWrongPassword for
// another, ErrNoPassword before one is set. A corrupt hash file refuses
// every password (fail-closed) with an error matching ErrBadHash.
func (s *Store) CheckPassword(pw string) error {
	h, err := s.readHash()
	if err != nil {
		return err
	}
	return VerifyPassword(pw, h)
}

// SetPassword changes the password; old must match, or be "" when none is
// set yet.
func (s *Store) SetPassword(old, new string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch err := s.CheckPassword(old); {
	case errors.Is(err, ErrNoPassword):
		if old != "" {
			return ErrWrongPassword
		}
	case err != nil:
		return err
	}
	h, err := HashPassword(new, s.cfg.Hash)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.cfg.Dir, PasswordFile), []byte(h+"\n"), 0o600)
}

// Overrides opens the grants and pauses stored in StateDir.
func (s *Store) Overrides() (*Overrides, error) {
	return OpenOverrides(filepath.Join(s.cfg.StateDir, OverridesFile), s.cfg.Clock)
}

// WriteFileAtomic replaces path with b atomically and durably
// (privfile.Write): readers and a power cut see the old content or the
// new, never a mix.
func WriteFileAtomic(path string, b []byte, perm fs.FileMode) error {
	return privfile.Write(path, b, perm)
}

// maxHashFile caps the password hash file: an argon2id PHC string is
// about 100 bytes.
const maxHashFile = 4 << 10

// readFile reads a settings or overrides file: a regular file, not a
// symlink, at most MaxFileSize bytes, read no further than that (see
// internal/privfile for why). Too large is ErrDecode, as a decode error
// of the file would be.
func readFile(path string) ([]byte, error) {
	b, err := privfile.Read(path, MaxFileSize)
	if errors.Is(err, privfile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return b, err
}

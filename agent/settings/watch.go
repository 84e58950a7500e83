package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchConfig configures Watch. Zero values take the stated defaults.
type WatchConfig struct {
	// Dir is the directory holding the file. Required.
	Dir string
	// Name is the file's name in Dir. "" means SettingsFile.
	Name string
	// Current are the settings in force; an edit that decodes to the same
	// document is a no-op.
	Current Settings
	// Known returns the category ids rules provide, for validation. Nil
	// checks ids for form only.
	Known func() []string
	// OnChange receives each valid new document. Required. It is called
	// from the watcher's goroutine, one call at a time.
	OnChange func(Settings)
	// OnError receives why an edit was refused (the running settings stay),
	// and nil once the file is valid again. May be nil.
	OnError func(error)
	// Debounce waits for a burst of events (editors write, rename, chmod)
	// to end. Zero means 100 ms.
	Debounce time.Duration
	// Logger notes refused edits. Nil discards.
	Logger *slog.Logger
}

// Watcher reloads the settings file when it changes.
type Watcher struct {
	cfg  WatchConfig
	fw   *fsnotify.Watcher
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	last []byte // canonical encoding of the settings in force
	err  error
}

// Watch starts watching cfg.Dir. It watches the directory, not the file:
// editors and WriteFileAtomic replace the file by rename, which would end a
// watch on the old file.
func Watch(cfg WatchConfig) (*Watcher, error) {
	if cfg.Dir == "" || cfg.OnChange == nil {
		return nil, errors.New("watching settings: Dir and OnChange are required")
	}
	if cfg.Name == "" {
		cfg.Name = SettingsFile
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	last, err := Encode(cfg.Current)
	if err != nil {
		return nil, err
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching settings: %w", err)
	}
	if err := fw.Add(cfg.Dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watching settings in %s: %w", cfg.Dir, err)
	}
	w := &Watcher{cfg: cfg, fw: fw, done: make(chan struct{}), last: last}
	go w.loop()
	return w, nil
}

// Err is why the file on disk is not in force, or nil.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close stops watching and waits for the watcher's goroutine.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		err = w.fw.Close()
		<-w.done
	})
	return err
}

func (w *Watcher) loop() {
	defer close(w.done)
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if filepath.Base(ev.Name) != w.cfg.Name {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(w.cfg.Debounce)
			} else {
				timer.Reset(w.cfg.Debounce)
			}
			fire = timer.C
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.cfg.Logger.Warn("settings watcher", "err", err)
		case <-fire:
			fire = nil
			w.check()
		}
	}
}

// check reads the file and applies it when it is valid and new.
func (w *Watcher) check() {
	path := filepath.Join(w.cfg.Dir, w.cfg.Name)
	var known []string
	if w.cfg.Known != nil {
		known = w.cfg.Known()
	}
	s, canon, err := readValid(path, known)
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("settings file %s removed; keeping the running settings: %w", path, err)
	}
	w.mu.Lock()
	changed := err == nil && !bytes.Equal(canon, w.last)
	if err == nil {
		w.last = canon
	}
	prevErr := w.err
	w.err = err
	w.mu.Unlock()
	if err != nil {
		w.cfg.Logger.Warn("settings edit refused; keeping the running settings", "path", path, "err", err)
	}
	if w.cfg.OnError != nil && (err != nil || prevErr != nil) {
		w.cfg.OnError(err)
	}
	if changed {
		w.cfg.OnChange(s)
	}
}

func readValid(path string, known []string) (Settings, []byte, error) {
	b, err := readFile(path)
	if err != nil {
		return Settings{}, nil, fmt.Errorf("reading settings: %w", err)
	}
	s, err := DecodeBytes(b)
	if err != nil {
		return Settings{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := Validate(s, known); err != nil {
		return Settings{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	canon, err := Encode(s)
	return s, canon, err
}

package settings_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/settings"
)

// watchRig runs a real fsnotify Watcher on a temp directory.
type watchRig struct {
	dir     string
	changes chan settings.Settings
	errs    chan error
	w       *settings.Watcher
}

func newWatchRig(t *testing.T) *watchRig {
	t.Helper()
	r := &watchRig{dir: t.TempDir(), changes: make(chan settings.Settings, 10), errs: make(chan error, 10)}
	cur := settings.Default()
	b, _ := settings.Encode(cur)
	if err := os.WriteFile(filepath.Join(r.dir, settings.SettingsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := settings.Watch(settings.WatchConfig{
		Dir:      r.dir,
		Current:  cur,
		Known:    func() []string { return []string{"adult", "gambling", "proxy", "doh"} },
		OnChange: func(s settings.Settings) { r.changes <- s },
		OnError:  func(err error) { r.errs <- err },
		Debounce: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	t.Cleanup(func() { w.Close() })
	return r
}

// replace writes doc the way editors and WriteFileAtomic do: a new file
// renamed over the old.
func (r *watchRig) replace(t *testing.T, doc string) {
	t.Helper()
	tmp := filepath.Join(r.dir, ".settings.json.swp")
	if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, settings.SettingsFile)); err != nil {
		t.Fatal(err)
	}
}

func (r *watchRig) inPlace(t *testing.T, doc string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, settings.SettingsFile), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (r *watchRig) change(t *testing.T) settings.Settings {
	t.Helper()
	select {
	case s := <-r.changes:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no reload within 5s")
	}
	return settings.Settings{}
}

func (r *watchRig) err(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no error report within 5s")
	}
	return nil
}

func (r *watchRig) quiet(t *testing.T) {
	t.Helper()
	select {
	case s := <-r.changes:
		t.Fatalf("unexpected reload: %+v", s)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestWatcherReloadsValidEdits(t *testing.T) {
	t.Parallel()
	r := newWatchRig(t)
	r.replace(t, `{"profiles":[{"name":"teen","block":["adult"],"safe_search":true}]}`)
	if s := r.change(t); s.Profiles[0].Name != "teen" {
		t.Fatalf("reloaded %+v", s)
	}
	r.inPlace(t, `{"profiles":[{"name":"lab","block":["gambling"]}]}`)
	if s := r.change(t); s.Profiles[0].Name != "lab" {
		t.Fatalf("reloaded %+v", s)
	}
	// The same document, spelled differently, is a no-op.
	r.replace(t, `{ "profiles" : [ {"block":["gambling"], "name":"lab"} ], "version": 1 }`)
	r.quiet(t)
	if r.w.Err() != nil {
		t.Fatalf("Err = %v", r.w.Err())
	}
}

func TestWatcherKeepsSettingsOnBadEdit(t *testing.T) {
	t.Parallel()
	r := newWatchRig(t)
	r.replace(t, `{"profiles":[{"name":"child","block":["adult","violence"]}]}`)
	err := r.err(t)
	if !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), "profiles[0].block[1]") {
		t.Fatalf("reported %v", err)
	}
	r.quiet(t)
	if r.w.Err() == nil {
		t.Fatal("Err() nil while a bad file is on disk")
	}
	r.inPlace(t, `{"profiles":[{"name":"child","block":["adult"]}], "typo": 1}`)
	if err := r.err(t); !errors.Is(err, settings.ErrDecode) {
		t.Fatalf("reported %v", err)
	}
	r.quiet(t)
	os.Remove(filepath.Join(r.dir, settings.SettingsFile))
	if err := r.err(t); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removal reported %v", err)
	}
	r.quiet(t)
	// Fixing the file applies it and clears the error.
	r.replace(t, `{"profiles":[{"name":"fixed","block":["adult"]}]}`)
	if err := r.err(t); err != nil {
		t.Fatalf("fixed file reported %v", err)
	}
	if s := r.change(t); s.Profiles[0].Name != "fixed" {
		t.Fatalf("reloaded %+v", s)
	}
	if r.w.Err() != nil {
		t.Fatalf("Err = %v after fix", r.w.Err())
	}
}

func TestWatcherIgnoresOtherFiles(t *testing.T) {
	t.Parallel()
	r := newWatchRig(t)
	os.WriteFile(filepath.Join(r.dir, "password"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(r.dir, "notes.txt"), []byte("{"), 0o600)
	r.quiet(t)
}

//go:build !windows

package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPrivateUmask: after privateUmask, what the process creates with the
// usual wide modes (SQLite's 0644, os.WriteFile's 0666, MkdirAll's 0755)
// is private to its owner. It runs in a child: the umask is process-wide.
func TestPrivateUmask(t *testing.T) {
	if dir := os.Getenv("GG_UMASK_DIR"); dir != "" {
		privateUmask()
		if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPrivateUmask$")
	cmd.Env = append(os.Environ(), "GG_UMASK_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for name, want := range map[string]fs.FileMode{"file": 0o600, "dir": 0o700} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s created %v under privateUmask, want %v", name, fi.Mode().Perm(), want)
		}
	}
}

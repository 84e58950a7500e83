package privfile_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/greengate/greengate/internal/privfile"
)

func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const max = 16
	secret := write("secret", []byte("root:$6$hash"))
	exact := write("exact", bytes.Repeat([]byte("x"), max))
	over := write("over", bytes.Repeat([]byte("x"), max+1))
	link := filepath.Join(dir, "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	tests := []struct {
		name string
		path string
		want error
		n    int
	}{
		{"regular", secret, nil, 12},
		{"exactly the cap", exact, nil, max},
		{"one byte over", over, privfile.ErrTooLarge, 0},
		{"symlink to a readable file", link, privfile.ErrNotRegular, 0},
		{"directory", sub, privfile.ErrNotRegular, 0},
		{"missing", filepath.Join(dir, "none"), fs.ErrNotExist, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := privfile.Read(tt.path, max)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Read = %q, %v; want %v", b, err, tt.want)
			}
			if len(b) != tt.n {
				t.Fatalf("read %d bytes, want %d", len(b), tt.n)
			}
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("root:")) {
				t.Fatalf("error shows the content: %v", err)
			}
		})
	}
}

// Write replaces the file whole with the mode asked, leaves no temp
// file behind, and replaces a planted link instead of writing through it.
func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "floor")
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"7\n", "12\n"} {
		if err := privfile.Write(p, []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := privfile.Read(p, 64)
		if err != nil || string(got) != want {
			t.Fatalf("read back %q, %v; want %q", got, err, want)
		}
	}
	if fi, _ := os.Lstat(p); fi.Mode() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode())
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("wrote through a planted link: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("left behind: %v", ents)
	}
}

package update_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
)

// FuzzInstall feeds arbitrary bytes to an Updater as if downloaded. The
// property: a refused input changes nothing, in memory or on disk; an
// accepted one is verified, newer than what was installed, and is exactly
// what is now on disk.
func FuzzInstall(f *testing.F) {
	entries, _ := filepath.Glob(filepath.Join(vectorDir, "*.bundle"))
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("GGBUNDLE"))
	dir := f.TempDir()
	u := newUpdater(f, dir, nil, update.Source{Publisher: "greengate-test", Roots: roots(f, "root.pub", "root2.pub")})
	u.Load()
	f.Fuzz(func(t *testing.T, data []byte) {
		before := u.Status()[0]
		disk := onDisk(dir, "greengate-test.bundle")
		b, err := u.Install(data)
		after := u.Status()[0]
		if err != nil {
			if b != nil {
				t.Fatal("bundle returned with an error")
			}
			if after.Version != before.Version || !bytes.Equal(onDisk(dir, "greengate-test.bundle"), disk) {
				t.Fatalf("refused input (%v) changed the installed bundle", err)
			}
			return
		}
		if _, verr := bundle.Open(bytes.NewReader(data), roots(t, "root.pub", "root2.pub"), vectorNow); verr != nil {
			t.Fatalf("installed a bundle Open refuses: %v", verr)
		}
		if b.Version <= before.Version || after.Version != b.Version || !bytes.Equal(onDisk(dir, "greengate-test.bundle"), data) {
			t.Fatalf("accepted version %d over %d; disk matches %v", b.Version, before.Version, bytes.Equal(onDisk(dir, "greengate-test.bundle"), data))
		}
	})
}

//go:build unix

package privfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/privfile"
)

// TestReadFIFO: a FIFO is refused at once, neither waiting for a writer
// nor reading an endless stream.
func TestReadFIFO(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := privfile.Read(p, 1<<20)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, privfile.ErrNotRegular) {
			t.Fatalf("FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the reader before failing.
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("Read blocked on a FIFO")
	}
}

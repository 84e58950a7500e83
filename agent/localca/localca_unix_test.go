//go:build unix

package localca_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/greengate/greengate/agent/localca"
)

// The CA key is the service's alone: a process of another user (a
// child's account, here uid 65534) cannot read it.
func TestKeyUnreadableByOthers(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; this test must run there")
		}
		t.Skip("needs root to act as another user")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755) // the test's own dir must not be what stops the read
	dir := filepath.Join(base, "ca")
	open(t, dir)
	for _, f := range []string{dir, filepath.Join(dir, localca.KeyFile)} {
		cmd := exec.Command("/bin/cat", f)
		if f == dir {
			cmd = exec.Command("/bin/ls", f)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("uid 65534 read %s: %q", f, out)
		}
	}
	// The same command as root reads it: the refusal above is the mode's.
	if _, err := exec.Command("/bin/cat", filepath.Join(dir, localca.KeyFile)).Output(); err != nil {
		t.Fatalf("control read as root failed: %v", err)
	}
}

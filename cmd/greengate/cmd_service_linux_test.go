package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/service"
	"github.com/greengate/greengate/agent/settings"
)

// TestChildProcessHelper is not a test: re-executed as another user by
// TestChildCannotStopTheService, it runs one greengate command and exits
// with its code.
func TestChildProcessHelper(t *testing.T) {
	args := os.Getenv("GG_CMD_CHILD_ARGS")
	if args == "" {
		t.Skip("helper for TestChildCannotStopTheService")
	}
	code := run(context.Background(), &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, strings.Split(args, "\x1f"))
	os.Exit(code)
}

// TestChildCannotStopTheService: a child's account (uid 65534) tries the
// commands that would turn the filter off or reveal its settings.
func TestChildCannotStopTheService(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux to run a command as uid 65534")
	}
	dir, err := os.MkdirTemp("", "gg-cmd-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	etc := filepath.Join(dir, "etc")
	st, err := settings.Open(settings.Config{Dir: etc, StateDir: filepath.Join(dir, "state"), Hash: settings.HashParams{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPassword("", "parent-secret"); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(settings.Default(), nil); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	bin := filepath.Join(dir, "greengate.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string
		stdout string
	}{
		{"stop the service", []string{"service", "stop", "--dir", etc, "--password-stdin"}, "parent-secret\n", 1, "refused: only an administrator (root)", ""},
		{"uninstall the service", []string{"service", "uninstall", "--dir", etc, "--password-stdin"}, "guess\n", 1, "refused: only an administrator (root)", ""},
		{"install a fake one", []string{"service", "install", "--exe", "/bin/true"}, "", 1, "refused: only an administrator (root)", ""},
		{"reset the password", []string{"settings", "password", "--socket", sock, "--dir", etc, "--password-stdin"}, "x\nchild-pass1\nchild-pass1\n", 1, "refused: only an administrator (root)", ""},
		{"read the settings file", []string{"settings", "validate", filepath.Join(etc, settings.SettingsFile)}, "", 2, "permission denied", ""},
		{"look at the status", []string{"service", "status", "--socket", sock}, "", 1, "", "agent: not answering"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestChildProcessHelper$")
			cmd.Env = []string{"GG_CMD_CHILD_ARGS=" + strings.Join(tt.args, "\x1f"), "HOME=/nonexistent", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			cmd.Stdin = strings.NewReader(tt.stdin)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(errb.String(), tt.stderr) || !strings.Contains(out.String(), tt.stdout) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			t.Logf("the child sees: %s%s", errb.String(), out.String())
		})
	}
	// Nothing the child did changed the password.
	if err := st.CheckPassword("parent-secret"); err != nil {
		t.Fatalf("parent password after the child: %v", err)
	}
}

// TestChildCannotSetTheFirstPasswordFromTheCLI: with the agent running and
// no parent password yet, `greengate settings password` from a child's
// account (uid 65534) is refused by the agent with words that say who can
// set it; root then can, with the same command.
func TestChildCannotSetTheFirstPasswordFromTheCLI(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test must run there")
		}
		t.Skip("needs root on Linux to run a command as uid 65534")
	}
	dir, err := os.MkdirTemp("", "gg-cmd-first-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	etc, sock := filepath.Join(dir, "etc"), filepath.Join(dir, "run", "admin.sock")
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- service.RunAgent(ctx, service.AgentConfig{
			Settings: settings.Config{Dir: etc, StateDir: filepath.Join(dir, "state"), Hash: settings.HashParams{Time: 1, Memory: 64, Threads: 1}},
			DataDir:  filepath.Join(dir, "data"),
			Socket:   sock,
			Listen:   "127.0.0.1:0",
			Ready:    func(a net.Addr) { ready <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent ended: %v", err)
	case <-time.After(time.Minute): // the default lists take seconds to build under -race
		t.Fatal("agent not ready in a minute")
	}
	exe, _ := os.Executable()
	bin := filepath.Join(dir, "greengate.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"settings", "password", "--socket", sock, "--dir", etc, "--password-stdin"}
	cmd := exec.Command(bin, "-test.run=^TestChildProcessHelper$")
	cmd.Env = []string{"GG_CMD_CHILD_ARGS=" + strings.Join(args, "\x1f"), "HOME=/nonexistent", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Stdin = strings.NewReader("child-pass1\nchild-pass1\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(errb.String(), "the first parent password can only be set by an administrator: run `sudo greengate settings password`") {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
	}
	t.Logf("the child sees: %s", errb.String())
	st, err := settings.Open(settings.Config{Dir: etc, StateDir: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	if st.PasswordSet() {
		t.Fatal("the child set the parent password")
	}
	if code, stdout, stderr := runCmd(t, "parent-pass1\nparent-pass1\n", args...); code != 0 {
		t.Fatalf("root: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := st.CheckPassword("parent-pass1"); err != nil {
		t.Fatalf("after root set it: %v", err)
	}
}

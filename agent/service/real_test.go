//go:build linux

package service_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/greengate/greengate/agent/service"
)

// TestRealInstall drives the machine's own service system (System V on
// the CI machine) through install, start, status, stop, uninstall, with
// /bin/sleep standing in for the agent. It writes /etc/init.d and
// /etc/rc?.d, so it runs only with GREENGATE_REAL_SERVICE=1, as root;
// t.Cleanup removes everything it made.
func TestRealInstall(t *testing.T) {
	if os.Getenv("GREENGATE_REAL_SERVICE") != "1" || os.Geteuid() != 0 {
		t.Skip("set GREENGATE_REAL_SERVICE=1 and run as root to install a real service")
	}
	name := fmt.Sprintf("greengate-test-%d", os.Getpid())
	m, err := service.NewManager(service.Config{Name: name, Executable: "/bin/sleep", Arguments: []string{"600"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Platform() != "unix-systemv" {
		t.Skipf("platform %s: this test checks the System V quirks", m.Platform())
	}
	t.Cleanup(func() {
		exec.Command("/etc/init.d/"+name, "stop").Run()
		os.Remove("/etc/init.d/" + name)
		service.RemoveSysvLinks("/", name)
		for _, f := range []string{"/var/log/" + name + ".log", "/var/log/" + name + ".err", "/var/run/" + name + ".pid"} {
			os.Remove(f)
		}
	})
	state := func(want service.State) {
		t.Helper()
		st, err := m.Status()
		if err != nil || st != want {
			t.Fatalf("Status = %q, %v; want %q", st, err, want)
		}
	}
	state(service.StateNotInstalled)
	if err := m.Install(); err != nil {
		t.Fatal(err)
	}
	state(service.StateStopped) // kardianos says "unknown, exit status 1" here
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	state(service.StateRunning)
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	state(service.StateStopped)
	if err := m.Uninstall(); err != nil {
		t.Fatal(err)
	}
	state(service.StateNotInstalled)
	if links, _ := filepath.Glob("/etc/rc?.d/[SK][0-9][0-9]" + name); len(links) != 0 {
		t.Fatalf("rc links left: %q", links)
	}
}

package service

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestLocalUIDOfAnotherUser connects as uid 65534 and checks the lookup
// names that user, not the agent's.
func TestLocalUIDOfAnotherUser(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux to connect as another user")
	}
	// The system's python3: a per-user shim (pyenv) is not executable by
	// another user.
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("/usr/bin/python3 not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := exec.Command(py, "-c", "import socket,sys,time\ns=socket.create_connection(('127.0.0.1',"+strconv.Itoa(port)+"))\nprint('up',flush=True)\nsys.stdin.read()")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	uid, ok := localUID(s.RemoteAddr(), s.LocalAddr())
	if !ok || uid != 65534 {
		t.Fatalf("localUID = %d, %v; want 65534", uid, ok)
	}
}

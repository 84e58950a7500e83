package main

import (
	"context"
	"encoding/csv"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/service"
	"github.com/greengate/greengate/agent/settings"
)

// greengate logs reads the running agent's block log with the parent
// password: a blocked site visited twice is one line with two attempts,
// --csv exports it, and a wrong password shows nothing.
func TestLogs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	etc, sock := filepath.Join(dir, "etc"), filepath.Join(dir, "admin.sock")
	scfg := settings.Config{Dir: etc, StateDir: filepath.Join(dir, "state"), Hash: settings.HashParams{Time: 1, Memory: 64, Threads: 1}}
	st, err := settings.Open(scfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPassword("", "parent-pass-1"); err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- service.RunAgent(ctx, service.AgentConfig{Settings: scfg, DataDir: filepath.Join(dir, "data"), Socket: sock,
			Listen: "127.0.0.1:0", Ready: func(a net.Addr) { ready <- a }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var proxyAddr net.Addr
	select {
	case proxyAddr = <-ready:
	case err := <-done:
		t.Fatalf("agent ended: %v", err)
	case <-time.After(time.Minute): // the built-in lists take seconds to compile under -race
		t.Fatal("agent not ready in a minute")
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr.String()})}}
	for range 2 {
		resp, err := hc.Get("http://www.pornhub.com/")
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("blocked site: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	var out, errs string
	var code int
	deadline := time.Now().Add(10 * time.Second)
	for { // the block log writes in the background
		code, out, errs = runCmd(t, "parent-pass-1\n", "logs", "--socket", sock, "--password-stdin", "--category", "adult")
		if code != 0 || strings.Contains(out, "www.pornhub.com") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") ||
		!strings.Contains(lines[1], "www.pornhub.com") || !strings.Contains(lines[1], "adult") || strings.Fields(lines[1])[5] != "2" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr: %s", code, out, errs)
	}
	code, out, _ = runCmd(t, "parent-pass-1\n", "logs", "--socket", sock, "--password-stdin", "--csv", "--since", "7d")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) < 2 || !strings.Contains(out, "www.pornhub.com") {
		t.Fatalf("--csv: exit %d, %v\n%s", code, err, out)
	}
	if code, out, _ := runCmd(t, "not-the-password\n", "logs", "--socket", sock, "--password-stdin"); code != 1 || strings.Contains(out, "pornhub") {
		t.Fatalf("wrong password: exit %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, "", "logs", "--since", "yesterday-ish"); code != 2 {
		t.Fatal("a bad --since was accepted")
	}
}

package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/service"
	"github.com/greengate/greengate/agent/settings"
)

// TestMain lets the test binary play another local user: run as uid
// 65534 it tries to open every path it is given and prints what happened.
func TestMain(m *testing.M) {
	if os.Getenv("GG_SERVICE_CHILD") == "open" {
		os.Exit(openAsChild())
	}
	os.Exit(m.Run())
}

const nobody = 65534

func openAsChild() int {
	var paths []string
	if err := json.NewDecoder(os.Stdin).Decode(&paths); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	out := map[string]string{}
	for _, p := range paths {
		f, err := os.Open(p)
		switch {
		case err == nil:
			f.Close()
			out[p] = "opened"
		case errors.Is(err, fs.ErrPermission):
			out[p] = "EACCES"
		default:
			out[p] = err.Error()
		}
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// TestAgentFilesArePrivate runs what the service runs on directories laid
// out as the package ships them (0755, as older packages did), has it
// write everything it writes (settings, password hash, a grant, a signed
// bundle from a real server, a block in the block log with its -wal and
// -shm), then checks that every file is 0600 and every directory 0700,
// and that a process of another user (uid 65534) can open none of them:
// the block log says where the family browsed.
func TestAgentFilesArePrivate(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test must run there")
		}
		t.Skip("needs root to run a process as uid 65534")
	}
	root, err := os.MkdirTemp("", "gg-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	etc, state, data := filepath.Join(root, "etc"), filepath.Join(root, "state"), filepath.Join(root, "data")
	for _, d := range []string{etc, state, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755) // as the package ships them, whatever the umask
	}

	// A real bundle server on loopback with the test vectors' good bundle.
	good, err := os.ReadFile("../../testdata/bundles/good.bundle")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	defer srv.Close()
	pub, err := os.ReadFile("../../testdata/bundles/root.pub")
	if err != nil {
		t.Fatal(err)
	}
	var rootKey string
	for _, l := range strings.Split(string(pub), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			rootKey = l
		}
	}
	doc, _ := json.Marshal(map[string]any{
		"profiles": []any{map[string]any{"name": "child", "block": []string{"adult"}, "deny": []string{"games.example"}}},
		"updates":  map[string]any{"sources": []any{map[string]any{"url": srv.URL + "/vendor.bundle", "publisher": "greengate-test", "root_keys": []string{rootKey}}}},
	})
	// The settings file is the parent's, written with the agent's own
	// writer; its mode is the agent's doing too.
	if err := settings.WriteFileAtomic(filepath.Join(etc, settings.SettingsFile), doc, 0o600); err != nil {
		t.Fatal(err)
	}

	// The test vectors are valid in March 2026.
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sock := filepath.Join(root, "run", "admin.sock")
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- service.RunAgent(ctx, service.AgentConfig{
			Settings: settings.Config{Dir: etc, StateDir: state, Hash: settings.HashParams{Time: 1, Memory: 64, Threads: 1}},
			DataDir:  data,
			Socket:   sock,
			Listen:   "127.0.0.1:0",
			Version:  "test",
			Ready:    func(a net.Addr) { ready <- a },
			Clock:    clock,
		})
	}()
	var proxyAddr net.Addr
	select {
	case proxyAddr = <-ready:
	case err := <-done:
		t.Fatalf("RunAgent ended early: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("proxy not ready in a minute")
	}

	// The engine build after the bundle installs is seconds under -race
	// with the large default lists; the client's default would give up.
	c := client.New(client.Config{Socket: sock, Timeout: 2 * time.Minute})
	defer c.Close()
	const pw = "parent-pass"
	if err := c.SetPassword(ctx, "", pw); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateNow(ctx, pw); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Grant(ctx, pw, "scratch.mit.edu", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse("http://" + proxyAddr.String())
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 5 * time.Second}
	resp, err := hc.Get("http://games.example/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("games.example: HTTP %d, want a block", resp.StatusCode)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := c.Status(ctx)
		if err == nil && st.BlockedToday > 0 && len(st.Bundles) == 1 && st.Bundles[0].Version > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no block logged or no bundle installed after a minute: %+v, %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Look while the agent runs: -wal and -shm exist only then.
	walk := func() (paths []string, bad []string) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == root {
				return err
			}
			// The socket and its directory are open on purpose: the tray
			// in a child's session talks to the agent there.
			if rel, _ := filepath.Rel(root, p); rel == "run" || strings.HasPrefix(rel, "run"+string(filepath.Separator)) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			paths = append(paths, p)
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				bad = append(bad, fmt.Sprintf("%s is %v, want %v", p, fi.Mode().Perm(), want))
			}
			return nil
		})
		return paths, bad
	}
	paths, bad := walk()
	for _, want := range []string{
		filepath.Join(data, "blocklog.db"), filepath.Join(data, "blocklog.db-wal"), filepath.Join(data, "blocklog.db-shm"),
		filepath.Join(data, "bundles", "greengate-test.bundle"),
		filepath.Join(etc, settings.SettingsFile), filepath.Join(etc, settings.PasswordFile),
		filepath.Join(state, settings.OverridesFile),
	} {
		if !contains(paths, want) {
			t.Errorf("the agent did not write %s; the test checks less than it says", want)
		}
	}
	for _, b := range bad {
		t.Error(b)
	}

	// Another local user opens nothing, file or directory.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir, err := os.MkdirTemp("", "gg-private-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	os.Chmod(binDir, 0o755)
	bin := filepath.Join(binDir, "child.test")
	if err := copyExe(exe, bin); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(paths)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{"GG_SERVICE_CHILD=open", "HOME=/nonexistent"}
	cmd.Stdin = strings.NewReader(string(in))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("child said %q: %v", b, err)
	}
	for _, p := range paths {
		if got[p] != "EACCES" {
			t.Errorf("uid %d opening %s: %s, want EACCES", nobody, p, got[p])
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("RunAgent did not stop within 30s")
	}
	// After a clean stop too (the files SQLite leaves, the bundle's .prev
	// on a later install would be alike).
	if _, bad := walk(); len(bad) > 0 {
		t.Errorf("after stopping: %s", strings.Join(bad, "; "))
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func copyExe(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		return err
	}
	return os.Chmod(to, 0o755)
}

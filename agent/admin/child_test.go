//go:build linux

package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/settings"
)

// TestMain lets the test binary play the child: run as an unprivileged
// user it tries everything a child at the keyboard could, and prints what
// happened.
func TestMain(m *testing.M) {
	switch os.Getenv("GG_ADMIN_CHILD") {
	case "1":
		os.Exit(childMain())
	case "first":
		os.Exit(childFirstMain())
	}
	os.Exit(m.Run())
}

const nobody = 65534

// classify turns an outcome into a word the parent test can check.
func classify(err error) string {
	var e *client.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, os.ErrPermission):
		return "EACCES"
	case errors.As(err, &e):
		return e.Code
	default:
		return "error: " + err.Error()
	}
}

func childMain() int {
	dir, sock, token := os.Getenv("GG_DIR"), os.Getenv("GG_SOCK"), os.Getenv("GG_TOKEN")
	etc := filepath.Join(dir, "etc")
	ctx := context.Background()
	c := client.New(client.Config{Socket: sock})
	out := map[string]string{}
	try := func(name string, err error) { out[name] = classify(err) }

	st, err := c.Status(ctx)
	try("status", err)
	if st.PasswordSet {
		out["status.password_set"] = "true"
	}
	_, err = os.ReadFile(filepath.Join(etc, settings.SettingsFile))
	try("read settings file", err)
	_, err = os.ReadFile(filepath.Join(etc, settings.PasswordFile))
	try("read password hash", err)
	try("edit settings file", os.WriteFile(filepath.Join(etc, settings.SettingsFile), []byte(`{"profiles":[{"name":"x","block":[]}]}`), 0o600))
	try("drop a file in the settings dir", os.WriteFile(filepath.Join(etc, "settings.json.new"), []byte("{}"), 0o600))
	try("rename over settings", os.Rename(filepath.Join(dir, "child.test"), filepath.Join(etc, settings.SettingsFile)))
	try("edit overrides", os.WriteFile(filepath.Join(dir, "state", settings.OverridesFile), []byte(`[{"until":"2099-01-01T00:00:00Z"}]`), 0o600))
	try("remove the admin socket", os.Remove(sock))
	_, err = c.Settings(ctx)
	try("read settings via API", err)
	_, err = c.Events(ctx, client.EventFilter{})
	try("read the block log via API", err)

	// A parent's session token seen over the shoulder does not work for
	// another user.
	req, _ := http.NewRequest(http.MethodGet, "http://x"+client.PathSettings, nil)
	req.Header.Set("Authorization", client.SchemeSession+" "+token)
	if resp, err := rawClient(sock).Do(req); err != nil {
		out["stolen session"] = "error: " + err.Error()
	} else {
		var e client.Error
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		out["stolen session"] = e.Code
	}
	for i, guess := range []string{"123456", "password", "letmein", "tulip-garden-41"} {
		_, err := c.Pause(ctx, guess, time.Hour)
		out["pause guess "+string(rune('1'+i))] = classify(err)
	}
	try("save settings without password", c.SaveSettings(ctx, "", settings.Default()))
	try("take over the password", c.SetPassword(ctx, "", "child-owns-it"))
	try("ask a parent", c.Ask(ctx, "games.example", "please"))
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// childDir is a world-traversable temp dir, unlike t.TempDir, so the child
// can reach the socket through the path.
func childDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gg-admin-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	return dir
}

// runChild runs this test binary as uid 65534 in the given mode and
// decodes what it printed.
func runChild(t *testing.T, dir, mode string, env ...string) map[string]string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "child.test")
	copyFile(t, exe, bin)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append([]string{"GG_ADMIN_CHILD=" + mode, "GG_DIR=" + dir, "HOME=/nonexistent"}, env...)
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
	t.Logf("what the child saw: %s", b)
	return got
}

// childFirstMain is a child's account on a machine where nobody has set
// the parent password yet: it tries to set it, then to use it.
func childFirstMain() int {
	ctx := context.Background()
	c := client.New(client.Config{Socket: os.Getenv("GG_SOCK")})
	out := map[string]string{}
	err := c.SetPassword(ctx, "", "child-owns-it")
	out["set the first password"] = classify(err)
	if err != nil {
		out["message"] = err.Error()
	}
	_, err = c.Pause(ctx, "child-owns-it", time.Hour)
	out["pause with it"] = classify(err)
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// TestChildCannotSetTheFirstPassword: before a parent password exists,
// a child's account (uid 65534, over the real socket) is refused with
// words that say who can set it; the administrator then can.
func TestChildCannotSetTheFirstPassword(t *testing.T) {
	needRoot(t)
	dir := childDir(t)
	r := newRig(t, dir, false)
	ctx := context.Background()

	got := runChild(t, dir, "first", "GG_SOCK="+r.sock)
	if got["set the first password"] != client.CodeAdminRequired {
		t.Errorf("child setting the first password: %q, want %q", got["set the first password"], client.CodeAdminRequired)
	}
	if !strings.Contains(got["message"], "only be set by an administrator") || !strings.Contains(got["message"], "sudo greengate settings password") {
		t.Errorf("refusal does not say who can set it: %q", got["message"])
	}
	if got["pause with it"] != client.CodeNoPassword {
		t.Errorf("child pausing: %q, want %q", got["pause with it"], client.CodeNoPassword)
	}
	st, err := r.c.Status(ctx)
	if err != nil || st.PasswordSet || st.Paused {
		t.Fatalf("after the child: %+v, %v", st, err)
	}
	// The administrator (this test, as root) sets it over the same socket.
	if err := r.c.SetPassword(ctx, "", parentPW); err != nil {
		t.Fatalf("root setting the first password: %v", err)
	}
	if err := r.store.CheckPassword(parentPW); err != nil {
		t.Fatal(err)
	}
	var refused int
	for _, e := range r.events(t, blocklog.ActionAdmin) {
		if strings.HasPrefix(e.Reason, "first parent password refused") && strings.HasPrefix(e.Client, "uid 65534") {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d refusals from uid 65534 recorded, want 1", refused)
	}
}

func TestChildAtTheKeyboard(t *testing.T) {
	needRoot(t)
	dir := childDir(t)
	r := newRig(t, dir, true)
	ctx := context.Background()
	if err := r.store.Save(settings.Default(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.Grant(ctx, parentPW, "scratch.mit.edu", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := r.c.Login(ctx, parentPW); err != nil {
		t.Fatal(err)
	}
	// Steal the token the way a child could: from the parent's client.
	tok := loginToken(t, r.sock)

	got := runChild(t, dir, "1", "GG_SOCK="+r.sock, "GG_TOKEN="+tok)
	want := map[string]string{
		"status":                          "ok",
		"status.password_set":             "true",
		"read settings file":              "EACCES",
		"read password hash":              "EACCES",
		"edit settings file":              "EACCES",
		"drop a file in the settings dir": "EACCES",
		"rename over settings":            "EACCES",
		"edit overrides":                  "EACCES",
		"remove the admin socket":         "EACCES",
		"read settings via API":           client.CodeLoginRequired,
		"read the block log via API":      client.CodeLoginRequired,
		"stolen session":                  client.CodeLoginRequired,
		"pause guess 1":                   client.CodeWrongPassword,
		"pause guess 2":                   client.CodeWrongPassword,
		"pause guess 3":                   client.CodeWrongPassword, // and now a delay starts
		"pause guess 4":                   client.CodeRateLimited,
		"save settings without password":  client.CodeRateLimited,
		"take over the password":          client.CodeRateLimited,
		"ask a parent":                    "ok",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("child %q: %q, want %q", k, got[k], w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unchecked child outcome %q: %q", k, got[k])
		}
	}

	// Nothing changed: filtering is not paused, the grant is the parent's
	// only, the settings and password are the parent's.
	st, err := r.c.Status(ctx)
	if err != nil || st.Paused || len(st.Grants) != 1 {
		t.Fatalf("after the child: %+v, %v", st, err)
	}
	if err := r.store.CheckPassword(parentPW); err != nil {
		t.Fatalf("parent password after the child: %v", err)
	}
	// The child's guesses slowed the child down, not the parent.
	if err := r.c.Resume(ctx, parentPW); err != nil {
		t.Fatalf("parent locked out by the child's guesses: %v", err)
	}
	// And the parent can see who tried.
	var tries int
	for _, e := range r.events(t, blocklog.ActionAdmin) {
		if strings.HasPrefix(e.Reason, "wrong parent password") && strings.HasPrefix(e.Client, "uid 65534") {
			tries++
		}
	}
	if tries != 3 {
		t.Fatalf("%d wrong passwords from uid 65534 recorded, want 3", tries)
	}
	reqs := r.events(t, blocklog.ActionRequest)
	if len(reqs) != 1 || reqs[0].Host != "games.example" || !strings.HasPrefix(reqs[0].Client, "uid 65534") {
		t.Fatalf("child's request recorded as %+v", reqs)
	}
}

// loginToken logs in on a fresh connection and returns the raw token.
func loginToken(t *testing.T, sock string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://x"+client.PathLogin, nil)
	req.Header.Set("Authorization", client.SchemePassword+" "+b64(parentPW))
	resp, err := rawClient(sock).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l client.Login
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || l.Token == "" {
		t.Fatalf("login: %v", err)
	}
	return l.Token
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

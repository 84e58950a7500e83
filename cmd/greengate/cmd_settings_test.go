package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greengate/greengate/agent/settings"
)

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"profiles":[{"name":"child","block":["adult","social"],"safe_search":true}]}`)
	bad := write("bad.json", `{"profiles":[{"name":"child","block":[]},{"name":"teen","block":[],"allow":["x.example","y.example","z.example","a b"]}],"language":"fr"}`)
	typo := write("typo.json", "{\n  \"profiles\": [],\n  \"safesearch\": true\n}")
	tests := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"good, with a note on a bundle-only category", []string{good}, 0,
			[]string{good + ": ok (1 profiles)", `note: profiles[0].block[1]: category "social" is not in the built-in rules`}},
		{"every problem with its path", []string{bad}, 1,
			[]string{bad + ": invalid", `profiles[1].allow[3]: bad host "a b"`, `language: unknown language "fr"`}},
		{"unknown key", []string{typo}, 1, []string{`unknown field "safesearch"`}},
		{"missing file", []string{filepath.Join(dir, "none.json")}, 2, nil},
		{"worst code wins", []string{good, bad}, 1, []string{good + ": ok", bad + ": invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCmd(t, "", append([]string{"settings", "validate"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestSettingsDefaultIsValid(t *testing.T) {
	t.Parallel()
	code, out, _ := runCmd(t, "", "settings", "default")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := settings.DecodeBytes([]byte(out)); err != nil {
		t.Fatalf("default settings do not validate: %v\n%s", err, out)
	}
}

func TestSettingsPasswordWithoutAgent(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("setting the password without the agent needs root")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "none.sock")
	args := []string{"settings", "password", "--password-stdin", "--socket", sock, "--dir", dir}
	if code, _, errs := runCmd(t, "first-secret\nother-secret\n", args...); code != 1 || !strings.Contains(errs, "differ") {
		t.Fatalf("mismatched confirmation: exit %d, %s", code, errs)
	}
	if code, out, errs := runCmd(t, "first-secret\nfirst-secret\n", args...); code != 0 || !strings.Contains(out, "parent password set") {
		t.Fatalf("first set: exit %d, %s %s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "wrong-secret\nnew-secret1\nnew-secret1\n", args...); code != 1 || !strings.Contains(errs, "refused") {
		t.Fatalf("change with a wrong old password: exit %d, %s", code, errs)
	}
	if code, _, errs := runCmd(t, "first-secret\nnew-secret1\nnew-secret1\n", args...); code != 0 {
		t.Fatalf("change: exit %d, %s", code, errs)
	}
	st, _ := settings.Open(settings.Config{Dir: dir, StateDir: dir})
	if err := st.CheckPassword("new-secret1"); err != nil {
		t.Fatal(err)
	}
}

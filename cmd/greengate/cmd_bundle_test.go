package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const bundleVectors = "../../testdata/bundles"

func vectorPath(name string) string { return filepath.Join(bundleVectors, name) }

// TestBundleVerifyVectors runs every shared vector through the CLI: a
// refusal exits 1 and names the check the vector breaks.
func TestBundleVerifyVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(vectorPath("vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Now     string
		Vectors []struct {
			File, Error string
			Roots       []string
			Installed   uint64
		}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	check := map[string]string{
		"":                "",
		"ErrUnknownKey":   "root key pinned",
		"ErrBadSignature": "signature",
		"ErrCertExpired":  "signing key period",
		"ErrExpired":      "expiry",
		"ErrNotYetValid":  "not yet valid",
		"ErrRollback":     "version newer than installed",
		"ErrMalformed":    "format",
		"ErrTooLarge":     "size",
	}
	for _, v := range m.Vectors {
		t.Run(v.File+"/"+strings.Join(v.Roots, "+"), func(t *testing.T) {
			t.Parallel()
			args := []string{"bundle", "verify", vectorPath(v.File), "--now", m.Now, "--installed-version", strconv.FormatUint(v.Installed, 10)}
			for _, r := range v.Roots {
				args = append(args, "--root-key", vectorPath(r))
			}
			code, out, errOut := runCmd(t, "", args...)
			want, ok := check[v.Error]
			if !ok {
				t.Fatalf("no check name for %s", v.Error)
			}
			if want == "" {
				if code != 0 || !strings.HasPrefix(out, "OK ") {
					t.Errorf("exit %d\n%s%s", code, out, errOut)
				}
				return
			}
			if code != 1 || !strings.Contains(out, "check:   "+want+"\n") {
				t.Errorf("exit %d, want 1 naming %q\n%s%s", code, want, out, errOut)
			}
		})
	}
}

func TestBundleInstall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := "2026-03-01T00:00:00Z"
	install := func(file string) (int, string) {
		code, out, errOut := runCmd(t, "", "bundle", "install", vectorPath(file), "--dir", dir, "--root-key", vectorPath("root.pub"), "--now", now)
		return code, out + errOut
	}
	tests := []struct {
		name, file string
		code       int
		want       string // in the output
		installed  string // vector now on disk as greengate-test.bundle
	}{
		{"older version first", "rollback-v2.bundle", 0, "INSTALLED", "rollback-v2.bundle"},
		{"tampered", "bad-signature.bundle", 1, "check:   signature", "rollback-v2.bundle"},
		{"expired", "expired.bundle", 1, "check:   expiry", "rollback-v2.bundle"},
		{"newer", "good.bundle", 0, "(was version 2)", "good.bundle"},
		{"identical file again", "good.bundle", 0, "ALREADY INSTALLED", "good.bundle"},
		{"replay of the older one", "rollback-v2.bundle", 1, "check:   version newer than installed", "good.bundle"},
		{"same again", "rollback-v1.bundle", 1, "check:   version newer than installed", "good.bundle"},
	}
	// In order: each step starts from what the one before left.
	for _, tt := range tests {
		code, out := install(tt.file)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s", tt.name, code, tt.code, tt.want, out)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "greengate-test.bundle"))
		want, _ := os.ReadFile(vectorPath(tt.installed))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: installed file is not %s", tt.name, tt.installed)
		}
	}
	if code, _, _ := runCmd(t, "", "bundle", "install", vectorPath("good.bundle"), "--dir", dir); code != 2 {
		t.Errorf("no --root-key: exit %d, want 2", code)
	}
	if code, _, _ := runCmd(t, "", "bundle", "verify", filepath.Join(dir, "missing"), "--root-key", vectorPath("root.pub")); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cli runs the publisher in-process and returns exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, args...)
	if code != exitOK {
		t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

const sourceJSON = `{
  "version": %d,
  "publisher": "example-school",
  "created": "2026-02-01T00:00:00Z",
  "valid_for": "720h",
  "categories": [
    {"id": "gambling", "name": {"zh": "赌博", "en": "Gambling"},
     "description": {"zh": "在线赌场", "en": "Online casinos"},
     "lists": [{"source": "ut1/gambling/domains", "domains": [%s],
                "urls": ["reddit.com/r/sportsbook"], "allow": ["begambleaware.org"]}]},
    {"id": "adult", "name": {"zh": "成人内容", "en": "Adult"},
     "lists": [{"source": "custom", "domains": ["pornhub.com", "xvideos.com"]}]}
  ],
  "safe_search": [{"name": "google", "hosts": ["www.google.com", "google.com"],
                   "target": "forcesafesearch.google.com", "param": "safe=active"}]
}`

// publisherSetup makes root and signing keys, a certificate and a signed
// bundle (version 5) in a temp dir, all through the CLI.
func publisherSetup(t *testing.T) string {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustCLI(t, "keygen", "-role", "root", "-name", "example-root", "-out", p("root"))
	mustCLI(t, "keygen", "-name", "example-signing", "-out", p("signing"))
	mustCLI(t, "certify", "-root-key", p("root.key"), "-signing-key", p("signing.pub"),
		"-publisher", "example-school", "-not-before", "2026-01-01T00:00:00Z", "-valid", "8760h", "-out", p("signing.cert"))
	writeSource(t, p("v5.json"), 5, `"bet365.com", "pokerstars.com", "bet365.com"`)
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v5.json"), "-out", p("v5.bundle"))
	return dir
}

func writeSource(t *testing.T, path string, version int, domains string) {
	t.Helper()
	if err := os.WriteFile(path, fmt.Appendf(nil, sourceJSON, version, domains), 0o644); err != nil {
		t.Fatal(err)
	}
}

const now = "2026-02-10T00:00:00Z"

func TestKeygen(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	st, err := os.Stat(filepath.Join(dir, "root.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("root.key mode %v, %v", st.Mode(), err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, "root.key"))
	pub, _ := os.ReadFile(filepath.Join(dir, "root.pub"))
	if !bytes.Contains(key, []byte("\nPRIVATE+KEY+example-root+")) || bytes.Contains(pub, []byte("PRIVATE")) {
		t.Errorf("key files:\n%s\n%s", key, pub)
	}
	// A second keygen to the same prefix must not destroy the root key.
	if code, _, _ := cli(t, "keygen", "-role", "root", "-name", "x", "-out", filepath.Join(dir, "root")); code != exitFail {
		t.Errorf("overwrote an existing key: exit %d", code)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "root.key")); !bytes.Equal(again, key) {
		t.Error("root.key changed")
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	mustCLI(t, "keygen", "-role", "root", "-name", "stranger-root", "-out", p("stranger"))
	good, _ := os.ReadFile(p("v5.bundle"))
	tampered := bytes.Clone(good)
	tampered[len(tampered)-70] ^= 1
	os.WriteFile(p("tampered.bundle"), tampered, 0o644)

	tests := []struct {
		name  string
		args  []string
		code  int
		check string
	}{
		{"good, flag after file", []string{p("v5.bundle"), "--root-key", p("root.pub"), "-now", now}, exitOK, ""},
		{"good, flag before file", []string{"-root-key", p("root.pub"), "-now", now, p("v5.bundle")}, exitOK, ""},
		{"other root", []string{p("v5.bundle"), "-root-key", p("stranger.pub"), "-now", now}, exitFail, "root key pinned"},
		{"both roots", []string{p("v5.bundle"), "-root-key", p("stranger.pub"), "-root-key", p("root.pub"), "-now", now}, exitOK, ""},
		{"tampered", []string{p("tampered.bundle"), "-root-key", p("root.pub"), "-now", now}, exitFail, "signature"},
		{"expired", []string{p("v5.bundle"), "-root-key", p("root.pub"), "-now", "2026-04-01T00:00:00Z"}, exitFail, "expiry"},
		{"replayed", []string{p("v5.bundle"), "-root-key", p("root.pub"), "-now", now, "-installed", "5"}, exitFail, "version newer than installed"},
		{"truncated", []string{p("v5.json"), "-root-key", p("root.pub"), "-now", now}, exitFail, "format"},
		{"no root key", []string{p("v5.bundle")}, exitUsage, ""},
		{"private key as root", []string{p("v5.bundle"), "-root-key", p("root.key")}, exitFail, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, _ := cli(t, append([]string{"verify"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, out)
			}
			if tt.check != "" && !strings.Contains(out, "check: "+tt.check+"\n") {
				t.Errorf("output does not name check %q:\n%s", tt.check, out)
			}
			if code == exitOK && !strings.Contains(out, "publisher:  example-school") {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}

// The shared vectors, through the CLI: each refusal names its check.
func TestVerifyVectors(t *testing.T) {
	t.Parallel()
	dir := "../../testdata/bundles"
	data, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Now     string `json:"now"`
		Vectors []struct {
			File, Error string
			Roots       []string
			Installed   uint64
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"": "", "ErrMalformed": "format", "ErrTooLarge": "size", "ErrUnknownKey": "root key pinned",
		"ErrBadSignature": "signature", "ErrCertExpired": "signing key period", "ErrExpired": "expiry",
		"ErrNotYetValid": "not yet valid", "ErrRollback": "version newer than installed"}
	for _, v := range m.Vectors {
		args := []string{"verify", filepath.Join(dir, v.File), "-now", m.Now, "-installed", strconv.FormatUint(v.Installed, 10)}
		for _, r := range v.Roots {
			args = append(args, "-root-key", filepath.Join(dir, r))
		}
		code, out, errOut := cli(t, args...)
		if (code == exitOK) != (v.Error == "") || (v.Error != "" && !strings.Contains(out, "check: "+want[v.Error]+"\n")) {
			t.Errorf("%s: exit %d\n%s%s", v.File, code, out, errOut)
		}
	}
}

func TestInspectAgainst(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	writeSource(t, p("v6.json"), 6, `"bet365.com", "pokerstars.com", "williamhill.com", "888casino.com"`)
	mustCLI(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p("v6.json"), "-out", p("v6.bundle"))
	out := mustCLI(t, "inspect", p("v6.bundle"), "--against", p("v5.bundle"))
	for _, want := range []string{"NOT VERIFIED", "version:    6", "against:    " + p("v5.bundle") + " (version 5)", "+2 / +0 / +0", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Duplicates in the source were removed: v5 has 2 gambling domains.
	if !regexpRow(out, "gambling (Gambling / 赌博)", "4 domains") {
		t.Errorf("gambling row:\n%s", out)
	}
	out = mustCLI(t, "inspect", p("v6.bundle"), "-root-key", p("root.pub"), "-now", now)
	if !strings.Contains(out, "signature:  verified") {
		t.Errorf("verified inspect:\n%s", out)
	}
}

func regexpRow(out, label, want string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, label) {
			return strings.Contains(line, want)
		}
	}
	return false
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("typo.json"), []byte(`{"version": 1, "publisher": "example-school", "valid_for": "1h", "categoies": []}`), 0o644)
	os.WriteFile(p("other.json"), []byte(`{"version": 1, "publisher": "someone-else", "created": "2026-02-01T00:00:00Z", "valid_for": "1h"}`), 0o644)
	os.WriteFile(p("late.json"), []byte(`{"version": 1, "publisher": "example-school", "created": "2026-02-01T00:00:00Z", "valid_for": "87600h"}`), 0o644)
	for _, src := range []string{"typo.json", "other.json", "late.json"} {
		t.Run(src, func(t *testing.T) {
			code, _, errOut := cli(t, "sign", "-key", p("signing.key"), "-cert", p("signing.cert"), "-in", p(src), "-out", p(src+".bundle"))
			if code != exitFail || errOut == "" {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if _, err := os.Stat(p(src + ".bundle")); err == nil {
				t.Error("wrote a bundle")
			}
		})
	}
	// The root key cannot sign bundles directly: it is not the certified key.
	if code, _, _ := cli(t, "sign", "-key", p("root.key"), "-cert", p("signing.cert"), "-in", p("v5.json"), "-out", p("x.bundle")); code != exitFail {
		t.Errorf("signed with the root key: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"frobnicate"}, {"sign"}, {"verify", "a", "b", "-root-key", "k"}} {
		code, _, errOut := cli(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "usage:") {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	_, _, errOut := cli(t)
	for name := range commands() {
		if !strings.Contains(errOut, name) {
			t.Errorf("usage does not list %s", name)
		}
	}
}

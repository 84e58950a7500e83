package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCA(t *testing.T) {
	t.Parallel()
	data, root := t.TempDir(), t.TempDir()
	ca := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), &env{stdout: &out, stderr: &errb}, append([]string{"ca", "--data-dir", data, "--root", root}, args...))
		return code, out.String(), errb.String()
	}
	if code, out, _ := ca("status"); code != 0 || !strings.Contains(out, "local CA: none") {
		t.Fatalf("status before install: %d %q", code, out)
	}
	if code, _, _ := ca("export"); code != 2 {
		t.Fatalf("export with no CA exited %d, want 2", code)
	}
	if code, out, errs := ca("install"); code != 0 || !strings.Contains(out, "trusted GreenGate block pages") {
		t.Fatalf("install: %d %q %q", code, out, errs)
	}
	code, pemOut, _ := ca("export")
	var again bytes.Buffer
	if run(context.Background(), &env{stdout: &again, stderr: io.Discard}, []string{"ca", "export", "--data-dir", data}) != 0 || again.String() != pemOut {
		t.Fatal("flags after the action are not read")
	}
	if b, _ := pem.Decode([]byte(pemOut)); code != 0 || b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("export: %d %q", code, pemOut)
	}
	stored, _ := os.ReadFile(filepath.Join(root, "usr/local/share/ca-certificates/greengate-local-ca.crt"))
	if string(stored) != pemOut {
		t.Fatal("the system store holds another certificate than the one exported")
	}
	if code, out, _ := ca("status"); code != 0 || strings.Count(out, " trusted") != 3 || !strings.Contains(out, "never an allowed site") {
		t.Fatalf("status after install: %d %q", code, out)
	}
	if code, _, _ := ca("uninstall"); code != 0 {
		t.Fatal("uninstall failed")
	}
	if code, out, _ := ca("status"); code != 0 || !strings.Contains(out, "local CA: none") {
		t.Fatalf("status after uninstall: %d %q", code, out)
	}
	for _, f := range []string{"usr/local/share/ca-certificates/greengate-local-ca.crt", "etc/chromium/policies/managed/greengate-ca.json"} {
		if _, err := os.Stat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall", f)
		}
	}
	if code, _, _ := ca("frobnicate"); code != 2 {
		t.Fatal("unknown action accepted")
	}
	if code, _, _ := ca("--help"); code != 0 {
		t.Fatal("--help is not help")
	}
}

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greengate/greengate/agent/settings"
)

func TestStopNeedsTheParentPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := settings.Open(settings.Config{Dir: dir, StateDir: dir, Hash: settings.HashParams{Time: 1, Memory: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "none.sock") // agent not running: the file is checked
	check := func(stdin string) (int, string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
		return needParentPassword(context.Background(), e, "service stop", dir, sock, true), errb.String()
	}
	if code, errs := check(""); code != 0 || !strings.Contains(errs, "no parent password is set") {
		t.Fatalf("before a password: %d %s", code, errs)
	}
	if err := st.SetPassword("", "parent-secret"); err != nil {
		t.Fatal(err)
	}
	if code, errs := check("guess-guess\n"); code != 1 || !strings.Contains(errs, "wrong parent password") {
		t.Fatalf("wrong password: %d %s", code, errs)
	}
	if code, errs := check("parent-secret\n"); code != 0 {
		t.Fatalf("right password: %d %s", code, errs)
	}
}

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/agent/sysproxy"
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

func TestProxyOnNeedsAServedPAC(t *testing.T) {
	t.Parallel()
	pac := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == sysproxy.PACPath {
			io.WriteString(w, sysproxy.PAC(r.Host))
			return
		}
		http.NotFound(w, r)
	}))
	defer pac.Close()
	if err := checkPAC(context.Background(), pac.URL+sysproxy.PACPath); err != nil {
		t.Fatalf("served PAC refused: %v", err)
	}
	for _, u := range []string{pac.URL + "/other.pac", "http://127.0.0.1:9/proxy.pac"} {
		if err := checkPAC(context.Background(), u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if os.Geteuid() == 0 {
		// Refused before touching the machine: nothing serves a PAC there.
		var out, errb bytes.Buffer
		code := proxyOn(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, t.TempDir(), "127.0.0.1:9")
		if code != 1 || !strings.Contains(errb.String(), "refused") {
			t.Fatalf("proxy-on without a PAC: %d %s", code, errb.String())
		}
	}
}

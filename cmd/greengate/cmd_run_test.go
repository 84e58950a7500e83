package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/lockedbuf"
)

type lockedBuffer = lockedbuf.Buffer

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	list := filepath.Join(dir, "mine.txt")
	if err := os.WriteFile(list, []byte("homework-cheats.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb},
			[]string{"run", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "state"), "--list", "cheats=" + list})
	}()
	re := regexp.MustCompile(`greengate: listening on http://(127\.0\.0\.1:\d+)\n`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %s", errb.String())
		}
	}
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr})}, Timeout: 10 * time.Second}
	for _, u := range []string{"http://www.pornhub.com/", "http://homework-cheats.example/answers"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(b), "This page is blocked") {
			t.Fatalf("%s: %d %.200s", u, resp.StatusCode, b)
		}
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "CONNECT www.pornhub.com:443 HTTP/1.1\r\nHost: www.pornhub.com:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	conn.Close()
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop on cancel")
	}
	if strings.Count(out.String(), "listening on") != 1 {
		t.Fatalf("stdout: %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "blocklog.db")); err != nil {
		t.Fatalf("block log: %v", err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad port", []string{"run", "--connect-ports", "443,x"}, "bad port"},
		{"zero port", []string{"run", "--connect-ports", "0"}, "bad port"},
		{"bad lan", []string{"run", "--lan", "10.0.0.0/33"}, "reading networks"},
		{"bad lan-reachable", []string{"run", "--lan-reachable", "intranet"}, "reading networks"},
		{"bad list flag", []string{"run", "--list", "nofile"}, "CATEGORY=FILE"},
		{"missing list", []string{"run", "--listen", "127.0.0.1:0", "--data-dir", "DIR", "--list", "x=/nonexistent/list"}, "no such file"},
		{"stray argument", []string{"run", "extra"}, "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i, a := range tc.args {
				if a == "DIR" {
					tc.args[i] = t.TempDir()
				}
			}
			code, _, stderr := runCmd(t, "", tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
		})
	}
}

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"443", "443,8443", "0", "+1", "65536", " 80 , 443 ", ",", "443,443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parsePorts(s)
		if err != nil {
			if ps != nil {
				t.Fatal("ports with an error")
			}
			return
		}
		seen := map[uint16]bool{}
		for _, p := range ps {
			if p == 0 || seen[p] {
				t.Fatalf("%q: gave %v", s, ps)
			}
			seen[p] = true
		}
		if len(ps) == 0 || len(ps) > strings.Count(s, ",")+1 {
			t.Fatalf("%q: gave %v", s, ps)
		}
	})
}

func TestDefaultDataDir(t *testing.T) {
	if os.Geteuid() == 0 {
		if d := defaultDataDir(); d != "/var/lib/greengate" {
			t.Fatalf("root: %s", d)
		}
		return
	}
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if d := defaultDataDir(); d != "/x/state/greengate" {
		t.Fatalf("XDG: %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "relative")
	home, _ := os.UserHomeDir()
	if d := defaultDataDir(); d != filepath.Join(home, ".local", "state", "greengate") {
		t.Fatalf("relative XDG must be ignored: %s", d)
	}
}

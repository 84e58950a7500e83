package agent_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/rules/defaults"
)

// run starts an agent with a list file and a dialer that sends every
// allowed request to a local origin; it returns the agent and its address.
func run(t *testing.T, dataDir string) (*agent.Agent, string) {
	t.Helper()
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "origin ", r.Host) }))
	t.Cleanup(o.Close)
	list := filepath.Join(t.TempDir(), "violence.txt")
	if err := os.WriteFile(list, []byte("# test list\nlisted.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	a, err := agent.New(context.Background(), agent.Config{
		Listen:  "127.0.0.1:0",
		DataDir: dataDir,
		Lists:   []agent.ListSpec{{Category: "violence", Path: list}},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, o.Listener.Addr().String())
		},
		Ready: func(a net.Addr) { ready <- a },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return a, addr.String()
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
	return nil, ""
}

func TestAgent(t *testing.T) {
	t.Parallel()
	a, addr := run(t, filepath.Join(t.TempDir(), "state"))
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr})}, Timeout: 10 * time.Second}
	get := func(u string) int {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"http://listed.test/", 403},
		{"http://www.listed.test/", 403},
		{"http://www.pornhub.com/", 403},
		{"http://allowed.test/", 200},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if got := get(tc.url); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
	t.Run("CONNECT to a listed host is refused", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "CONNECT listed.test:443 HTTP/1.1\r\nHost: listed.test:443\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
		if err != nil || resp.StatusCode != 403 {
			t.Fatalf("got %v %v", resp, err)
		}
	})
	t.Run("blocks reach the block log", func(t *testing.T) {
		ctx := context.Background()
		if err := a.BlockLog().Flush(ctx); err != nil {
			t.Fatal(err)
		}
		ev, err := a.BlockLog().Query(ctx, blocklog.Filter{Action: blocklog.ActionBlock})
		if err != nil {
			t.Fatal(err)
		}
		hosts := map[string]string{}
		for _, e := range ev {
			hosts[e.Host] = e.Category
		}
		// The GET and then the CONNECT to listed.test are one visit.
		count := map[string]int{}
		for _, e := range ev {
			count[e.Host] = e.Count
		}
		if len(ev) != 3 || hosts["listed.test"] != "violence" || hosts["www.pornhub.com"] != "adult" || hosts["allowed.test"] != "" ||
			count["listed.test"] != 2 || count["www.listed.test"] != 1 {
			t.Fatalf("events %+v", ev)
		}
	})
	t.Run("SetEngine swaps the rules", func(t *testing.T) {
		eng, err := defaults.Engine()
		if err != nil {
			t.Fatal(err)
		}
		a.SetEngine(eng)
		a.SetEngine(nil) // ignored
		if a.Engine() != eng {
			t.Fatal("engine not swapped")
		}
		if got := get("http://listed.test/"); got != 200 {
			t.Fatalf("after swap: %d", got)
		}
	})
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := agent.New(ctx, agent.Config{}); !errors.Is(err, agent.ErrNoDataDir) {
		t.Fatalf("no data dir: %v", err)
	}
	_, err := agent.New(ctx, agent.Config{DataDir: t.TempDir(), Lists: []agent.ListSpec{{Category: "x", Path: "/nonexistent/list.txt"}}})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing list: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bin.txt")
	_ = os.WriteFile(bin, []byte("\x00\x01\x02binary"), 0o600)
	if _, err := agent.New(ctx, agent.Config{DataDir: t.TempDir(), Lists: []agent.ListSpec{{Category: "x", Path: bin}}}); err == nil {
		t.Fatal("binary list accepted")
	}
}

func TestCorruptBlockLogMovedAside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blocklog.db"), []byte(strings.Repeat("not sqlite ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dir)
	m, _ := filepath.Glob(filepath.Join(dir, "blocklog.db.corrupt-*"))
	if len(m) != 1 {
		t.Fatalf("corrupt log not moved aside: %v", m)
	}
}

func TestTransparentListener(t *testing.T) {
	t.Parallel()
	t.Run("bad address stops Run", func(t *testing.T) {
		t.Parallel()
		a, err := agent.New(context.Background(), agent.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Transparent: "256.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "transparent") {
			t.Fatalf("Run: %v", err)
		}
	})
	t.Run("a direct connection is refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ready := make(chan net.Addr, 1)
		a, err := agent.New(context.Background(), agent.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Transparent: addr,
			Ready: func(a net.Addr) { ready <- a }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		<-ready
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("direct connection answered: %d %v", n, err)
		}
	})
}

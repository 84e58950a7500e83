package agent_test

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/agent/blocklog"
)

// TestBlockFlood hammers one blocked site through the real proxy from many
// connections, over HTTP and CONNECT as a browser and a script would,
// while a control set of distinct sites is blocked in the middle of it.
// The flood must cost a handful of rows, the control set must all be
// there, and the log must stay under its size limit.
func TestBlockFlood(t *testing.T) {
	t.Parallel()
	const (
		limit    = 1 << 20
		conns    = 16
		perConn  = 100 // requests per connection, half GET, half CONNECT
		controls = 40
	)
	dir := t.TempDir()
	list := filepath.Join(dir, "violence.txt")
	if err := os.WriteFile(list, []byte("listed.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ready := make(chan net.Addr, 1)
	a, err := agent.New(context.Background(), agent.Config{
		Listen:      "127.0.0.1:0",
		DataDir:     filepath.Join(dir, "state"),
		Lists:       []agent.ListSpec{{Category: "violence", Path: list}},
		LogMaxBytes: limit,
		Ready:       func(a net.Addr) { ready <- a },
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
	var addr string
	select {
	case ad := <-ready:
		addr = ad.String()
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
	proxyURL := &url.URL{Scheme: "http", Host: addr}

	var blocked atomic.Int64
	get := func(c *http.Client, u string) error {
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			return fmt.Errorf("GET %s: %s, want 403", u, resp.Status)
		}
		return nil
	}
	connect := func(host string) error {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n", host, host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusForbidden {
			return fmt.Errorf("CONNECT %s: %s, want 403", host, resp.Status)
		}
		return nil
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, conns+1)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			<-start
			for i := range perConn {
				var err error
				if i%2 == 0 {
					err = connect("www.pornhub.com") // the browser tries HTTPS,
				} else {
					err = get(c, "http://www.pornhub.com/") // then HTTP
				}
				if err != nil {
					errs <- err
					return
				}
				blocked.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() { // the control set, in the middle of the flood
		defer wg.Done()
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
		defer c.CloseIdleConnections()
		<-start
		time.Sleep(20 * time.Millisecond)
		for i := range controls {
			if err := get(c, fmt.Sprintf("http://c%d.listed.test/", i)); err != nil {
				errs <- err
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	bl := a.BlockLog()
	if err := bl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := bl.Stats()
	total := blocked.Load()
	flood, err := bl.Query(context.Background(), blocklog.Filter{HostContains: "www.pornhub.com", Limit: blocklog.MaxQueryLimit})
	if err != nil {
		t.Fatal(err)
	}
	var attempts int64
	for _, ev := range flood {
		attempts += int64(ev.Count)
	}
	// The flood lasts seconds, well inside one collapse window: one row,
	// two if it straddled the window of a block before it.
	if len(flood) < 1 || len(flood) > 2 {
		t.Errorf("%d rows for the flooded site, want 1 or 2", len(flood))
	}
	// Every blocked request is counted, or counted as dropped.
	if attempts > total || attempts+int64(st.Dropped) < total {
		t.Errorf("%d attempts on disk, %d dropped, %d blocked", attempts, st.Dropped, total)
	}
	for i := range controls {
		h := fmt.Sprintf("c%d.listed.test", i)
		evs, err := bl.Query(context.Background(), blocklog.Filter{HostContains: h})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Host != h || evs[0].Count != 1 || evs[0].Category != "violence" {
			t.Errorf("control %s: %+v", h, evs)
		}
	}
	rows, err := bl.CountSince(context.Background(), time.Now().Add(-time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	if rows > controls+len(flood)+2 { // + the agent's own admin events
		t.Errorf("%d rows after %d blocks", rows, total+controls)
	}
	db := filepath.Join(dir, "state", "blocklog.db")
	var size int64
	for _, p := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			size += fi.Size()
		}
	}
	if size > limit {
		t.Errorf("block log is %d bytes, limit %d", size, limit)
	}
	t.Logf("%d blocks -> %d rows (%d attempts on the flooded site), %d bytes on disk, %d dropped", total+controls, rows, attempts, size, st.Dropped)
}

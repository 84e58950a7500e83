//go:build !windows

package service_test

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
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/service"
	"github.com/greengate/greengate/agent/settings"
)

// runningAgent is service.RunAgent on temp dirs, as the service runs it:
// the real agent and proxy, settings file and watcher, admin socket and
// block log. The agent's dialer goes to dialTo (nothing is dialled when
// it is ""), so nothing leaves the machine.
type runningAgent struct {
	etc    string // the settings directory
	sock   string // the admin socket
	ready  chan net.Addr
	done   chan error
	cancel context.CancelFunc
}

// startAgent writes doc as the settings and starts RunAgent; listen
// overrides the settings' address unless "". Stopping is left to the
// test's cleanup unless the test cancels itself.
func startAgent(t *testing.T, doc, listen, dialTo string) *runningAgent {
	t.Helper()
	dir := t.TempDir()
	a := &runningAgent{etc: filepath.Join(dir, "etc"), sock: filepath.Join(dir, "run", "admin.sock"),
		ready: make(chan net.Addr, 4), done: make(chan error, 1)}
	os.MkdirAll(a.etc, 0o755)
	if err := os.WriteFile(filepath.Join(a.etc, settings.SettingsFile), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() {
		a.done <- service.RunAgent(ctx, service.AgentConfig{
			Settings: settings.Config{Dir: a.etc, StateDir: filepath.Join(dir, "state"), Hash: settings.HashParams{Time: 1, Memory: 64, Threads: 1}},
			DataDir:  filepath.Join(dir, "data"),
			Socket:   a.sock,
			Listen:   listen,
			Version:  "test",
			Ready:    func(addr net.Addr) { a.ready <- addr },
			Agent: func(c *agent.Config) {
				c.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
					if dialTo == "" {
						return nil, errors.New("nothing is dialled in this test")
					}
					var d net.Dialer
					return d.DialContext(ctx, network, dialTo)
				}
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Error("RunAgent did not stop within 10s")
		}
	})
	return a
}

// wait returns the address the proxy is next ready on.
func (a *runningAgent) wait(t *testing.T) net.Addr {
	t.Helper()
	select {
	case addr := <-a.ready:
		return addr
	case err := <-a.done:
		a.done <- err // for the cleanup
		t.Fatalf("RunAgent ended early: %v", err)
	case <-time.After(time.Minute): // the default lists take seconds to build under -race
		t.Fatal("proxy not ready in a minute")
	}
	return nil
}

// TestRunAgentWiresSettingsGrantsAndAdmin runs what the service runs, on
// temp dirs: the real agent and proxy, settings file, watcher, admin
// socket and block log. Origins are a local test server (the agent's
// dialer is pointed at it), so nothing leaves the machine.
func TestRunAgentWiresSettingsGrantsAndAdmin(t *testing.T) {
	t.Parallel()
	doc := `{"profiles":[{"name":"child","block":["adult"],"deny":["games.example"],"safe_search":true}]}`
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "origin says hi to "+r.Host)
	}))
	defer origin.Close()
	a := startAgent(t, doc, "127.0.0.1:0", origin.Listener.Addr().String())
	etc, sock, ctx := a.etc, a.sock, context.Background()
	proxyAddr := a.wait(t)
	pu, _ := url.Parse("http://" + proxyAddr.String())
	browser := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	get := func(host string) int {
		t.Helper()
		resp, err := browser.Get("http://" + host + "/")
		if err != nil {
			t.Fatalf("GET %s: %v", host, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("games.example"); c != http.StatusForbidden {
		t.Fatalf("settings deny: HTTP %d", c)
	}
	if c := get("homework.example"); c != http.StatusOK {
		t.Fatalf("allowed site: HTTP %d", c)
	}

	c := client.New(client.Config{Socket: sock})
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil || !st.Running || st.ProxyAddr != proxyAddr.String() || st.Version != "test" || st.RuleCounts["adult"] == 0 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	// Over the API only an administrator sets the first password; as
	// anyone else, the installer's way: the store, with the agent running.
	if os.Geteuid() == 0 {
		err = c.SetPassword(ctx, "", "parent-pass")
	} else {
		var st *settings.Store
		if st, err = settings.Open(settings.Config{Dir: etc, StateDir: etc}); err == nil {
			err = st.SetPassword("", "parent-pass")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// A grant through the admin API reaches the engine at once.
	if _, err := c.Grant(ctx, "parent-pass", "games.example", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	if c := get("games.example"); c != http.StatusOK {
		t.Fatalf("after the grant: HTTP %d", c)
	}
	// An edit of the file by hand reaches the engine through the watcher.
	doc2 := `{"profiles":[{"name":"child","block":["adult"],"deny":["homework.example"],"safe_search":true}]}`
	if err := settings.WriteFileAtomic(filepath.Join(etc, settings.SettingsFile), []byte(doc2), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for get("homework.example") != http.StatusForbidden {
		if time.Now().After(deadline) {
			t.Fatal("edited settings not in force after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken edit keeps the running settings and shows in the status.
	os.WriteFile(filepath.Join(etc, settings.SettingsFile), []byte(`{"profiles":[{"name":"child","block":[],"deny":["a b"]}]}`), 0o600)
	for {
		st, _ = c.Status(ctx)
		if st.SettingsError != "" {
			break
		}
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("bad edit not reported in the status")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := get("homework.example"); c != http.StatusForbidden {
		t.Fatalf("a bad edit changed the filter: HTTP %d", c)
	}

	t0 := time.Now()
	a.cancel()
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("RunAgent = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunAgent did not stop within 10s")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("stop took %s", d)
	}
	if _, err := c.Status(context.Background()); !errors.Is(err, client.ErrAgentNotRunning) {
		t.Fatalf("Status after stop = %v", err)
	}
	a.done <- nil // stopped: nothing left for the cleanup
}

// TestRunAgentPicksTheProfileOfTheOSUser maps the user running this test
// to a profile without the deny; everyone else gets the default that has
// it. The proxy sees a loopback connection and the kernel names its owner.
func TestRunAgentPicksTheProfileOfTheOSUser(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the OS user of a connection is looked up on Linux only")
	}
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	doc := `{"profiles":[{"name":"child","block":[],"deny":["games.example"]},{"name":"teen","block":[]}],
		"default_profile":"child","users":{` + strconv.Quote(me.Username) + `:"teen"}}`
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	defer origin.Close()
	addr := startAgent(t, doc, "127.0.0.1:0", origin.Listener.Addr().String()).wait(t)
	pu, _ := url.Parse("http://" + addr.String())
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}).Get("http://games.example/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s is mapped to teen, which allows games.example; got HTTP %d (the default profile's block?)", me.Username, resp.StatusCode)
	}
}

// TestRunAgentMovesToANewListenAddress changes the proxy's address in the
// settings file, as a lab admin opening it to the LAN would: the agent
// restarts in-process on the new address, with the rest of the settings,
// and the old address stops answering.
func TestRunAgentMovesToANewListenAddress(t *testing.T) {
	t.Parallel()
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	first, second := free(), free()
	doc := func(listen string) []byte {
		return []byte(`{"profiles":[{"name":"child","block":[],"deny":["games.example"]}],"listen":` + strconv.Quote(listen) + `}`)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	defer origin.Close()
	a := startAgent(t, string(doc(first)), "", origin.Listener.Addr().String())
	etc, sock, ctx := a.etc, a.sock, context.Background()
	wait := func() string { t.Helper(); return a.wait(t).String() }
	get := func(proxy, host string) (int, error) {
		pu, _ := url.Parse("http://" + proxy)
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
		resp, err := c.Get("http://" + host + "/")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if a := wait(); a != first {
		t.Fatalf("listening on %s, settings say %s", a, first)
	}
	if code, err := get(first, "games.example"); code != http.StatusForbidden {
		t.Fatalf("before the move: %d, %v", code, err)
	}
	if err := settings.WriteFileAtomic(filepath.Join(etc, settings.SettingsFile), doc(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if a := wait(); a != second {
		t.Fatalf("moved to %s, settings say %s", a, second)
	}
	if code, err := get(second, "games.example"); code != http.StatusForbidden {
		t.Fatalf("after the move, the deny must still hold: %d, %v", code, err)
	}
	if code, err := get(second, "homework.example"); code != http.StatusOK {
		t.Fatalf("after the move: %d, %v", code, err)
	}
	if _, err := get(first, "homework.example"); err == nil {
		t.Fatal("the old address still answers")
	}
	c := client.New(client.Config{Socket: sock})
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil || st.ProxyAddr != second {
		t.Fatalf("Status = %+v, %v; want the new address", st, err)
	}
}

// TestRunAgentTellsTheTrayOfHTTPSBlocks: a browser's CONNECT to a blocked
// site gets a 403 it shows as a bare error, so the admin API's notices
// tell this user's tray which site and why; a plain-HTTP block, which has
// its block page, does not.
func TestRunAgentTellsTheTrayOfHTTPSBlocks(t *testing.T) {
	t.Parallel()
	doc := `{"profiles":[{"name":"child","block":["adult"],"deny":["games.example"]}]}`
	a := startAgent(t, doc, "127.0.0.1:0", "")
	sock, ctx := a.sock, context.Background()
	addr := a.wait(t)
	c := client.New(client.Config{Socket: sock})
	defer c.Close()
	start := time.Now()
	connect := func(authority string) int {
		conn, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", authority, authority)
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if code := connect("pornhub.com:443"); code != http.StatusForbidden {
		t.Fatalf("CONNECT to a listed site: %d", code)
	}
	pu, _ := url.Parse("http://" + addr.String())
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}).Get("http://games.example/")
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("plain HTTP block: %v %v", resp, err)
	}
	resp.Body.Close()
	ns, err := c.Notices(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Host != "pornhub.com" || ns[0].Category != "adult" || ns[0].Time.Before(start.Add(-time.Second)) {
		t.Fatalf("notices = %+v, want the one HTTPS block", ns)
	}
	if ns, err := c.Notices(ctx, ns[0].Time); err != nil || len(ns) != 0 {
		t.Fatalf("notices after the last one = %+v, %v", ns, err)
	}
}

// TestSettingsSymlinkLeaksNothing: a settings.json that is a symlink (a
// root-planted link to /etc/shadow, say) is refused without being read:
// before, its decode error ("invalid character 'S' ...") put its first
// byte in the status that any local user may ask for.
func TestSettingsSymlinkLeaksNothing(t *testing.T) {
	t.Parallel()
	doc := `{"profiles":[{"name":"child","block":["adult"]}]}`
	a := startAgent(t, doc, "127.0.0.1:0", "")
	a.wait(t)
	secret := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(secret, []byte("Shadow:$6$secret-hash:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Planted the way an editor saves: a new name renamed over the file.
	tmp := filepath.Join(a.etc, "settings.json.link")
	if err := os.Symlink(secret, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(a.etc, settings.SettingsFile)); err != nil {
		t.Fatal(err)
	}
	c := client.New(client.Config{Socket: a.sock})
	defer c.Close()
	var st client.Status
	deadline := time.Now().Add(30 * time.Second)
	for st.SettingsError == "" {
		if time.Now().After(deadline) {
			t.Fatal("the symlinked settings file was not refused within 30s")
		}
		time.Sleep(20 * time.Millisecond)
		var err error
		if st, err = c.Status(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(st.SettingsError, "'S'") || strings.Contains(st.SettingsError, "Shadow") || strings.Contains(st.SettingsError, "secret") {
		t.Fatalf("status shows the linked file's content: %q", st.SettingsError)
	}
	if !strings.Contains(st.SettingsError, "not a regular file") {
		t.Fatalf("status does not say why: %q", st.SettingsError)
	}
}

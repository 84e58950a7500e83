package service_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ks "github.com/kardianos/service"

	"github.com/greengate/greengate/agent/service"
)

func TestRunLoopInProcess(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var stopped atomic.Bool
	s, _, err := service.New(service.Config{
		Name: "greengate-test-runloop",
		Run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			stopped.Store(true)
			return nil
		},
		Options: ks.KeyValue{
			// Replaces the wait for SIGTERM: the manager "stops" us as soon
			// as the agent is seen running.
			"RunWait": func() {
				select {
				case <-started:
				case <-time.After(5 * time.Second):
					t.Error("run function not started within 5s")
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := s.Run(); err != nil {
		t.Fatal(err)
	}
	if !stopped.Load() {
		t.Fatal("Stop returned before the agent ended")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("start-serve-stop took %s", d)
	}
}

func TestStartReturnsAtOnceAndStopIsBounded(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	defer close(block)
	p := service.NewProgram(service.Config{
		Run:         func(ctx context.Context) error { <-block; return nil }, // ignores ctx
		StopTimeout: 100 * time.Millisecond,
	})
	t0 := time.Now()
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 50*time.Millisecond {
		t.Fatalf("Start took %s", d)
	}
	if err := p.Start(nil); err == nil {
		t.Fatal("second Start succeeded")
	}
	t0 = time.Now()
	err := p.Stop(nil)
	if !errors.Is(err, service.ErrStopTimeout) {
		t.Fatalf("Stop of a stuck agent = %v", err)
	}
	if d := time.Since(t0); d < 100*time.Millisecond || d > time.Second {
		t.Fatalf("Stop took %s, want about 100ms", d)
	}
}

func TestFailedRunIsRestarted(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	healthy := make(chan struct{})
	p := service.NewProgram(service.Config{
		RestartDelay: 5 * time.Millisecond,
		Run: func(ctx context.Context) error {
			switch runs.Add(1) {
			case 1:
				return errors.New("port in use")
			case 2:
				panic("nil map")
			case 3:
				return nil // returning without being stopped is a failure too
			}
			close(healthy)
			<-ctx.Done()
			return nil
		},
	})
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-healthy:
	case <-time.After(5 * time.Second):
		t.Fatalf("not healthy after %d runs", runs.Load())
	}
	if err := p.LastError(); err == nil || !strings.Contains(err.Error(), "returned without being stopped") {
		t.Fatalf("LastError = %v", err)
	}
	if err := p.Stop(nil); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 4 {
		t.Fatalf("%d runs, want 4", n)
	}
}

// systemd returns the linux-systemd System even though it is not PID 1
// here (ChooseSystem would skip it).
func systemd(t *testing.T) ks.System {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("systemd unit rendering is Linux only")
	}
	for _, s := range ks.AvailableSystems() {
		if s.String() == "linux-systemd" {
			return s
		}
	}
	t.Fatal("kardianos has no linux-systemd system")
	return nil
}

// fakeSystemctl puts a systemctl first on PATH that records its arguments
// and answers is-active and list-unit-files like a stopped, installed unit.
func fakeSystemctl(t *testing.T) (logPath string) {
	t.Helper()
	bin := t.TempDir()
	logPath = filepath.Join(bin, "calls")
	script := `#!/bin/sh
echo "$@" >> "` + logPath + `"
case "$1" in
is-active) echo inactive; exit 3;;
list-unit-files) echo "greengate.service enabled enabled";;
--version) echo "systemd 252 (252.39-1~deb12u1)";;
esac
exit 0
`
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logPath
}

func TestSystemdUnitMatchesThePackagedOne(t *testing.T) {
	sys := systemd(t)
	calls := fakeSystemctl(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	m, err := service.NewManager(service.Config{
		System:     sys,
		Executable: service.DefaultExecutable,
		Options:    ks.KeyValue{"UserService": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Platform() != "linux-systemd" {
		t.Fatalf("platform %q", m.Platform())
	}
	if err := m.Install(); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(home, ".config/systemd/user/greengate.service"))
	if err != nil {
		t.Fatal(err)
	}
	packaged, err := os.ReadFile("../../installer/greengate.service")
	if err != nil {
		t.Fatal(err)
	}
	if string(unit) != string(packaged) {
		t.Fatalf("the unit kardianos installs differs from installer/greengate.service:\n--- installed\n%s\n--- packaged\n%s", unit, packaged)
	}
	for _, want := range []string{
		`ExecStart=/usr/bin/greengate "service" "run"`,
		"Restart=on-failure", "RestartSec=5", "WantedBy=multi-user.target",
	} {
		if !strings.Contains(string(unit), want+"\n") {
			t.Errorf("unit lacks %q", want)
		}
	}
	st, err := m.Status()
	if err != nil || st != service.StateStopped {
		t.Fatalf("Status = %q, %v", st, err)
	}
	if err := m.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, ".config/systemd/user/greengate.service")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("unit left after uninstall")
	}
	b, _ := os.ReadFile(calls)
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, want := range []string{
		"enable --user greengate.service", "daemon-reload --user",
		"is-active greengate.service --user", "disable --user greengate.service",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("systemctl never called with %q; calls: %q", want, got)
		}
	}
}

func TestRemoveSysvLinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mk := func(dir, name, target string) string {
		d := filepath.Join(root, "etc", dir)
		os.MkdirAll(d, 0o755)
		p := filepath.Join(d, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var ours []string
	for _, n := range []string{"2", "3", "4", "5"} {
		ours = append(ours, mk("rc"+n+".d", "S50greengate", "/etc/init.d/greengate"))
	}
	for _, n := range []string{"0", "1", "6"} {
		ours = append(ours, mk("rc"+n+".d", "K02greengate", "/etc/init.d/greengate"))
	}
	other := mk("rc2.d", "S50greengate-tray", "/etc/init.d/greengate-tray")
	foreign := mk("rc3.d", "S01greengate", "/etc/init.d/somethingelse")
	removed := service.RemoveSysvLinks(root, "greengate")
	slices.Sort(removed)
	slices.Sort(ours)
	if !slices.Equal(removed, ours) {
		t.Fatalf("removed %q\nwant %q", removed, ours)
	}
	for _, keep := range []string{other, foreign} {
		if _, err := os.Lstat(keep); err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
}

// TestSystemdAcceptsTheUnit has systemd itself parse the packaged unit
// (systemd-analyze works without systemd running); any warning, such as
// an unknown key or a key in the wrong section, fails.
func TestSystemdAcceptsTheUnit(t *testing.T) {
	t.Parallel()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	unit, err := os.ReadFile("../../installer/greengate.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify insists the ExecStart binary exists; any executable will do.
	text := strings.ReplaceAll(string(unit), service.DefaultExecutable, "/bin/sh")
	p := filepath.Join(t.TempDir(), "greengate.service")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", p).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestLaunchdPlistMatchesTheService checks installer/macos/greengate.plist,
// which the macOS package installs, against the service definition
// kardianos's launchd backend renders from: same label (so `greengate
// service stop|status` find it), program, arguments, and restart keys.
func TestLaunchdPlistMatchesTheService(t *testing.T) {
	b, err := os.ReadFile("../../installer/macos/greengate.plist")
	if err != nil {
		t.Fatal(err)
	}
	got := plistDict(t, b)
	kc := service.KardianosConfig(service.Config{Executable: "/usr/local/bin/greengate"})
	want := map[string]any{
		"Label":            kc.Name,
		"ProgramArguments": append([]string{kc.Executable}, kc.Arguments...),
		"RunAtLoad":        kc.Option["RunAtLoad"],
		"KeepAlive":        kc.Option["KeepAlive"],
		"Disabled":         false,
		"SessionCreate":    false,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s: kardianos would not write it", k)
		}
	}
}

// plistDict reads a plist's top dict of strings, booleans and string
// arrays, the only values a launchd service plist of ours has.
func plistDict(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	var p struct {
		Dict struct {
			Items []struct {
				XMLName xml.Name
				Text    string   `xml:",chardata"`
				Strings []string `xml:"string"`
			} `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(doc, &p); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	items := p.Dict.Items
	for i := 0; i+1 < len(items); i += 2 {
		if items[i].XMLName.Local != "key" {
			t.Fatalf("item %d is <%s>, want <key>", i, items[i].XMLName.Local)
		}
		k, v := items[i].Text, items[i+1]
		switch v.XMLName.Local {
		case "true", "false":
			out[k] = v.XMLName.Local == "true"
		case "string":
			out[k] = v.Text
		case "array":
			out[k] = v.Strings
		default:
			t.Fatalf("%s: value <%s> not understood", k, v.XMLName.Local)
		}
	}
	if len(items)%2 != 0 {
		t.Fatal("a key without a value")
	}
	return out
}

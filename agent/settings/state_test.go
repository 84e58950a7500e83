package settings_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/internal/testclock"
)

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)) }

func TestLimiterGrowingDelays(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := settings.NewLimiter(settings.LimiterConfig{Free: 2, Base: time.Second, Max: 8 * time.Second, Clock: clk.Now})
	const child = "uid:1000"
	want := []time.Duration{0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := l.Wait(child); got != 0 {
			t.Fatalf("try %d: must wait %s before trying", i+1, got)
		}
		if got := l.Fail(child); got != w {
			t.Fatalf("failure %d: wait %s, want %s", i+1, got, w)
		}
		if w > 0 {
			if got := l.Wait(child); got != w {
				t.Fatalf("after failure %d: Wait = %s, want %s", i+1, got, w)
			}
			clk.Add(w - time.Millisecond)
			if l.Wait(child) == 0 {
				t.Fatalf("after failure %d: free to try before the delay ended", i+1)
			}
			clk.Add(time.Millisecond)
		}
	}
	// Another caller is not slowed down by the child's guesses.
	if got := l.Wait("uid:0"); got != 0 {
		t.Fatalf("another caller waits %s", got)
	}
	// Success forgets the failures.
	l.Succeed(child)
	if got := l.Fail(child); got != 0 {
		t.Fatalf("first failure after success waits %s", got)
	}
	// An hour of quiet forgets too.
	l.Fail(child)
	clk.Add(2 * time.Hour)
	if got := l.Fail(child); got != 0 {
		t.Fatalf("failure after an hour of quiet waits %s", got)
	}
}

func TestLimiterBoundedKeys(t *testing.T) {
	t.Parallel()
	clk := newClock()
	l := settings.NewLimiter(settings.LimiterConfig{Free: -1, MaxKeys: 3, Clock: clk.Now})
	l.Fail("victim")
	for _, k := range []string{"a", "b", "c"} {
		clk.Add(time.Millisecond)
		l.Fail(k)
	}
	// The stalest caller was forgotten to make room; the newest are kept.
	if l.Wait("victim") != 0 || l.Wait("c") == 0 {
		t.Fatalf("eviction kept the wrong callers: victim %s, c %s", l.Wait("victim"), l.Wait("c"))
	}
}

func TestOverridesSurviveRestartAndExpire(t *testing.T) {
	t.Parallel()
	clk := newClock()
	path := filepath.Join(t.TempDir(), settings.OverridesFile)
	o, err := settings.OpenOverrides(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	g, err := o.Grant("Scratch.MIT.edu.", "child", time.Hour)
	if err != nil || g.Host != "scratch.mit.edu" || !g.Until.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("Grant = %+v, %v", g, err)
	}
	if _, err := o.Pause(30 * time.Minute); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("overrides file %v, %v", fi, err)
	}
	// "Restart": a new Overrides from the same file.
	o2, err := settings.OpenOverrides(path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if paused, until := o2.Paused(); !paused || !until.Equal(clk.Now().Add(30*time.Minute)) {
		t.Fatalf("pause lost on restart: %v %v", paused, until)
	}
	if n := len(o2.Policy()); n != 2 {
		t.Fatalf("%d policy grants after restart, want 2", n)
	}
	if got := o2.NextExpiry(); !got.Equal(clk.Now().Add(30 * time.Minute)) {
		t.Fatalf("NextExpiry = %v", got)
	}
	clk.Add(31 * time.Minute)
	if paused, _ := o2.Paused(); paused {
		t.Fatal("pause did not end by itself")
	}
	if a := o2.Active(); len(a) != 1 || a[0].Host != "scratch.mit.edu" {
		t.Fatalf("Active = %+v", a)
	}
	clk.Add(30 * time.Minute)
	if a := o2.Active(); len(a) != 0 {
		t.Fatalf("grant did not expire: %+v", a)
	}
	// Expired grants are not resurrected by a restart either.
	o3, err := settings.OpenOverrides(path, clk.Now)
	if err != nil || len(o3.Active()) != 0 {
		t.Fatalf("after expiry and restart: %+v, %v", o3.Active(), err)
	}
}

func TestOverridesRefuse(t *testing.T) {
	t.Parallel()
	clk := newClock()
	o, err := settings.OpenOverrides(filepath.Join(t.TempDir(), "o.json"), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    func() error
	}{
		{"bad host", func() error { _, err := o.Grant("a b", "", time.Hour); return err }},
		{"forever", func() error { _, err := o.Grant("a.example", "", 30*24*time.Hour); return err }},
		{"zero", func() error { _, err := o.Grant("a.example", "", 0); return err }},
		{"bad profile", func() error { _, err := o.Grant("a.example", "../x", time.Hour); return err }},
		{"long pause", func() error { _, err := o.Pause(48 * time.Hour); return err }},
	}
	for _, tt := range tests {
		if err := tt.f(); !errors.Is(err, settings.ErrBadGrant) {
			t.Errorf("%s: err = %v, want ErrBadGrant", tt.name, err)
		}
	}
	if len(o.Active()) != 0 {
		t.Fatal("a refused grant was stored")
	}
	if _, err := o.Pause(time.Hour); err != nil {
		t.Fatal(err)
	}
	if ok, err := o.Resume(); !ok || err != nil {
		t.Fatalf("Resume = %v, %v", ok, err)
	}
	if paused, _ := o.Paused(); paused {
		t.Fatal("still paused after Resume")
	}
}

func TestCorruptOverridesFailClosed(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.json")
	os.WriteFile(path, []byte(`[{"until":"not a time"}`), 0o600)
	o, err := settings.OpenOverrides(path, nil)
	if err == nil {
		t.Fatal("corrupt overrides accepted")
	}
	if o == nil || len(o.Active()) != 0 {
		t.Fatal("corrupt overrides must give an empty, usable set")
	}
}

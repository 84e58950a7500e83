package update_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// TestVectors replays every shared vector as an attacker on the network
// would: the origin first serves a good baseline, then the vector. A
// refused vector must leave the baseline installed, in memory and on disk.
func TestVectors(t *testing.T) {
	t.Parallel()
	vendor := vendorSigner(t)
	for _, v := range loadVectors(t) {
		t.Run(v.File+"/"+strings.Join(v.Roots, "+"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := newOrigin(t)
			u := newUpdater(t, dir, nil, vendorSource(t, o, v.Roots...))
			baseline := vendor.sign(t, max(v.Installed, 1), "adult", "baseline.example")
			o.set("/vendor.bundle", baseline)
			if err := check(t, u); err != nil {
				t.Fatalf("baseline: %v", err)
			}
			data := vectorBytes(t, v.File)
			o.set("/vendor.bundle", data)
			err := check(t, u)
			st := u.Status()[0]
			if v.Error == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				if st.Version != v.Version || !bytes.Equal(onDisk(dir, "greengate-test.bundle"), data) {
					t.Errorf("installed version %d, disk matches %v; want %d", st.Version, bytes.Equal(onDisk(dir, "greengate-test.bundle"), data), v.Version)
				}
				if !bytes.Equal(onDisk(dir, "greengate-test.bundle.prev"), baseline) {
					t.Error("baseline not kept as .prev")
				}
				return
			}
			want := sentinels[v.Error]
			if !errors.Is(err, want) || !errors.Is(st.LastError, want) {
				t.Fatalf("got %v (status %v), want %v", err, st.LastError, want)
			}
			if st.Version != max(v.Installed, 1) || !bytes.Equal(onDisk(dir, "greengate-test.bundle"), baseline) {
				t.Errorf("refused vector changed the installed bundle: version %d", st.Version)
			}
			if got := u.Bundles(); len(got) != 1 || got[0].Version != max(v.Installed, 1) {
				t.Errorf("Bundles() = %v", got)
			}
			if st.Failures != 1 || !st.LastSuccess.Equal(vectorNow) || !st.LastCheck.Equal(vectorNow) {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// TestNetworkFailures covers what a broken or hostile server does: none of
// it may change the installed bundle, and each failure is typed.
func TestNetworkFailures(t *testing.T) {
	t.Parallel()
	vendor := vendorSigner(t)
	school := newSigner(t, "root.key", "school")
	tests := []struct {
		name string
		mode string
		next func(t *testing.T) []byte // what the origin serves after the baseline
		want error
	}{
		{"server error", "500", nil, update.ErrHTTPStatus},
		{"not found", "", func(*testing.T) []byte { return nil }, update.ErrHTTPStatus},
		{"hanging server hits the deadline", "hang", nil, context.DeadlineExceeded},
		{"trickling body hits the deadline", "trickle", nil, context.DeadlineExceeded},
		{"truncated download, length declared", "truncate", func(t *testing.T) []byte { return vendor.sign(t, 2, "adult", "x.example") }, io.ErrUnexpectedEOF},
		{"truncated download, no length", "chunked-half", func(t *testing.T) []byte { return vendor.sign(t, 2, "adult", "x.example") }, bundle.ErrMalformed},
		{"declared length over the cap", "huge-length", nil, bundle.ErrTooLarge},
		{"endless body over the cap", "huge-chunked", nil, bundle.ErrTooLarge},
		{"another publisher's bundle under the same root", "", func(t *testing.T) []byte { return school.sign(t, 99, "adult", "x.example") }, update.ErrWrongPublisher},
		{"replay of the installed version", "no-etag", func(t *testing.T) []byte { return vendor.sign(t, 1, "adult", "other.example") }, bundle.ErrRollback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := newOrigin(t)
			u := newUpdater(t, dir, func(c *update.Config) {
				c.Timeout = time.Second // long enough for the baseline on a loaded machine
				c.MaxSize = 1 << 20
				c.MinBackoff = time.Minute
			}, vendorSource(t, o))
			baseline := vendor.sign(t, 1, "adult", "baseline.example")
			o.set("/vendor.bundle", baseline)
			if err := check(t, u); err != nil {
				t.Fatal(err)
			}
			if tt.next != nil {
				o.set("/vendor.bundle", tt.next(t))
			}
			o.setMode(tt.mode)
			err := check(t, u)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			st := u.Status()[0]
			if !errors.Is(st.LastError, tt.want) || st.Version != 1 || st.Failures != 1 {
				t.Errorf("status %+v", st)
			}
			if !bytes.Equal(onDisk(dir, "greengate-test.bundle"), baseline) {
				t.Error("installed file changed")
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

// TestRunBacksOffThenRecovers runs the real poll loop against a server
// that fails, then heals.
func TestRunBacksOffThenRecovers(t *testing.T) {
	t.Parallel()
	vendor := vendorSigner(t)
	o := newOrigin(t)
	o.set("/vendor.bundle", vendor.sign(t, 3, "adult", "run.example"))
	o.setMode("500")
	var changes atomic.Int32
	u := newUpdater(t, t.TempDir(), func(c *update.Config) {
		c.MinBackoff = 20 * time.Millisecond
		c.MaxBackoff = 40 * time.Millisecond
		c.Interval = time.Hour
		c.OnChange = func(bs []*bundle.Bundle) {
			if len(bs) == 1 && bs[0].Version == 3 {
				changes.Add(1)
			}
		}
	}, vendorSource(t, o))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- u.Run(ctx) }()

	waitFor(t, "three failed checks", func() bool { return u.Status()[0].Failures >= 3 })
	st := u.Status()[0]
	if !errors.Is(st.LastError, update.ErrHTTPStatus) || st.NextCheck.Sub(st.LastCheck) > 40*time.Millisecond {
		t.Errorf("after failures: %+v", st)
	}
	o.setMode("")
	// The status settles in steps (installed, then success recorded, then
	// the next check scheduled); wait for the last one.
	waitFor(t, "install after recovery", func() bool {
		st := u.Status()[0]
		return st.Version == 3 && st.NextCheck.Sub(st.LastCheck) == time.Hour
	})
	st = u.Status()[0]
	if st.Failures != 0 || st.LastError != nil {
		t.Errorf("after recovery: %+v", st)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	if changes.Load() != 1 {
		t.Errorf("OnChange with the new bundle called %d times", changes.Load())
	}
}

// waitFor polls cond until it holds, for up to a minute: an engine build
// compiles half a million built-in entries, seconds under -race on a busy
// machine. It returns as soon as cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNotModified(t *testing.T) {
	t.Parallel()
	vendor := vendorSigner(t)
	o := newOrigin(t)
	data := vendor.sign(t, 4, "adult", "etag.example")
	o.set("/vendor.bundle", data)
	var changes atomic.Int32
	u := newUpdater(t, t.TempDir(), func(c *update.Config) {
		c.OnChange = func([]*bundle.Bundle) { changes.Add(1) }
	}, vendorSource(t, o))
	for i := 0; i < 3; i++ {
		if err := check(t, u); err != nil {
			t.Fatal(err)
		}
	}
	hits, full, inm := o.stats()
	if hits != 3 || full != 1 || len(inm) != 2 || inm[0] != etagOf(data) {
		t.Errorf("hits %d, 200s %d, If-None-Match %q", hits, full, inm)
	}
	if changes.Load() != 1 || installedVersion(u, 0) != 4 {
		t.Errorf("OnChange %d times, version %d", changes.Load(), installedVersion(u, 0))
	}
	// Without ETags the same file comes back whole: a no-op, not a replay.
	o.setMode("no-etag")
	if err := check(t, u); err != nil {
		t.Errorf("re-served identical bundle: %v", err)
	}
}

func TestWriteFailure(t *testing.T) {
	t.Parallel()
	vendor := vendorSigner(t)
	dir := t.TempDir()
	o := newOrigin(t)
	u := newUpdater(t, dir, nil, vendorSource(t, o))
	baseline := vendor.sign(t, 1, "adult", "baseline.example")
	o.set("/vendor.bundle", baseline)
	if err := check(t, u); err != nil {
		t.Fatal(err)
	}
	readOnly(t, dir)
	o.set("/vendor.bundle", vendor.sign(t, 2, "adult", "new.example"))
	err := check(t, u)
	if !errors.Is(err, update.ErrStore) {
		t.Fatalf("got %v, want ErrStore", err)
	}
	if installedVersion(u, 0) != 1 || !bytes.Equal(onDisk(dir, "greengate-test.bundle"), baseline) {
		t.Error("failed write changed what is installed")
	}
}

// readOnly makes dir unwritable, for root too (chattr +i) when run as root.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return
	}
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		t.Skip("running as root without chattr: cannot make a directory read-only")
	}
	if out, err := exec.Command(chattr, "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command(chattr, "-i", dir).Run() })
}

// TestLoadAfterCrash puts the bundle directory in every state a crash or a
// tamperer can leave and checks Load picks the right file.
func TestLoadAfterCrash(t *testing.T) {
	t.Parallel()
	vendor := vendorSigner(t)
	school := newSigner(t, "root.key", "school")
	v1 := vendor.sign(t, 1, "adult", "one.example")
	v2 := vendor.sign(t, 2, "adult", "two.example")
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[len(c)-100] ^= 0x10; return c }
	tests := []struct {
		name        string
		cur, prev   []byte
		temp        bool
		wantVersion uint64
		wantFile    string
		wantErr     error
	}{
		{"clean", v2, v1, false, 2, "greengate-test.bundle", nil},
		{"leftover temp file", v2, v1, true, 2, "greengate-test.bundle", nil},
		{"tampered current falls back to prev", flip(v2), v1, true, 1, "greengate-test.bundle.prev", bundle.ErrBadSignature},
		{"truncated current falls back to prev", v2[:len(v2)/2], v1, false, 1, "greengate-test.bundle.prev", bundle.ErrMalformed},
		{"crash between the renames", nil, v1, true, 1, "greengate-test.bundle.prev", nil},
		{"another publisher's file renamed into place", school.sign(t, 9, "adult", "x.example"), v1, false, 1, "greengate-test.bundle.prev", update.ErrWrongPublisher},
		{"both bad: embedded defaults", flip(v2), v1[:100], false, 0, "", bundle.ErrBadSignature},
		{"empty directory", nil, nil, false, 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write := func(name string, b []byte) {
				if b != nil {
					if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			write("greengate-test.bundle", tt.cur)
			write("greengate-test.bundle.prev", tt.prev)
			if tt.temp {
				write(".greengate-test.bundle.tmp-123", v2[:300])
			}
			o := newOrigin(t)
			u := newUpdater(t, dir, nil, vendorSource(t, o))
			bs := u.Load()
			st := u.Status()[0]
			if st.Version != tt.wantVersion || st.File != tt.wantFile || (tt.wantVersion == 0) != (len(bs) == 0) {
				t.Errorf("loaded version %d from %q (%d bundles), want %d from %q", st.Version, st.File, len(bs), tt.wantVersion, tt.wantFile)
			}
			if (tt.wantErr == nil) != (st.LastError == nil) || tt.wantErr != nil && !errors.Is(st.LastError, tt.wantErr) {
				t.Errorf("LastError %v, want %v", st.LastError, tt.wantErr)
			}
			if tmp := onDisk(dir, ".greengate-test.bundle.tmp-123"); tmp != nil {
				t.Error("leftover temporary file not removed")
			}
			// The next good download must not push the good .prev out in
			// favour of a corrupt current file.
			v3 := vendor.sign(t, 3, "adult", "three.example")
			o.set("/vendor.bundle", v3)
			if err := check(t, u); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk(dir, "greengate-test.bundle"), v3) {
				t.Error("v3 not installed")
			}
			wantPrev := tt.prev
			if tt.wantFile == "greengate-test.bundle" {
				wantPrev = tt.cur
			}
			if !bytes.Equal(onDisk(dir, "greengate-test.bundle.prev"), wantPrev) {
				t.Error(".prev is not the last good bundle")
			}
		})
	}
}

// TestLayering trusts two publishers under different roots: both bundles
// install, neither replaces the other, and an Engine built from defaults
// plus both blocks what each lists.
func TestLayering(t *testing.T) {
	t.Parallel()
	school := newSigner(t, "root2.key", "school")
	dir := t.TempDir()
	o := newOrigin(t)
	o.set("/vendor.bundle", vectorBytes(t, "good.bundle"))
	o.set("/school.bundle", school.sign(t, 7, "gambling", "school-blocks.example"))
	var got []*bundle.Bundle
	u := newUpdater(t, dir, func(c *update.Config) {
		c.OnChange = func(bs []*bundle.Bundle) { got = bs }
	}, vendorSource(t, o), update.Source{URL: o.URL + "/school.bundle", Publisher: "school", Roots: roots(t, "root2.pub")})
	if err := check(t, u); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Publisher != "greengate-test" || got[1].Publisher != "school" {
		t.Fatalf("OnChange got %v", got)
	}

	// The school's server (or root) tries to pass off a vendor bundle.
	forged := newSigner(t, "root2.key", "greengate-test").sign(t, 99, "adult")
	o.set("/school.bundle", forged)
	if err := check(t, u); !errors.Is(err, update.ErrWrongPublisher) {
		t.Fatalf("school source delivering a vendor bundle: %v", err)
	}
	if st := u.Status(); st[0].Version != 10 || st[1].Version != 7 {
		t.Fatalf("versions %d, %d", st[0].Version, st[1].Version)
	}

	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		t.Fatal(err)
	}
	if n := update.Assemble(&b, u.Bundles()); n != 0 {
		t.Errorf("%d entries rejected", n)
	}
	cats, safe := b.Build()
	eng, err := policy.New(policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{defaults.Profile()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host, category, source string
		action                 policy.Action
	}{
		{"adult.example.com", "adult", "greengate-test/custom/adult", policy.Block},
		{"www.casino.example.net", "gambling", "greengate-test/ut1/gambling/domains", policy.Block},
		{"school-blocks.example", "gambling", "school/test", policy.Block},
		{"pornhub.com", "adult", "", policy.Block}, // defaults and vendor both list it
		{"begambleaware.org", "", "", policy.Allow},
		{"example.org", "", "", policy.Allow},
	} {
		v := eng.Decide(policy.Request{Host: tt.host, Time: vectorNow})
		if v.Action != tt.action || v.Category != tt.category || tt.source != "" && !strings.HasPrefix(v.Source, tt.source) {
			t.Errorf("%s: %v %q from %q, want %v %q from %q", tt.host, v.Action, v.Category, v.Source, tt.action, tt.category, tt.source)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	r := roots(t, "root.pub")
	tests := []struct {
		name string
		cfg  update.Config
	}{
		{"no dir", update.Config{Sources: []update.Source{{URL: "http://x/b", Publisher: "p", Roots: r}}}},
		{"path in publisher", update.Config{Dir: "d", Sources: []update.Source{{URL: "http://x/b", Publisher: "../etc", Roots: r}}}},
		{"no roots", update.Config{Dir: "d", Sources: []update.Source{{URL: "http://x/b", Publisher: "p"}}}},
		{"ftp", update.Config{Dir: "d", Sources: []update.Source{{URL: "ftp://x/b", Publisher: "p", Roots: r}}}},
		{"publisher twice", update.Config{Dir: "d", Sources: []update.Source{{URL: "http://x/a", Publisher: "p", Roots: r}, {URL: "http://x/b", Publisher: "p", Roots: r}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := update.New(tt.cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestInstallSideLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	u := newUpdater(t, dir, nil,
		update.Source{Publisher: "greengate-test", Roots: roots(t, "root.pub")},
		update.Source{Publisher: "school", Roots: roots(t, "root2.pub")})
	u.Load()
	if _, err := u.Install(vectorBytes(t, "bad-signature.bundle")); !errors.Is(err, bundle.ErrBadSignature) {
		t.Errorf("bad signature: %v", err)
	}
	if _, err := u.Install(newSigner(t, "root.key", "stranger").sign(t, 1, "adult")); !errors.Is(err, update.ErrNoSource) {
		t.Errorf("unknown publisher: %v", err)
	}
	b, err := u.Install(vectorBytes(t, "good.bundle"))
	if err != nil || b.Version != 10 {
		t.Fatalf("good: %v", err)
	}
	if _, err := u.Install(vectorBytes(t, "rollback-v2.bundle")); !errors.Is(err, bundle.ErrRollback) {
		t.Errorf("older: %v", err)
	}
	// A second Updater on the same directory, as after a restart.
	u2 := newUpdater(t, dir, nil, update.Source{Publisher: "greengate-test", Roots: roots(t, "root.pub")})
	if bs := u2.Load(); len(bs) != 1 || bs[0].Version != 10 {
		t.Errorf("after restart: %v", bs)
	}
}

// TestExpiryWhileInstalled: a bundle that expires while installed stays
// in force (fail-safe: dropping it would filter with older rules) and
// Status says it expired; no OnChange, since the set did not change.
func TestExpiryWhileInstalled(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	o.set("/vendor.bundle", vendorSigner(t).sign(t, 1, "adult", "a.example")) // expires 2026-06-01
	var now atomic.Int64
	now.Store(vectorNow.Unix())
	var last []*bundle.Bundle
	calls := 0
	u := newUpdater(t, t.TempDir(), func(c *update.Config) {
		c.Clock = func() time.Time { return time.Unix(now.Load(), 0).UTC() }
		c.OnChange = func(bs []*bundle.Bundle) { last, calls = bs, calls+1 }
	}, vendorSource(t, o))
	if err := check(t, u); err != nil || calls != 1 || len(last) != 1 {
		t.Fatalf("install: %v, %d calls, %d bundles", err, calls, len(last))
	}
	if st := u.Status()[0]; st.Expired {
		t.Errorf("expired before its time: %+v", st)
	}
	expiry := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	now.Store(expiry.Unix())
	if err := check(t, u); err != nil {
		t.Fatalf("unchanged bundle on the server: %v", err)
	}
	if calls != 1 || len(u.Bundles()) != 1 {
		t.Errorf("after expiry: %d calls, %d bundles in force; want it kept", calls, len(u.Bundles()))
	}
	if st := u.Status()[0]; st.Version != 1 || !st.Expired || !st.Expires.Equal(expiry) {
		t.Errorf("after expiry: %+v", st)
	}
}

// TestNoPasswordInErrors: a source URL with credentials (a school's
// protected mirror) never shows them in errors, logs or Status.
func TestNoPasswordInErrors(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	o.setMode("500")
	src := vendorSource(t, o)
	src.URL = strings.Replace(src.URL, "http://", "http://school:hunter2@", 1)
	u := newUpdater(t, t.TempDir(), nil, src)
	err := check(t, u)
	st := u.Status()[0]
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(st.URL, "hunter2") || strings.Contains(st.LastError.Error(), "hunter2") {
		t.Errorf("password shown: %v / %s / %v", err, st.URL, st.LastError)
	}
}

func TestFailedCheck(t *testing.T) {
	t.Parallel()
	o := newOrigin(t)
	dir := t.TempDir()
	u := newUpdater(t, dir, nil, vendorSource(t, o))
	_, verr := u.Install(vectorBytes(t, "expired.bundle"))
	o.setMode("500")
	herr := check(t, u)
	o.Close() // nothing listens any more
	nerr := check(t, u)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"expired", verr, "expiry"},
		{"HTTP 500", herr, "download"},
		{"connection refused", nerr, "download"},
		{"replay", bundle.ErrRollback, "version newer than installed"},
		{"something else", errors.New("disk on fire"), "reading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := update.FailedCheck(tt.err); got != tt.want {
				t.Errorf("FailedCheck(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

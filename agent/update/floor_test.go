package update_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/internal/lockedbuf"
	"github.com/greengate/greengate/internal/privfile"
	"github.com/greengate/greengate/rules/bundle"
)

// signUntil signs a bundle of version v created 2026-02-01 that expires
// at expires, blocking domain in "adult".
func (s signer) signUntil(t testing.TB, v uint64, expires time.Time, domain string) []byte {
	t.Helper()
	b := &bundle.Bundle{
		Version:   v,
		Created:   time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Expires:   expires,
		Publisher: s.cert.Publisher,
		Categories: []bundle.Category{{
			ID:    "adult",
			Name:  bundle.Text{EN: "adult", ZH: "adult"},
			Lists: []bundle.List{{Source: "test", Domains: []string{domain}}},
		}},
	}
	b.Normalize()
	data, err := bundle.Sign(b, s.key, s.cert)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// domains lists what the bundles block, in order.
func domains(bs []*bundle.Bundle) []string {
	var out []string
	for _, b := range bs {
		for _, c := range b.Categories {
			for _, l := range c.Lists {
				out = append(out, l.Domains...)
			}
		}
	}
	return out
}

// TestNoRollbackAfterExpiry is the attack of issue 12: the newest bundle
// (v5) expires; a restart used to refuse it, fall back to the older .prev
// (v3) and then take v4 from the server, older rules than the agent had
// enforced. Now v5 stays in force, expired and said so, and the persisted
// floor refuses v4, also after a restart whose current file is corrupt.
func TestNoRollbackAfterExpiry(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(vectorNow.Unix())
	clk := func() time.Time { return time.Unix(now.Load(), 0).UTC() }
	june := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	sg := vendorSigner(t)
	v3 := sg.signUntil(t, 3, dec, "v3.example")
	v4 := sg.signUntil(t, 4, dec, "v4.example")
	v5 := sg.signUntil(t, 5, june, "v5.example")

	o := newOrigin(t)
	dir := t.TempDir()
	var logs lockedbuf.Buffer
	mk := func() *update.Updater {
		return newUpdater(t, dir, func(c *update.Config) {
			c.Clock = clk
			c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		}, vendorSource(t, o))
	}
	u := mk()
	u.Load()
	o.set("/vendor.bundle", v3)
	if err := check(t, u); err != nil {
		t.Fatal(err)
	}
	o.set("/vendor.bundle", v5)
	if err := check(t, u); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(onDisk(dir, "greengate-test.floor"))); got != "5" {
		t.Errorf("floor on disk %q, want 5", got)
	}

	// v5 expires while the agent runs: it keeps filtering and says so.
	now.Store(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).Unix())
	st := u.Status()[0]
	if st.Version != 5 || !st.Expired || !st.Expires.Equal(june) || st.Floor != 5 {
		t.Errorf("running, after expiry: %+v; want v5 expired since %v, floor 5", st, june)
	}
	if got := domains(u.Bundles()); len(got) != 1 || got[0] != "v5.example" {
		t.Errorf("running, after expiry, in force: %v; want v5's rules", got)
	}
	if n := strings.Count(logs.String(), "bundle expired"); n != 1 {
		t.Errorf("expiry logged %d times, want once:\n%s", n, logs.String())
	}
	u.Status()
	if n := strings.Count(logs.String(), "bundle expired"); n != 1 {
		t.Errorf("expiry logged %d times after a second look, want once", n)
	}

	// Restart: v5 is still the one in force, not .prev's v3.
	u = mk()
	if got := domains(u.Load()); len(got) != 1 || got[0] != "v5.example" {
		t.Errorf("after restart, in force: %v; want v5's rules", got)
	}
	if st := u.Status()[0]; st.Version != 5 || !st.Expired || st.File != "greengate-test.bundle" || st.LastError != nil {
		t.Errorf("after restart: %+v", st)
	}
	if !strings.Contains(logs.String(), "expired_since=2026-06-01") {
		t.Errorf("the log does not say since when:\n%s", logs.String())
	}
	// The server offers v4: newer than .prev, older than what was enforced.
	o.set("/vendor.bundle", v4)
	if err := check(t, u); !errors.Is(err, bundle.ErrRollback) {
		t.Errorf("v4 after restart: %v, want ErrRollback", err)
	}
	if st := u.Status()[0]; st.Version != 5 {
		t.Errorf("after offering v4: version %d in force", st.Version)
	}

	// A restart that finds the current file corrupt falls back to .prev
	// (v3), but the floor stays 5: v4 is still refused.
	cur := filepath.Join(dir, "greengate-test.bundle")
	b := onDisk(dir, "greengate-test.bundle")
	b[len(b)-1] ^= 1
	if err := os.WriteFile(cur, b, 0o600); err != nil {
		t.Fatal(err)
	}
	u = mk()
	if got := domains(u.Load()); len(got) != 1 || got[0] != "v3.example" {
		t.Errorf("corrupt current, in force: %v; want .prev's v3", got)
	}
	if err := check(t, u); !errors.Is(err, bundle.ErrRollback) {
		t.Errorf("v4 after falling back to .prev: %v, want ErrRollback", err)
	}
	if st := u.Status()[0]; st.Floor != 5 || st.Version != 3 {
		t.Errorf("after falling back: %+v; want v3 in force, floor 5", st)
	}
	// And a genuinely newer bundle is still welcome.
	o.set("/vendor.bundle", sg.signUntil(t, 6, dec, "v6.example"))
	if err := check(t, u); err != nil {
		t.Fatalf("v6: %v", err)
	}
	if got := strings.TrimSpace(string(onDisk(dir, "greengate-test.floor"))); got != "6" {
		t.Fatalf("floor on disk %q, want 6", got)
	}
}

// TestFloorRaisedFromDisk: bundles installed before the floor file
// existed (an upgrade) set it at the first Load; a floor file that cannot
// be read fails closed to the version on disk, not to 0.
func TestFloorRaisedFromDisk(t *testing.T) {
	t.Parallel()
	sg := vendorSigner(t)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, floor string
	}{
		{"no floor file", ""},
		{"garbage floor file", "seven\n"},
		{"lower floor file", "2\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "greengate-test.bundle"), sg.signUntil(t, 7, dec, "v7.example"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.floor != "" {
				if err := os.WriteFile(filepath.Join(dir, "greengate-test.floor"), []byte(tt.floor), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			o := newOrigin(t)
			o.set("/vendor.bundle", sg.signUntil(t, 7, dec, "other.example")) // same version, other content
			u := newUpdater(t, dir, nil, vendorSource(t, o))
			u.Load()
			if st := u.Status()[0]; st.Floor != 7 {
				t.Errorf("floor %d, want 7", st.Floor)
			}
			if err := check(t, u); !errors.Is(err, bundle.ErrRollback) {
				t.Errorf("same version again: %v, want ErrRollback", err)
			}
			if got := strings.TrimSpace(string(onDisk(dir, "greengate-test.floor"))); got != "7" {
				t.Errorf("floor on disk %q, want 7", got)
			}
		})
	}
}

// TestSymlinkedFilesRefused: Load reads no bundle or floor through a
// symlink (internal/privfile): a link in the bundle directory is not the
// agent's file, even when it points at a validly signed bundle.
func TestSymlinkedFilesRefused(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	target := filepath.Join(elsewhere, "x.bundle")
	if err := os.WriteFile(target, vectorBytes(t, "good.bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "greengate-test.bundle")); err != nil {
		t.Fatal(err)
	}
	u := newUpdater(t, dir, nil, update.Source{Publisher: "greengate-test", Roots: roots(t, "root.pub")})
	if bs := u.Load(); len(bs) != 0 {
		t.Fatalf("loaded %d bundles through a symlink", len(bs))
	}
	if err := u.Status()[0].LastError; !errors.Is(err, privfile.ErrNotRegular) {
		t.Fatalf("LastError = %v, want ErrNotRegular", err)
	}
}

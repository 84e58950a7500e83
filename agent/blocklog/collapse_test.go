package blocklog_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
)

// block is a block of host by the adult list for the child profile on
// client 127.0.0.1, as the proxy records it: url "" for a refused CONNECT.
func block(at time.Time, host, url string) blocklog.Event {
	reason := "category"
	if url == "" {
		reason = "connect: category"
	}
	return blocklog.Event{Time: at, Profile: "child", Client: "127.0.0.1", Host: host, URL: url,
		Category: "adult", Entry: "adult.example", Source: "vendor", Action: blocklog.ActionBlock, Reason: reason}
}

func TestCollapse(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{})
	rec := func(evs ...blocklog.Event) {
		t.Helper()
		for _, ev := range evs {
			if !l.Record(ev) {
				t.Fatalf("Record(%s) refused", ev.Host)
			}
		}
	}
	h := "www.adult.example"
	// One visit: HTTPS refused, then the browser falls back to HTTP, then
	// retries, across two commits (the second updates the row).
	rec(block(t0, h, ""), block(t0.Add(time.Second), h, "http://www.adult.example/"))
	flush(t, l)
	rec(block(t0.Add(2*time.Second), h, "http://www.adult.example/again"))
	// A second visit: a window after the first began.
	rec(block(t0.Add(blocklog.DefaultCollapseWindow), h, ""))
	// Anything that says who or what differently is its own row.
	other := func(f func(*blocklog.Event)) blocklog.Event {
		ev := block(t0.Add(3*time.Second), h, "")
		f(&ev)
		return ev
	}
	rec(other(func(e *blocklog.Event) { e.Host = "b.adult.example" }),
		other(func(e *blocklog.Event) { e.Client = "10.0.0.2" }),
		other(func(e *blocklog.Event) { e.Profile = "teen" }),
		other(func(e *blocklog.Event) { e.Category = "porn" }),
		other(func(e *blocklog.Event) { e.Entry = "www.adult.example" }),
		other(func(e *blocklog.Event) { e.Source = "custom" }))
	// Actions other than block never collapse: each admin action counts.
	admin := blocklog.Event{Time: t0.Add(4 * time.Second), Client: "parent", Action: blocklog.ActionAdmin, Reason: "wrong parent password"}
	rec(admin, admin)
	flush(t, l)

	st := l.Stats()
	if st.Written != 12 || st.Collapsed != 2 || st.Queued != 0 {
		t.Errorf("Stats = %+v, want 12 written, 2 collapsed", st)
	}
	got, err := l.Query(ctxT(t), blocklog.Filter{HostContains: h, Profile: "child"})
	if err != nil {
		t.Fatal(err)
	}
	var visits []blocklog.Event
	for _, ev := range got {
		if ev.Client == "127.0.0.1" && ev.Category == "adult" && ev.Entry == "adult.example" && ev.Source == "vendor" {
			visits = append(visits, ev)
		}
	}
	if len(visits) != 2 {
		t.Fatalf("%d visits to %s, want 2: %+v", len(visits), h, visits)
	}
	first, second := visits[1], visits[0] // newest first
	if first.Count != 3 || !first.Time.Equal(t0) || !first.Last.Equal(t0.Add(2*time.Second)) ||
		first.URL != "http://www.adult.example/" || first.Reason != "connect: category" {
		t.Errorf("first visit = %+v, want count 3 from t0 to t0+2s with the first HTTP URL", first)
	}
	if second.Count != 1 || !second.Last.Equal(second.Time) {
		t.Errorf("second visit = %+v, want one attempt", second)
	}
	all, err := l.Query(ctxT(t), blocklog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Errorf("%d rows, want 10 (2 visits, 6 distinct, 2 admin)", len(all))
	}
	if n, err := l.CountSince(ctxT(t), t0, blocklog.ActionBlock); err != nil || n != 8 {
		t.Errorf("CountSince = %d, %v; want 8 visits", n, err)
	}
	if n, err := l.AttemptsSince(ctxT(t), t0, blocklog.ActionBlock); err != nil || n != 10 {
		t.Errorf("AttemptsSince = %d, %v; want 10 attempts", n, err)
	}
}

// A flood of distinct hosts cannot grow the table of open visits: past
// MaxOpenVisits the oldest is closed, and its next block starts a new row.
func TestCollapseTableIsBounded(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{MaxOpenVisits: 8})
	rec := func(ev blocklog.Event) {
		t.Helper()
		if !l.Record(ev) {
			t.Fatal("Record refused")
		}
	}
	rec(block(t0, "first.example", ""))
	for i := range 8 {
		rec(block(t0.Add(time.Millisecond), fmt.Sprintf("h%d.example", i), ""))
	}
	rec(block(t0.Add(time.Second), "first.example", "")) // closed: a new row
	rec(block(t0.Add(time.Second), "h7.example", ""))    // still open: collapses
	flush(t, l)
	got, err := l.Query(ctxT(t), blocklog.Filter{HostContains: "first.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Count != 1 || got[1].Count != 1 {
		t.Errorf("first.example rows = %+v, want 2 of one attempt", got)
	}
	got, err = l.Query(ctxT(t), blocklog.Filter{HostContains: "h7.example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Count != 2 {
		t.Errorf("h7.example rows = %+v, want 1 of 2 attempts", got)
	}
}

// Collapsing under concurrent Records loses no attempt: the counts add up
// to what was accepted.
func TestCollapseCountsEveryAttempt(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{FlushInterval: time.Millisecond})
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if l.Record(block(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("h%d.example", g%2), "")) {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	flush(t, l)
	n, err := l.AttemptsSince(ctxT(t), t0, blocklog.ActionBlock)
	if err != nil {
		t.Fatal(err)
	}
	if int64(n) != accepted.Load() || uint64(n) != l.Stats().Written {
		t.Errorf("attempts on disk %d, accepted %d, written %d", n, accepted.Load(), l.Stats().Written)
	}
	// 2 hosts for 2 s of event time: a row per host per window, give or
	// take the out-of-order edges.
	if v, err := l.CountSince(ctxT(t), t0, blocklog.ActionBlock); err != nil || v < 2 || v > 4 {
		t.Errorf("visits = %d, %v; want 2 to 4", v, err)
	}
}

// v1 is the schema before collapsing, as released: a database written by
// it must open, keep its rows and take the new ones.
const v1Schema = `CREATE TABLE events (
			id       INTEGER PRIMARY KEY,
			ts       INTEGER NOT NULL,
			profile  TEXT NOT NULL,
			client   TEXT NOT NULL,
			host     TEXT NOT NULL,
			url      TEXT NOT NULL,
			category TEXT NOT NULL,
			entry    TEXT NOT NULL,
			source   TEXT NOT NULL,
			action   TEXT NOT NULL,
			reason   TEXT NOT NULL
		) STRICT;
		CREATE INDEX events_ts ON events(ts);
		CREATE INDEX events_action_ts ON events(action, ts);
		CREATE INDEX events_category_ts ON events(category, ts);
		CREATE INDEX events_profile_ts ON events(profile, ts);
		PRAGMA user_version = 1;`

// writeV1 creates a v1 database at path with rows events, one second
// apart from t0, each with a 200-byte reason, the way v1 wrote them
// (WAL, no auto_vacuum).
func writeV1(t *testing.T, path string, rows int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(v1Schema); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	pad := fmt.Sprintf("%0200d", 0)
	for i := range rows {
		if _, err := tx.Exec(`INSERT INTO events (ts, profile, client, host, url, category, entry, source, action, reason)
			VALUES (?, 'child', '127.0.0.1', ?, '', 'adult', 'adult.example', 'vendor', 'block', ?)`,
			t0.Add(time.Duration(i)*time.Second).UnixNano(), fmt.Sprintf("old%d.example", i), pad); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
}

func pragma(t *testing.T, path, name string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int64
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrateFromV1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blocklog.db")
	writeV1(t, path, 100)
	if v := pragma(t, path, "auto_vacuum"); v != 0 {
		t.Fatalf("v1 fixture auto_vacuum = %d, want 0 (none)", v)
	}
	l := open(t, blocklog.Config{Path: path, MaxAge: -1})
	l.Record(block(t0.Add(time.Hour), "new.example", ""))
	l.Record(block(t0.Add(time.Hour+time.Second), "new.example", "http://new.example/"))
	flush(t, l)
	got, err := l.Query(ctxT(t), blocklog.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 101 {
		t.Fatalf("%d rows after migration, want 100 old + 1 new", len(got))
	}
	if got[0].Host != "new.example" || got[0].Count != 2 {
		t.Errorf("new row = %+v, want new.example with 2 attempts", got[0])
	}
	for _, ev := range got[1:] {
		if ev.Count != 1 || !ev.Last.Equal(ev.Time) {
			t.Fatalf("old row = %+v, want one attempt with Last == Time", ev)
		}
	}
	if got[100].Host != "old0.example" || !got[100].Time.Equal(t0) {
		t.Errorf("oldest row = %+v", got[100])
	}
	if err := l.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if v := pragma(t, path, "user_version"); v != int64(blocklog.SchemaVersion()) {
		t.Errorf("user_version = %d, want %d", v, blocklog.SchemaVersion())
	}
	if v := pragma(t, path, "auto_vacuum"); v != 2 {
		t.Errorf("auto_vacuum after open = %d, want 2 (incremental)", v)
	}
}

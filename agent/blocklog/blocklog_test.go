package blocklog_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // zone tests must not depend on the host's tz database

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/internal/testclock"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens a log in a fresh temp dir unless cfg.Path is set, and closes
// it at cleanup.
func open(t testing.TB, cfg blocklog.Config) *blocklog.Log {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "blocklog.db")
	}
	l, err := blocklog.Open(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func flush(t testing.TB, l *blocklog.Log) {
	t.Helper()
	if err := l.Flush(ctxT(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func hosts(evs []blocklog.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Host
	}
	return out
}

var t0 = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func TestRecordFlushQuery(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{})
	evs := []blocklog.Event{
		{Time: t0.Add(1 * time.Minute), Profile: "child", Client: "127.0.0.1:5000", Host: "a.adult.example", Category: "adult", Entry: "adult.example", Source: "vendor", Action: blocklog.ActionBlock, Reason: "category adult"},
		{Time: t0.Add(2 * time.Minute), Profile: "child", Client: "127.0.0.1:5001", Host: "bet.example", URL: "http://bet.example/x?y=1", Category: "gambling", Entry: "bet.example", Source: "vendor", Action: blocklog.ActionBlock},
		{Time: t0.Add(3 * time.Minute), Profile: "teen", Client: "alice", Host: "b.adult.example", Category: "adult", Action: blocklog.ActionBlock},
		{Time: t0.Add(4 * time.Minute), Profile: "teen", Client: "alice", Host: "bet.example", Category: "gambling", Action: blocklog.ActionRequest, Reason: "homework"},
		{Time: t0.Add(5 * time.Minute), Profile: "child", Client: "parent", Host: "bet.example", Category: "gambling", Action: blocklog.ActionGrant, Reason: "1h"},
		{Time: t0.Add(6 * time.Minute), Profile: "", Client: "parent", Action: blocklog.ActionPause, Reason: "30m"},
	}
	for _, ev := range evs {
		if !l.Record(ev) {
			t.Fatalf("Record(%s) refused", ev.Host)
		}
	}
	flush(t, l)
	if st := l.Stats(); st.Written != uint64(len(evs)) || st.Queued != 0 || st.Dropped != 0 {
		t.Fatalf("Stats = %+v, want %d written", st, len(evs))
	}

	t.Run("round trip", func(t *testing.T) {
		got, err := l.Query(ctxT(t), blocklog.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(evs) {
			t.Fatalf("got %d events, want %d", len(got), len(evs))
		}
		for i, g := range got {
			want := evs[len(evs)-1-i]            // newest first
			want.Count, want.Last = 1, want.Time // no repeats: one attempt each
			if !g.Time.Equal(want.Time) {
				t.Errorf("event %d time %v, want %v", i, g.Time, want.Time)
			}
			g.Time, g.Last = want.Time, want.Time
			if g != want {
				t.Errorf("event %d = %+v, want %+v", i, g, want)
			}
		}
	})

	tests := []struct {
		name string
		f    blocklog.Filter
		want []string
	}{
		{"from inclusive", blocklog.Filter{From: t0.Add(5 * time.Minute)}, []string{"", "bet.example"}},
		{"to exclusive", blocklog.Filter{To: t0.Add(2 * time.Minute)}, []string{"a.adult.example"}},
		{"from to", blocklog.Filter{From: t0.Add(2 * time.Minute), To: t0.Add(4 * time.Minute)}, []string{"b.adult.example", "bet.example"}},
		{"category", blocklog.Filter{Category: "adult"}, []string{"b.adult.example", "a.adult.example"}},
		{"action", blocklog.Filter{Action: blocklog.ActionRequest}, []string{"bet.example"}},
		{"profile", blocklog.Filter{Profile: "teen"}, []string{"bet.example", "b.adult.example"}},
		{"host contains", blocklog.Filter{HostContains: "adult"}, []string{"b.adult.example", "a.adult.example"}},
		{"host contains upper case", blocklog.Filter{HostContains: "ADULT"}, []string{"b.adult.example", "a.adult.example"}},
		{"combined", blocklog.Filter{Category: "gambling", Action: blocklog.ActionBlock, Profile: "child"}, []string{"bet.example"}},
		{"limit", blocklog.Filter{Limit: 2}, []string{"", "bet.example"}},
		{"limit offset", blocklog.Filter{Limit: 2, Offset: 2}, []string{"bet.example", "b.adult.example"}},
		{"offset past end", blocklog.Filter{Offset: 10}, []string{}},
		{"no match", blocklog.Filter{Category: "violence"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := l.Query(ctxT(t), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if h := hosts(got); !slices.Equal(h, tc.want) {
				t.Errorf("hosts = %q, want %q", h, tc.want)
			}
		})
	}

	t.Run("count since", func(t *testing.T) {
		for _, tc := range []struct {
			since  time.Time
			action blocklog.Action
			want   int
		}{
			{t0, blocklog.ActionBlock, 3},
			{t0.Add(2 * time.Minute), blocklog.ActionBlock, 2},
			{t0.Add(2 * time.Minute), "", 5},
			{t0.Add(time.Hour), "", 0},
		} {
			n, err := l.CountSince(ctxT(t), tc.since, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("CountSince(%v, %q) = %d, want %d", tc.since, tc.action, n, tc.want)
			}
		}
	})
}

func TestInvalidFilter(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{})
	tests := []struct {
		name string
		f    blocklog.Filter
	}{
		{"negative limit", blocklog.Filter{Limit: -1}},
		{"negative offset", blocklog.Filter{Offset: -5}},
		{"to before from", blocklog.Filter{From: t0, To: t0.Add(-time.Second)}},
		{"year 9999", blocklog.Filter{From: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := l.Query(ctxT(t), tc.f); !errors.Is(err, blocklog.ErrInvalidFilter) {
				t.Errorf("Query err = %v, want ErrInvalidFilter", err)
			}
			if err := l.ExportCSV(ctxT(t), tc.f, &bytes.Buffer{}); !errors.Is(err, blocklog.ErrInvalidFilter) {
				t.Errorf("ExportCSV err = %v, want ErrInvalidFilter", err)
			}
		})
	}
	if _, err := l.CountsByDayCategory(ctxT(t), t0, t0, time.UTC); !errors.Is(err, blocklog.ErrInvalidFilter) {
		t.Errorf("empty day range err = %v, want ErrInvalidFilter", err)
	}
	if _, err := l.CountsByDayCategory(ctxT(t), time.Time{}, t0, time.UTC); !errors.Is(err, blocklog.ErrInvalidFilter) {
		t.Errorf("zero from err = %v, want ErrInvalidFilter", err)
	}
}

// A host substring typed into the tray must match literally: LIKE's own
// wildcards and escape character, and SQL quoting, are just characters.
func TestHostContainsIsLiteral(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{})
	stored := []string{
		"a%b.example", "axb.example", "a_b.example", "a\\b.example", "ab.example",
		"o'hara.example", `quote".example`, "100%.example", "__.example", "x.example",
	}
	for i, h := range stored {
		l.Record(blocklog.Event{Time: t0.Add(time.Duration(i) * time.Second), Host: h, Action: blocklog.ActionBlock})
	}
	flush(t, l)
	needles := []string{"%", "_", "\\", "a%b", "a_b", "a\\b", "%%", "__", "\\%", "\\_", "'", `"`, "' OR '1'='1", "%.example", "_.example", ".EXAMPLE", "x"}
	for _, n := range needles {
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			got, err := l.Query(ctxT(t), blocklog.Filter{HostContains: n, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := len(stored) - 1; i >= 0; i-- {
				if strings.Contains(stored[i], strings.ToLower(n)) {
					want = append(want, stored[i])
				}
			}
			if h := hosts(got); !slices.Equal(h, want) && !(len(h) == 0 && len(want) == 0) {
				t.Errorf("HostContains %q = %q, want %q", n, h, want)
			}
		})
	}
}

// Hostnames come from the network: NULs, invalid UTF-8, huge values and
// SQL are stored as bounded data and read back without harm.
func TestHostileFields(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{})
	huge := strings.Repeat("a", 100_000)
	tests := []struct {
		name, host, want string
	}{
		{"sql", "x'); DROP TABLE events; --", "x'); DROP TABLE events; --"},
		{"nul", "evil\x00.example", "evil\uFFFD.example"},
		{"invalid utf8", "bad\xff\xfe.example", "bad\uFFFD.example"},
		{"huge", huge, huge[:1024]},
		{"multibyte cut", strings.Repeat("a", 1023) + "é", strings.Repeat("a", 1023)},
	}
	for i, tc := range tests {
		l.Record(blocklog.Event{Time: t0.Add(time.Duration(i) * time.Second), Host: tc.host, Reason: tc.name, URL: huge + huge, Action: blocklog.ActionBlock})
	}
	flush(t, l)
	got, err := l.Query(ctxT(t), blocklog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byReason := map[string]blocklog.Event{}
	for _, ev := range got {
		byReason[ev.Reason] = ev
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := byReason[tc.name]
			if !ok {
				t.Fatalf("event %q missing", tc.name)
			}
			if ev.Host != tc.want {
				t.Errorf("host = %.40q (len %d), want %.40q (len %d)", ev.Host, len(ev.Host), tc.want, len(tc.want))
			}
			if len(ev.URL) != 4096 {
				t.Errorf("url len = %d, want capped at 4096", len(ev.URL))
			}
		})
	}
	// The needle is cleaned like the stored host, so a NUL cannot cut the
	// pattern short and match everything.
	got, err = l.Query(ctxT(t), blocklog.Filter{HostContains: "evil\x00"})
	if err != nil {
		t.Fatal(err)
	}
	if h := hosts(got); !slices.Equal(h, []string{"evil\uFFFD.example"}) {
		t.Errorf("HostContains with NUL = %q", h)
	}
}

// blockWriter takes the database write lock from another connection, as a
// backup tool or a stuck reader might, until release is called.
func blockWriter(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctxT(t), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
				t.Error(err)
			}
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

func TestQueueFullDropsAndRecordNeverBlocks(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blocklog.db")
	l := open(t, blocklog.Config{Path: path, QueueSize: 2, BatchSize: 1, FlushInterval: 5 * time.Millisecond, BusyTimeout: 20 * time.Millisecond})
	flush(t, l) // the writer is past its start-up retention
	release := blockWriter(t, path)

	const n = 500
	accepted := make(chan int)
	go func() {
		a := 0
		for i := range n {
			if l.Record(blocklog.Event{Host: fmt.Sprintf("h%d.example", i), Action: blocklog.ActionBlock}) {
				a++
			}
		}
		accepted <- a
	}()
	var a int
	select {
	case a = <-accepted:
	case <-time.After(20 * time.Second): // liveness guard, not a speed target
		t.Fatal("Record blocked while the writer was held up")
	}
	// At most the queue plus the one batch the writer holds.
	if a > 3 {
		t.Errorf("accepted %d events with queue 2 and batch 1 while the writer is held", a)
	}
	st := l.Stats()
	if st.Dropped != uint64(n-a) {
		t.Errorf("Dropped = %d, want %d", st.Dropped, n-a)
	}
	if st.Queued != a || st.Written != 0 {
		t.Errorf("Stats = %+v, want %d queued, 0 written", st, a)
	}
	// The writer reports that it is being held up.
	for deadline := time.Now().Add(10 * time.Second); l.Stats().LastError == nil; {
		if time.Now().After(deadline) {
			t.Fatal("writer never reported the locked database")
		}
		time.Sleep(5 * time.Millisecond)
	}

	release()
	flush(t, l)
	st = l.Stats()
	if st.Written != uint64(a) || st.Queued != 0 {
		t.Errorf("after release Stats = %+v, want %d written", st, a)
	}
	got, err := l.Query(ctxT(t), blocklog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != a {
		t.Errorf("stored %d events, want %d", len(got), a)
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	old := []time.Duration{-72 * time.Hour, -49 * time.Hour, -48 * time.Hour}
	var recent []time.Duration
	for i := range 8 {
		recent = append(recent, -time.Duration(8-i)*time.Minute)
	}
	tests := []struct {
		name    string
		maxAge  time.Duration
		maxRows int
		want    int // events left, all the newest
	}{
		{"by age", 24 * time.Hour, -1, 8},
		{"by rows", -1, 5, 5},
		{"both", 24 * time.Hour, 5, 5},
		{"rows keeps old when few", -1, 100, 11},
		{"disabled", -1, -1, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(t0)
			l := open(t, blocklog.Config{Clock: clk.Now, MaxAge: tc.maxAge, MaxRows: tc.maxRows, RetentionInterval: time.Hour})
			var all []string
			for i, d := range append(slices.Clone(old), recent...) {
				h := fmt.Sprintf("e%02d.example", i)
				all = append(all, h)
				l.Record(blocklog.Event{Time: t0.Add(d), Host: h, Action: blocklog.ActionBlock})
			}
			flush(t, l)
			got, _ := l.Query(ctxT(t), blocklog.Filter{})
			if len(got) != 11 {
				t.Fatalf("retention ran before its interval: %d events left", len(got))
			}
			clk.Add(time.Hour)
			flush(t, l)
			got, err := l.Query(ctxT(t), blocklog.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(all[len(all)-tc.want:])
			slices.Reverse(want)
			if h := hosts(got); !slices.Equal(h, want) {
				t.Errorf("left %q, want %q", h, want)
			}
			if st := l.Stats(); st.Pruned != uint64(11-tc.want) || st.LastError != nil {
				t.Errorf("Stats = %+v, want %d pruned", st, 11-tc.want)
			}
		})
	}
}

func TestRetentionAtOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blocklog.db")
	l := open(t, blocklog.Config{Path: path})
	for i := range 10 {
		l.Record(blocklog.Event{Time: t0.Add(time.Duration(i) * time.Second), Host: fmt.Sprintf("e%d", i)})
	}
	if err := l.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	l = open(t, blocklog.Config{Path: path, MaxRows: 3, MaxAge: -1})
	flush(t, l)
	got, err := l.Query(ctxT(t), blocklog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if h := hosts(got); !slices.Equal(h, []string{"e9", "e8", "e7"}) {
		t.Errorf("after reopen with MaxRows 3: %q", h)
	}
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCountsByDayCategory(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	shanghai := mustLoad(t, "Asia/Shanghai")
	u := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	l := open(t, blocklog.Config{})
	for _, e := range []struct{ ts, cat string }{
		// Berlin spring forward 2024-03-31 02:00 CET -> 03:00 CEST: a 23h day.
		{"2024-03-30T22:30:00Z", "adult"},    // Berlin 23:30 Mar 30
		{"2024-03-30T23:30:00Z", "adult"},    // Berlin 00:30 Mar 31; Shanghai 07:30 Mar 31
		{"2024-03-31T21:30:00Z", "gambling"}, // Berlin 23:30 Mar 31
		{"2024-03-31T22:30:00Z", "adult"},    // Berlin 00:30 Apr 1 (a fixed +1 would say Mar 31)
		// Berlin fall back 2024-10-27 03:00 CEST -> 02:00 CET: a 25h day.
		{"2024-10-27T00:30:00Z", "adult"}, // Berlin 02:30 CEST
		{"2024-10-27T01:30:00Z", "adult"}, // Berlin 02:30 CET, the repeated hour
		{"2024-10-27T22:30:00Z", "adult"}, // Berlin 23:30 CET Oct 27 (a fixed +2 would say Oct 28)
		{"2024-10-27T15:59:59Z", "drugs"}, // Shanghai 23:59:59 Oct 27
		{"2024-10-27T16:00:00Z", "drugs"}, // Shanghai 00:00 Oct 28
	} {
		l.Record(blocklog.Event{Time: u(e.ts), Category: e.cat, Host: e.ts, Action: blocklog.ActionBlock})
		// A child's request and a parent's grant on the same site are
		// not blocks and must not swell the chart.
		l.Record(blocklog.Event{Time: u(e.ts), Category: e.cat, Host: e.ts, Action: blocklog.ActionRequest})
		l.Record(blocklog.Event{Time: u(e.ts), Category: e.cat, Host: e.ts, Action: blocklog.ActionGrant})
	}
	flush(t, l)
	tests := []struct {
		name     string
		from, to time.Time
		loc      *time.Location
		want     []blocklog.DayCount
	}{
		{"berlin spring", u("2024-03-30T00:00:00Z"), u("2024-04-02T00:00:00Z"), berlin, []blocklog.DayCount{
			{"2024-03-30", "adult", 1}, {"2024-03-31", "adult", 1}, {"2024-03-31", "gambling", 1}, {"2024-04-01", "adult", 1},
		}},
		{"berlin autumn", u("2024-10-26T00:00:00Z"), u("2024-10-29T00:00:00Z"), berlin, []blocklog.DayCount{
			{"2024-10-27", "adult", 3}, {"2024-10-27", "drugs", 2},
		}},
		{"shanghai", u("2024-03-30T00:00:00Z"), u("2024-10-29T00:00:00Z"), shanghai, []blocklog.DayCount{
			{"2024-03-31", "adult", 2}, {"2024-04-01", "adult", 1}, {"2024-04-01", "gambling", 1}, // 21:30Z is 05:30 Apr 1
			{"2024-10-27", "adult", 2}, {"2024-10-27", "drugs", 1}, {"2024-10-28", "adult", 1}, {"2024-10-28", "drugs", 1},
		}},
		{"clipped to range", u("2024-03-30T23:00:00Z"), u("2024-03-31T22:00:00Z"), berlin, []blocklog.DayCount{
			{"2024-03-31", "adult", 1}, {"2024-03-31", "gambling", 1},
		}},
		{"utc", u("2024-10-27T00:00:00Z"), u("2024-10-28T00:00:00Z"), time.UTC, []blocklog.DayCount{
			{"2024-10-27", "adult", 3}, {"2024-10-27", "drugs", 2},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := l.CountsByDayCategory(ctxT(t), tc.from, tc.to, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// The SQL day counts agree with Go's own reading of the wall clock for
// zones with odd rules: DST at midnight (Santiago), half-hour DST (Lord
// Howe), a skipped day (Apia, 2011-12-30), quarter-hour offsets (Kathmandu).
func TestCountsByDayCategoryMatchesReference(t *testing.T) {
	t.Parallel()
	// Collapse off: the events a nanosecond apart are the point here, and
	// would otherwise be one visit.
	l := open(t, blocklog.Config{BatchSize: 1024, CollapseWindow: -1})
	from := time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	zones := []string{"Europe/Berlin", "Asia/Shanghai", "America/Santiago", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kathmandu", "America/St_Johns"}
	var times []time.Time
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1500 {
		times = append(times, from.Add(time.Duration(rng.Int64N(int64(to.Sub(from))))))
	}
	// Every zone change and local midnight, with a nanosecond either side.
	for _, z := range zones {
		loc := mustLoad(t, z)
		for tm := from; tm.Before(to); {
			_, end := tm.In(loc).ZoneBounds()
			if end.IsZero() || !end.Before(to) {
				break
			}
			times = append(times, end.Add(-time.Nanosecond), end, end.Add(time.Nanosecond))
			tm = end
		}
	}
	cats := []string{"adult", "gambling"}
	for i, tm := range times {
		if !l.Record(blocklog.Event{Time: tm, Category: cats[i%2], Action: blocklog.ActionBlock}) {
			t.Fatal("queue full")
		}
		if i%1000 == 999 {
			flush(t, l)
		}
	}
	flush(t, l)
	for _, z := range zones {
		t.Run(z, func(t *testing.T) {
			t.Parallel()
			loc := mustLoad(t, z)
			lo, hi := from.Add(1234*time.Hour), to.Add(-4321*time.Hour)
			want := map[blocklog.DayCount]int{}
			for i, tm := range times {
				if tm.Before(lo) || !tm.Before(hi) {
					continue
				}
				want[blocklog.DayCount{Day: tm.In(loc).Format("2006-01-02"), Category: cats[i%2]}]++
			}
			got, err := l.CountsByDayCategory(ctxT(t), lo, hi, loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("got %d day/category rows, want %d", len(got), len(want))
			}
			for _, dc := range got {
				n := dc.Count
				dc.Count = 0
				if want[dc] != n {
					t.Errorf("%s %s: got %d, want %d", dc.Day, dc.Category, n, want[dc])
				}
			}
		})
	}
}

func TestDefuseCSVCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"\n=1", "'\n=1"},
		{"\uFF1D1+1", "'\uFF1D1+1"},
		{"", ""},
		{"example.com", "example.com"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := blocklog.DefuseCSVCell(tc.in); got != tc.want {
				t.Errorf("DefuseCSVCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	l := open(t, blocklog.Config{})
	evil := []string{"=cmd|' /C calc'!A0", "+evil.example", "-evil.example", "@evil.example", "\tevil.example", "\revil.example", "plain.example"}
	for i, h := range evil {
		l.Record(blocklog.Event{Time: t0.Add(time.Duration(i) * time.Second), Host: h, Profile: "=1+1", Category: "adult",
			URL: "http://x/\"a,b\"\n", Reason: "-2", Action: blocklog.ActionBlock})
	}
	l.Record(blocklog.Event{Time: t0.Add(time.Hour), Host: "other.example", Category: "gambling", Action: blocklog.ActionBlock})
	flush(t, l)

	var buf bytes.Buffer
	if err := l.ExportCSV(ctxT(t), blocklog.Filter{Category: "adult"}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("export is not valid CSV: %v", err)
	}
	if want := []string{"time", "action", "profile", "client", "host", "url", "category", "entry", "source", "reason", "count", "last"}; !slices.Equal(recs[0], want) {
		t.Fatalf("header = %q", recs[0])
	}
	if len(recs) != 1+len(evil) {
		t.Fatalf("got %d rows, want %d", len(recs)-1, len(evil))
	}
	for i, rec := range recs[1:] {
		want := evil[len(evil)-1-i]
		if rec[4] != blocklog.DefuseCSVCell(want) {
			t.Errorf("row %d host = %q, want %q", i, rec[4], blocklog.DefuseCSVCell(want))
		}
		if tm, err := time.Parse(time.RFC3339Nano, rec[0]); err != nil || !tm.Equal(t0.Add(time.Duration(len(evil)-1-i)*time.Second)) {
			t.Errorf("row %d time = %q (%v)", i, rec[0], err)
		}
		if rec[5] != "http://x/\"a,b\"\n" {
			t.Errorf("row %d url = %q, quoting lost", i, rec[5])
		}
		for j, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("row %d column %s = %q would be a formula", i, recs[0][j], cell)
			}
		}
	}

	t.Run("limit", func(t *testing.T) {
		var buf bytes.Buffer
		if err := l.ExportCSV(ctxT(t), blocklog.Filter{Limit: 2}, &buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(recs) != 3 || recs[1][4] != "other.example" {
			t.Errorf("limited export = %q, %v", recs, err)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blocklog.db")
	l := open(t, blocklog.Config{Path: path})
	for i := range 100 {
		l.Record(blocklog.Event{Time: t0.Add(time.Duration(i) * time.Second), Host: fmt.Sprintf("h%d.example", i), Action: blocklog.ActionBlock})
	}
	// No Flush: Close must write what is queued.
	if err := l.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctxT(t)); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if l.Record(blocklog.Event{Host: "late"}) {
		t.Error("Record after Close accepted")
	}
	if err := l.Flush(ctxT(t)); !errors.Is(err, blocklog.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if st := l.Stats(); st.Written != 100 || st.Dropped != 1 {
		t.Errorf("Stats = %+v", st)
	}
	// Retention off: the events are dated 2024, and age retention at open
	// would race this query to delete them.
	l2 := open(t, blocklog.Config{Path: path, MaxAge: -1})
	got, err := l2.Query(ctxT(t), blocklog.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 || got[0].Host != "h99.example" || got[99].Host != "h0.example" {
		t.Errorf("after reopen: %d events, first %q", len(got), hosts(got)[:min(1, len(got))])
	}
}

func TestConcurrentRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		queueSize int
	}{
		{"roomy queue", 1 << 16},
		{"tiny queue", 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := open(t, blocklog.Config{QueueSize: tc.queueSize, BatchSize: 64, FlushInterval: time.Millisecond})
			const workers, each = 16, 200
			var wg sync.WaitGroup
			var mu sync.Mutex
			accepted := 0
			for w := range workers {
				wg.Go(func() {
					a := 0
					for i := range each {
						if l.Record(blocklog.Event{Host: fmt.Sprintf("w%d-%d.example", w, i), Action: blocklog.ActionBlock}) {
							a++
						}
						if i%50 == 0 {
							_ = l.Stats()
						}
					}
					mu.Lock()
					accepted += a
					mu.Unlock()
				})
			}
			wg.Wait()
			flush(t, l)
			st := l.Stats()
			if st.Written != uint64(accepted) || st.Written+st.Dropped != workers*each || st.Queued != 0 {
				t.Errorf("Stats = %+v, accepted %d of %d", st, accepted, workers*each)
			}
			if tc.queueSize > workers*each && st.Dropped != 0 {
				t.Errorf("dropped %d with a queue larger than all events", st.Dropped)
			}
			n, err := l.CountSince(ctxT(t), time.Unix(0, 0), "")
			if err != nil {
				t.Fatal(err)
			}
			if n != accepted {
				t.Errorf("stored %d, accepted %d", n, accepted)
			}
		})
	}
}

func TestOpenBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A real database, then damaged in its pages but not its header.
	damaged := filepath.Join(dir, "damaged.db")
	l := open(t, blocklog.Config{Path: damaged, BatchSize: 1024})
	for i := range 3000 {
		l.Record(blocklog.Event{Time: t0.Add(time.Duration(i)), Host: fmt.Sprintf("h%d.example", i), Reason: strings.Repeat("r", 100)})
	}
	if err := l.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(damaged)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(b)-4096 && i < 40*4096; i++ {
		b[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}

	newer := filepath.Join(dir, "newer.db")
	l = open(t, blocklog.Config{Path: newer})
	l.Close(ctxT(t))
	db, err := sql.Open("sqlite", "file:"+newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", blocklog.SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name  string
		path  string
		want  error
		moved bool
	}{
		{"text file", write("text.db", []byte("this is not a database\n")), blocklog.ErrCorrupt, true},
		{"short file", write("short.db", []byte("SQLite")), blocklog.ErrCorrupt, true},
		{"header only", write("header.db", []byte("SQLite format 3\x00garbage garbage garbage")), blocklog.ErrCorrupt, true},
		{"damaged pages", damaged, blocklog.ErrCorrupt, true},
		{"newer schema", newer, blocklog.ErrNewerSchema, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			_, err := blocklog.Open(ctxT(t), blocklog.Config{Path: tc.path})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
			l, moved, err := blocklog.OpenOrMoveAside(ctxT(t), blocklog.Config{Path: tc.path})
			if !tc.moved {
				if !errors.Is(err, tc.want) || moved != "" {
					t.Fatalf("OpenOrMoveAside = %q, %v; want %v and nothing moved", moved, err, tc.want)
				}
				if after, _ := os.ReadFile(tc.path); !bytes.Equal(before, after) {
					t.Error("file changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenOrMoveAside: %v", err)
			}
			defer l.Close(context.Background())
			if old, err := os.ReadFile(moved); err != nil || !bytes.Equal(old, before) {
				t.Errorf("moved file %q does not hold the old bytes: %v", moved, err)
			}
			l.Record(blocklog.Event{Host: "fresh.example"})
			flush(t, l)
			if got, err := l.Query(ctxT(t), blocklog.Filter{}); err != nil || len(got) != 1 {
				t.Errorf("fresh log query = %d events, %v", len(got), err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := blocklog.Open(ctxT(t), blocklog.Config{}); err == nil {
		t.Error("Open with empty path succeeded")
	}
	if _, err := blocklog.Open(ctxT(t), blocklog.Config{Path: t.TempDir()}); err == nil || errors.Is(err, blocklog.ErrCorrupt) {
		t.Errorf("Open on a directory = %v, want a non-corrupt error", err)
	}
	if _, err := blocklog.Open(ctxT(t), blocklog.Config{Path: filepath.Join(t.TempDir(), "no", "such", "dir.db")}); err == nil || errors.Is(err, blocklog.ErrCorrupt) {
		t.Errorf("Open in a missing dir = %v, want a non-corrupt error", err)
	}
	// A '?' or '#' in the path is part of the name, not URI parameters.
	odd := filepath.Join(t.TempDir(), "we?ird#dir")
	if err := os.Mkdir(odd, 0o700); err != nil {
		t.Fatal(err)
	}
	l := open(t, blocklog.Config{Path: filepath.Join(odd, "log.db")})
	l.Record(blocklog.Event{Host: "x"})
	flush(t, l)
	if _, err := os.Stat(filepath.Join(odd, "log.db")); err != nil {
		t.Errorf("database not at the odd path: %v", err)
	}
}

package blocklog

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Query limits.
const (
	DefaultQueryLimit = 100    // Filter.Limit zero in Query
	MaxQueryLimit     = 10_000 // larger Query limits are cut to this
)

// ErrInvalidFilter is returned for a filter or range the queries refuse.
var ErrInvalidFilter = errors.New("invalid block log filter")

// Filter selects events. Zero fields do not filter.
type Filter struct {
	From, To     time.Time // From inclusive, To exclusive
	Category     string
	Action       Action
	Profile      string
	HostContains string // substring of the host, ASCII case-insensitive; %, _ and \ are literal
	// Limit is the most events returned: Query uses DefaultQueryLimit for
	// zero and caps at MaxQueryLimit; ExportCSV exports all for zero.
	Limit  int
	Offset int
}

// DayCount is the number of events of one category on one local day.
type DayCount struct {
	Day      string // YYYY-MM-DD in the requested location
	Category string
	Count    int
}

const selectColumns = `SELECT ts, profile, client, host, url, category, entry, source, action, reason, count, COALESCE(last_ts, ts) FROM events`

func (f Filter) sql(defaultLimit, maxLimit int) (string, []any, error) {
	if f.Limit < 0 || f.Offset < 0 {
		return "", nil, fmt.Errorf("limit %d, offset %d: %w", f.Limit, f.Offset, ErrInvalidFilter)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return "", nil, fmt.Errorf("to %s before from %s: %w", f.To, f.From, ErrInvalidFilter)
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if !f.From.IsZero() {
		if !inNanoRange(f.From) {
			return "", nil, fmt.Errorf("from %s out of range: %w", f.From, ErrInvalidFilter)
		}
		add("ts >= ?", f.From.UnixNano())
	}
	if !f.To.IsZero() {
		if !inNanoRange(f.To) {
			return "", nil, fmt.Errorf("to %s out of range: %w", f.To, ErrInvalidFilter)
		}
		add("ts < ?", f.To.UnixNano())
	}
	if f.Category != "" {
		add("category = ?", f.Category)
	}
	if f.Action != "" {
		add("action = ?", string(f.Action))
	}
	if f.Profile != "" {
		add("profile = ?", f.Profile)
	}
	if f.HostContains != "" {
		// Clean like the writer did, so the needle is compared with what
		// was stored.
		add(`host LIKE ? ESCAPE '\'`, "%"+escapeLike(clean(f.HostContains, maxHostLen))+"%")
	}
	q := selectColumns
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	if maxLimit > 0 && limit > maxLimit {
		limit = maxLimit
	}
	q += " ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?"
	args = append(args, limit, f.Offset)
	return q, args, nil
}

// Times are stored as Unix nanoseconds, which int64 holds from 1677 to
// 2262; inNanoRange keeps a wild query time from wrapping around.
func inNanoRange(t time.Time) bool {
	s := t.Unix()
	return s >= minSec && s <= maxSec
}

// The whole seconds whose nanoseconds fit in an int64, with a second spare.
const (
	minSec int64 = math.MinInt64/1_000_000_000 + 1
	maxSec int64 = math.MaxInt64/1_000_000_000 - 1
)

// escapeLike makes s match itself literally in a LIKE pattern with
// ESCAPE '\'.
func escapeLike(s string) string {
	if !strings.ContainsAny(s, `\%_`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '%', '_':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Query returns the events matching f, newest first. Times are in UTC.
func (l *Log) Query(ctx context.Context, f Filter) ([]Event, error) {
	q, args, err := f.sql(DefaultQueryLimit, MaxQueryLimit)
	if err != nil {
		return nil, fmt.Errorf("querying block log: %w", err)
	}
	var out []Event
	err = l.scan(ctx, q, args, func(ev *Event) error {
		out = append(out, *ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (l *Log) scan(ctx context.Context, q string, args []any, fn func(*Event) error) error {
	rows, err := l.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("querying block log: %w", err)
	}
	defer rows.Close()
	var ev Event
	var ts, last int64
	var action string
	for rows.Next() {
		if err := rows.Scan(&ts, &ev.Profile, &ev.Client, &ev.Host, &ev.URL,
			&ev.Category, &ev.Entry, &ev.Source, &action, &ev.Reason, &ev.Count, &last); err != nil {
			return fmt.Errorf("reading block log row: %w", err)
		}
		ev.Time = time.Unix(0, ts).UTC()
		ev.Last = time.Unix(0, last).UTC()
		ev.Action = Action(action)
		if err := fn(&ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading block log rows: %w", err)
	}
	return nil
}

// CountSince counts rows that began at or after t with the given action;
// an empty action counts all. A row is a visit: repeated blocks collapse
// into one (see [Event.Count]). For "blocked today", pass local midnight
// and ActionBlock.
func (l *Log) CountSince(ctx context.Context, t time.Time, action Action) (int, error) {
	return l.countSince(ctx, "COUNT(*)", t, action)
}

// AttemptsSince is [Log.CountSince] counting every attempt instead of
// visits: the sum of [Event.Count].
func (l *Log) AttemptsSince(ctx context.Context, t time.Time, action Action) (int, error) {
	return l.countSince(ctx, "COALESCE(SUM(count), 0)", t, action)
}

func (l *Log) countSince(ctx context.Context, agg string, t time.Time, action Action) (int, error) {
	if !inNanoRange(t) {
		return 0, fmt.Errorf("counting since %s: out of range: %w", t, ErrInvalidFilter)
	}
	q := "SELECT " + agg + " FROM events WHERE ts >= ?"
	args := []any{t.UnixNano()}
	if action != "" {
		q += " AND action = ?"
		args = append(args, string(action))
	}
	var n int
	if err := l.rdb.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting %q events since %s: %w", action, t.Format(time.RFC3339), err)
	}
	return n, nil
}

// CountsByDayCategory counts block visits (rows; not grants, pauses or requests) in
// [from, to) per local calendar day in loc and category, ordered by day then category. Days and categories with
// no events are left out. The day of an event is the date a wall clock in
// loc showed at that instant, so a DST day holds 23 or 25 hours of events
// and an hour repeated across midnight counts to the day the clock showed.
// A nil loc means time.Local.
func (l *Log) CountsByDayCategory(ctx context.Context, from, to time.Time, loc *time.Location) ([]DayCount, error) {
	if loc == nil {
		loc = time.Local
	}
	periods, err := zonePeriods(from, to, loc)
	if err != nil {
		return nil, fmt.Errorf("counting by day: %w", err)
	}
	rows, err := l.rdb.QueryContext(ctx, countsByDaySQL, periods)
	if err != nil {
		return nil, fmt.Errorf("counting by day from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []DayCount
	for rows.Next() {
		var dc DayCount
		var dayno int64
		if err := rows.Scan(&dayno, &dc.Category, &dc.Count); err != nil {
			return nil, fmt.Errorf("reading day count: %w", err)
		}
		dc.Day = time.Unix(dayno*86400, 0).UTC().Format(time.DateOnly)
		out = append(out, dc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading day counts: %w", err)
	}
	return out, nil
}

// Zone rules live in Go, so Go splits [from, to) into periods of
// constant UTC offset and SQLite numbers each event's local day with its
// period's offset: exact for every zone, with one ts index range scan
// per period. Integer day numbers group far faster than date() strings;
// the floor divisions keep pre-1970 times on the right day.
// CROSS JOIN keeps the periods as the outer loop; a plain JOIN lets the
// planner scan all events instead. MATERIALIZED parses the JSON once, not
// once per event.
const countsByDaySQL = `WITH p(lo, hi, off) AS MATERIALIZED (
		SELECT value->>0, value->>1, value->>2 FROM json_each(?)
	),
	t(s, category) AS (
		SELECT (e.ts - (((e.ts % 1000000000) + 1000000000) % 1000000000)) / 1000000000 + p.off, e.category
		FROM p CROSS JOIN events e ON e.ts >= p.lo AND e.ts < p.hi
		WHERE e.action = 'block'
	)
	SELECT (s - (((s % 86400) + 86400) % 86400)) / 86400 AS dayno, category, COUNT(*)
	FROM t GROUP BY dayno, category ORDER BY dayno, category`

// maxZonePeriods bounds the offset periods of one count: two DST changes a
// year for 5000 years.
const maxZonePeriods = 10_000

// zonePeriods returns a JSON array of [lo, hi, offset]: [from, to) cut at
// loc's offset changes, lo and hi in Unix nanoseconds, offset in seconds.
func zonePeriods(from, to time.Time, loc *time.Location) (string, error) {
	if !inNanoRange(from) || !inNanoRange(to) || !from.Before(to) {
		return "", fmt.Errorf("range %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), ErrInvalidFilter)
	}
	var b strings.Builder
	b.WriteByte('[')
	for lo, n := from, 0; lo.Before(to); n++ {
		if n >= maxZonePeriods {
			return "", fmt.Errorf("range %s to %s spans over %d zone changes: %w",
				from.Format(time.RFC3339), to.Format(time.RFC3339), maxZonePeriods, ErrInvalidFilter)
		}
		local := lo.In(loc)
		_, off := local.Zone()
		_, end := local.ZoneBounds()
		hi := to
		if !end.IsZero() && end.Before(to) {
			hi = end
		}
		if !hi.After(lo) { // defensive: never loop in place
			hi = to
		}
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%d,%d,%d]", lo.UnixNano(), hi.UnixNano(), off)
		lo = hi
	}
	b.WriteByte(']')
	return b.String(), nil
}

// csvHeader names the ExportCSV columns.
func csvHeader() []string {
	return []string{"time", "action", "profile", "client", "host", "url", "category", "entry", "source", "reason", "count", "last"}
}

// ExportCSV writes the events matching f, newest first, as CSV with a
// header row. Time is RFC 3339 UTC. Every text cell is defused against
// spreadsheet formula injection (see [DefuseCSVCell]).
func (l *Log) ExportCSV(ctx context.Context, f Filter, w io.Writer) error {
	q, args, err := f.sql(-1, 0) // LIMIT -1: all rows
	if err != nil {
		return fmt.Errorf("exporting block log: %w", err)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader()); err != nil {
		return fmt.Errorf("writing csv header: %w", err)
	}
	rec := make([]string, len(csvHeader()))
	err = l.scan(ctx, q, args, func(ev *Event) error {
		rec[0] = ev.Time.Format(time.RFC3339Nano)
		for i, s := range []string{string(ev.Action), ev.Profile, ev.Client, ev.Host, ev.URL, ev.Category, ev.Entry, ev.Source, ev.Reason} {
			rec[i+1] = DefuseCSVCell(s)
		}
		rec[10] = strconv.Itoa(ev.Count)
		rec[11] = ev.Last.Format(time.RFC3339Nano)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("writing csv row: %w", err)
		}
		return nil
	})
	cw.Flush()
	if err != nil {
		return fmt.Errorf("exporting block log: %w", err)
	}
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

// DefuseCSVCell prefixes s with a single quote when a spreadsheet would
// read it as a formula: when it starts with = + - @, tab, CR or LF (OWASP's
// list, plus LF), or with the full-width forms of = + - @ that some
// spreadsheets also accept. A hostname from the network such as
// "=cmd|' /C calc'!A0" must show as text, not run.
func DefuseCSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	for _, p := range []string{"\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"} {
		if strings.HasPrefix(s, p) {
			return "'" + s
		}
	}
	return s
}

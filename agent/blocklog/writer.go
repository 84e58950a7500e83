package blocklog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	insertSQL = `INSERT INTO events
	(ts, profile, client, host, url, category, entry, source, action, reason, count, last_ts)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// updateSQL adds a visit's later attempts to its row. url is set when
	// the first attempt had none (HTTPS, then the same site over HTTP).
	updateSQL = `UPDATE events SET count = ?, last_ts = ?, url = ? WHERE id = ?`
)

// closeAttempts bounds how often Close retries a failing batch, so a dead
// disk cannot make Close hang when its context has no deadline.
const closeAttempts = 3

// errWriterPanic marks a batch lost to a recovered panic.
var errWriterPanic = errors.New("block log writer panicked")

// visitKey is what makes two blocks one visit. It leaves out the URL, the
// scheme and port (a browser that tries HTTPS and then HTTP, or retries a
// path, makes one visit) and the reason (the proxy words a refused CONNECT
// and a blocked GET differently for the same verdict). It keeps everything
// that says who was blocked from what and by which rule: profile, client
// (an address without port, or an OS user), host, category, entry and
// source. Two visits to different hosts of one blocked domain stay apart,
// because the host is what a parent reads.
type visitKey struct {
	action, profile, client, host, category, entry, source string
}

// visit is one row in the making: the first event, with Count and Last
// kept up to date as attempts collapse into it.
type visit struct {
	ev     Event
	key    visitKey
	keyed  bool  // in the open table; false for actions that never collapse
	id     int64 // row id once committed, 0 before
	stored int   // ev.Count as committed
	dirty  bool  // in Log.dirty
}

// run is the writer goroutine. A panic outside the guarded commit (a bug in
// the loop itself) restarts the loop rather than killing the agent; the
// visits in hand survive because they live on the Log.
func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	l.retainIfDue(ctx)
	l.convertAutoVacuum(ctx)
	l.enforceSize(ctx)
	for !l.loop(ctx) {
	}
}

// loop reports true when the writer should exit.
func (l *Log) loop(ctx context.Context) (exit bool) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("%w: %v", errWriterPanic, r)
			l.log.Error("block log writer recovered", "err", err)
			l.setErr(err)
			exit = false
		}
	}()
	timer := time.NewTimer(l.cfg.FlushInterval)
	defer timer.Stop()
	if l.pending.Load() == 0 {
		timer.Stop()
	}
	for {
		// Rows waiting for a commit that failed stop intake so memory stays
		// bounded; the queue fills and Record counts the overflow. Attempts
		// that collapse into a waiting row cost no memory, so the bound is
		// on rows, not events.
		queue := l.queue
		if len(l.dirty) >= l.cfg.BatchSize {
			queue = nil
		}
		select {
		case ev := <-queue:
			if l.pending.Load() == 0 {
				timer.Reset(l.cfg.FlushInterval)
			}
			l.take(ev)
			if len(l.dirty) >= l.cfg.BatchSize {
				if l.commit(ctx) == nil {
					timer.Stop()
				} else {
					timer.Reset(l.cfg.FlushInterval)
				}
			}
		case <-timer.C:
			if l.commit(ctx) != nil {
				timer.Reset(l.cfg.FlushInterval)
			}
			l.retainIfDue(ctx)
		case reply := <-l.flushReq:
			err := l.drain(ctx)
			if err != nil {
				timer.Reset(l.cfg.FlushInterval)
			} else {
				timer.Stop()
			}
			l.retainIfDue(ctx)
			reply <- err
		case <-l.stop:
			for attempt := 0; attempt < closeAttempts && ctx.Err() == nil; attempt++ {
				if l.drain(ctx) == nil {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(l.cfg.FlushInterval):
				}
			}
			return true
		}
	}
}

// take adds ev to the rows waiting for a commit: a block joins the open
// visit with its key when that visit began less than CollapseWindow
// before; anything else starts a row of its own.
func (l *Log) take(ev Event) {
	l.pending.Add(1)
	ev.Profile = clean(ev.Profile, maxShortLen)
	ev.Client = clean(ev.Client, maxShortLen)
	ev.Host = clean(ev.Host, maxHostLen)
	ev.URL = clean(ev.URL, maxURLLen)
	ev.Category = clean(ev.Category, maxShortLen)
	ev.Entry = clean(ev.Entry, maxHostLen)
	ev.Source = clean(ev.Source, maxShortLen)
	ev.Action = Action(clean(string(ev.Action), maxShortLen))
	ev.Reason = clean(ev.Reason, maxTextLen)
	ev.Count, ev.Last = 1, ev.Time
	if ev.Action == ActionBlock && l.cfg.CollapseWindow > 0 {
		k := visitKey{string(ev.Action), ev.Profile, ev.Client, ev.Host, ev.Category, ev.Entry, ev.Source}
		l.expire(ev.Time)
		if o := l.open[k]; o != nil && within(ev.Time, o.ev.Time, l.cfg.CollapseWindow) {
			o.ev.Count++
			if ev.Time.After(o.ev.Last) {
				o.ev.Last = ev.Time
			}
			if o.ev.URL == "" {
				o.ev.URL = ev.URL
			}
			l.collapsed.Add(1)
			l.markDirty(o)
			return
		}
		v := &visit{ev: ev, key: k, keyed: true}
		l.open[k] = v
		l.order = append(l.order, v)
		l.markDirty(v)
		return
	}
	l.markDirty(&visit{ev: ev})
}

// within reports whether t is less than w away from first, either side:
// events from different connections can reach the queue a little out of
// order.
func within(t, first time.Time, w time.Duration) bool {
	d := t.Sub(first)
	return d < w && d > -w
}

func (l *Log) markDirty(v *visit) {
	if !v.dirty {
		v.dirty = true
		l.dirty = append(l.dirty, v)
	}
}

// expire closes the open visits that began a window or more before now,
// oldest first, and the oldest beyond MaxOpenVisits, so a flood of distinct
// hosts cannot grow the table: a closed visit's next attempt starts a new
// row, which costs disk, never memory.
func (l *Log) expire(now time.Time) {
	for l.head < len(l.order) {
		v := l.order[l.head]
		if len(l.order)-l.head < l.cfg.MaxOpenVisits && now.Sub(v.ev.Time) < l.cfg.CollapseWindow {
			break
		}
		if l.open[v.key] == v {
			delete(l.open, v.key)
		}
		l.order[l.head] = nil
		l.head++
	}
	if l.head > 64 && l.head > len(l.order)/2 {
		n := copy(l.order, l.order[l.head:])
		clear(l.order[n:])
		l.order = l.order[:n]
		l.head = 0
	}
}

// drain commits the rows in hand and every event on the queue when it was
// called: a flood that keeps the queue full cannot keep Flush waiting.
func (l *Log) drain(ctx context.Context) error {
	for left := len(l.queue); ; {
		// Only this goroutine receives, so the queue holds at least left.
		for left > 0 && len(l.dirty) < l.cfg.BatchSize {
			l.take(<-l.queue)
			left--
		}
		if len(l.dirty) == 0 {
			return nil
		}
		if err := l.commit(ctx); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
	}
}

// uncommitted is the number of events in the waiting rows.
func (l *Log) uncommitted() int {
	n := 0
	for _, v := range l.dirty {
		n += v.ev.Count - v.stored
	}
	return n
}

// commit writes the waiting rows in one transaction. On error they are
// kept for a retry (fail-safe: a busy or full disk loses nothing yet). On
// panic they are dropped and counted, because retrying an event that
// crashes the writer would crash it forever.
func (l *Log) commit(ctx context.Context) (err error) {
	if len(l.dirty) == 0 {
		return nil
	}
	n := l.uncommitted()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing %d events: %w: %v", n, errWriterPanic, r)
			l.log.Error("block log batch dropped", "err", err, "events", n)
			l.failed.Add(uint64(n))
			for _, v := range l.dirty {
				if v.keyed && l.open[v.key] == v {
					delete(l.open, v.key)
				}
				v.stored = v.ev.Count
			}
			l.resetDirty(n)
		}
		if err != nil {
			l.setErr(err)
		}
	}()
	ids, err := l.writeBatch(ctx)
	if err != nil {
		l.log.Warn("block log batch not written, will retry", "err", err, "events", n)
		return err
	}
	for i, v := range l.dirty {
		if ids[i] != 0 {
			v.id = ids[i]
		}
		v.stored = v.ev.Count
	}
	l.written.Add(uint64(n))
	l.resetDirty(n)
	l.enforceSize(ctx)
	return nil
}

func (l *Log) resetDirty(n int) {
	l.pending.Add(-int64(n))
	for _, v := range l.dirty {
		v.dirty = false
	}
	clear(l.dirty) // drop references to rows no longer open
	l.dirty = l.dirty[:0]
}

// writeBatch inserts new rows and updates the counts of rows already
// written, and returns the ids of the rows it inserted (0 for updates).
// Nothing on the visits changes here, so a failed transaction leaves them
// ready for a retry.
func (l *Log) writeBatch(ctx context.Context) ([]int64, error) {
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("beginning batch of %d rows: %w", len(l.dirty), err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	insert := tx.StmtContext(ctx, l.insert)
	update := tx.StmtContext(ctx, l.update)
	ids := l.ids[:0]
	for _, v := range l.dirty {
		ev := &v.ev
		var last any // NULL for a single attempt: Last is Time
		if ev.Count > 1 {
			last = storedNanos(ev.Last)
		}
		if v.id != 0 {
			res, err := update.ExecContext(ctx, ev.Count, last, ev.URL, v.id)
			if err != nil {
				return nil, fmt.Errorf("updating visit to host %.64q: %w", ev.Host, err)
			}
			if n, err := res.RowsAffected(); err == nil && n == 1 {
				ids = append(ids, 0)
				continue
			}
			// The row was pruned while its visit was open: write it anew.
		}
		res, err := insert.ExecContext(ctx,
			storedNanos(ev.Time), ev.Profile, ev.Client, ev.Host, ev.URL,
			ev.Category, ev.Entry, ev.Source, string(ev.Action), ev.Reason, ev.Count, last)
		if err != nil {
			return nil, fmt.Errorf("inserting event for host %.64q: %w", ev.Host, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("reading id of event for host %.64q: %w", ev.Host, err)
		}
		ids = append(ids, id)
	}
	if l.cfg.beforeCommit != nil {
		evs := make([]Event, len(l.dirty))
		for i, v := range l.dirty {
			evs[i] = v.ev
		}
		l.cfg.beforeCommit(evs)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing batch of %d rows: %w", len(l.dirty), err)
	}
	l.ids = ids
	return ids, nil
}

// clean makes s valid UTF-8 and at most max bytes, cutting on a rune
// boundary. NUL bytes are replaced too: SQLite's text functions (LIKE
// among them) stop at the first NUL, which would hide the rest of the value.
func clean(s string, max int) string {
	if len(s) > max {
		s = s[:max]
		for len(s) > 0 && !utf8.ValidString(s[len(s)-min(len(s), utf8.UTFMax):]) {
			s = s[:len(s)-1]
		}
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// retainIfDue applies MaxAge and MaxRows when RetentionInterval has passed
// since the last run. Errors are logged and kept in Stats; retention is
// retried at the next interval (fail-open: an over-full log is better than
// a stopped writer).
func (l *Log) retainIfDue(ctx context.Context) {
	now := l.now()
	if l.retained && now.Sub(l.lastRetention) < l.cfg.RetentionInterval {
		return
	}
	l.retained = true
	l.lastRetention = now
	func() {
		defer func() {
			if r := recover(); r != nil {
				err := fmt.Errorf("applying retention: %w: %v", errWriterPanic, r)
				l.log.Error("block log retention recovered", "err", err)
				l.setErr(err)
			}
		}()
		n, err := retain(ctx, l.wdb, now, l.cfg.MaxAge, l.cfg.MaxRows)
		l.pruned.Add(uint64(n))
		if err != nil {
			l.log.Warn("block log retention", "err", err)
			l.setErr(err)
		}
	}()
}

// storedNanos clamps t into the stored range rather than let UnixNano wrap
// a wild clock value into a time decades away.
func storedNanos(t time.Time) int64 {
	switch s := t.Unix(); {
	case s < minSec:
		return minSec * 1e9
	case s > maxSec:
		return maxSec * 1e9
	}
	return t.UnixNano()
}

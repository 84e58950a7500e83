package blocklog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

const insertSQL = `INSERT INTO events
	(ts, profile, client, host, url, category, entry, source, action, reason)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// closeAttempts bounds how often Close retries a failing batch, so a dead
// disk cannot make Close hang when its context has no deadline.
const closeAttempts = 3

// errWriterPanic marks a batch lost to a recovered panic.
var errWriterPanic = errors.New("block log writer panicked")

// run is the writer goroutine. A panic outside the guarded commit (a bug in
// the loop itself) restarts the loop rather than killing the agent; the
// batch in hand survives because it lives on the Log.
func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	l.retainIfDue(ctx)
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
	if len(l.batch) == 0 {
		timer.Stop()
	}
	for {
		// A full batch that failed to commit stops intake so memory stays
		// bounded; the queue fills and Record counts the overflow.
		queue := l.queue
		if len(l.batch) >= l.cfg.BatchSize {
			queue = nil
		}
		select {
		case ev := <-queue:
			if len(l.batch) == 0 {
				timer.Reset(l.cfg.FlushInterval)
			}
			l.take(ev)
			if len(l.batch) >= l.cfg.BatchSize {
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

func (l *Log) take(ev Event) {
	l.batch = append(l.batch, ev)
	l.pending.Add(1)
}

// drain commits the batch in hand and everything on the queue now.
func (l *Log) drain(ctx context.Context) error {
	for {
		for len(l.batch) < l.cfg.BatchSize {
			select {
			case ev := <-l.queue:
				l.take(ev)
				continue
			default:
			}
			break
		}
		if len(l.batch) == 0 {
			return nil
		}
		if err := l.commit(ctx); err != nil {
			return err
		}
	}
}

// commit writes the batch in one transaction. On error the batch is kept
// for a retry (fail-safe: a busy or full disk loses nothing yet). On panic
// the batch is dropped and counted, because retrying an event that crashes
// the writer would crash it forever.
func (l *Log) commit(ctx context.Context) (err error) {
	if len(l.batch) == 0 {
		return nil
	}
	n := len(l.batch)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("writing %d events: %w: %v", n, errWriterPanic, r)
			l.log.Error("block log batch dropped", "err", err, "events", n)
			l.failed.Add(uint64(n))
			l.resetBatch()
		}
		if err != nil {
			l.setErr(err)
		}
	}()
	if err := l.writeBatch(ctx); err != nil {
		l.log.Warn("block log batch not written, will retry", "err", err, "events", n)
		return err
	}
	l.written.Add(uint64(n))
	l.resetBatch()
	return nil
}

func (l *Log) resetBatch() {
	l.pending.Add(-int64(len(l.batch)))
	clear(l.batch) // drop references to the strings
	l.batch = l.batch[:0]
}

func (l *Log) writeBatch(ctx context.Context) error {
	tx, err := l.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning batch of %d events: %w", len(l.batch), err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	stmt := tx.StmtContext(ctx, l.insert)
	for i := range l.batch {
		ev := &l.batch[i]
		_, err := stmt.ExecContext(ctx,
			storedNanos(ev.Time),
			clean(ev.Profile, maxShortLen),
			clean(ev.Client, maxShortLen),
			clean(ev.Host, maxHostLen),
			clean(ev.URL, maxURLLen),
			clean(ev.Category, maxShortLen),
			clean(ev.Entry, maxHostLen),
			clean(ev.Source, maxShortLen),
			clean(string(ev.Action), maxShortLen),
			clean(ev.Reason, maxTextLen),
		)
		if err != nil {
			return fmt.Errorf("inserting event for host %.64q: %w", ev.Host, err)
		}
	}
	if l.cfg.beforeCommit != nil {
		l.cfg.beforeCommit(l.batch)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing batch of %d events: %w", len(l.batch), err)
	}
	return nil
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

package blocklog

import (
	"context"
	"database/sql"
	"fmt"
	"os"
)

// How the disk bound is kept (see Config.MaxBytes). The WAL gets a quarter
// of the budget and the database the rest: the WAL holds up to a
// checkpoint's worth of pages plus the transaction that crosses it, a
// batch or a prune. Rows are pruned, oldest first,
// when the pages in use pass pruneHigh of the database's share, down to
// pruneLow: small steps, so one prune's transaction fits in the WAL's
// share. SQLite reuses the freed pages for new rows, so the file stops
// growing; it is made smaller (incremental vacuum) only when it is over
// its share, as an old database from before the bound is on first open.
const (
	walShareDiv = 4
	pruneHigh   = 90 // percent of the database's share
	pruneLow    = 85
	// minWALPages keeps a tiny limit from checkpointing at every commit.
	minWALPages = 8
)

// budgets splits MaxBytes into the database's and the WAL's shares.
func budgets(maxBytes int64) (db, wal int64) {
	wal = maxBytes / walShareDiv
	return maxBytes - wal, wal
}

// walAutocheckpoint is the WAL size, in pages, at which SQLite copies the
// WAL back into the database: a quarter of the WAL's share, so the
// transactions that cross it have room. The default 1000 pages (4 MiB) is kept for
// large limits.
func walAutocheckpoint(maxBytes int64, pageSize int64) int64 {
	if maxBytes <= 0 {
		return 1000
	}
	_, wal := budgets(maxBytes)
	return min(max(wal/4/pageSize, minWALPages), 1000)
}

// journalSizeLimit is the size SQLite truncates the WAL to after a
// checkpoint: the WAL's share, or 8 MiB when the log is unbounded.
func journalSizeLimit(maxBytes int64) int64 {
	if maxBytes <= 0 {
		return 8 << 20
	}
	_, wal := budgets(maxBytes)
	return wal
}

type pageStats struct {
	pages, free, size int64 // page_count, freelist_count, page_size
}

func (p pageStats) fileBytes() int64 { return p.pages * p.size }
func (p pageStats) usedBytes() int64 { return (p.pages - p.free) * p.size }

func readPageStats(ctx context.Context, db *sql.DB) (pageStats, error) {
	var p pageStats
	for _, q := range []struct {
		pragma string
		dst    *int64
	}{{"page_count", &p.pages}, {"freelist_count", &p.free}, {"page_size", &p.size}} {
		if err := db.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.dst); err != nil {
			return p, fmt.Errorf("reading %s: %w", q.pragma, err)
		}
	}
	return p, nil
}

// enforceSize keeps the database and its WAL under MaxBytes. It runs after
// every commit, so the bound holds as the log grows, not only at the
// retention interval; when nothing is over, it costs three PRAGMA reads
// and a stat. Errors are logged and kept in Stats (fail-open: the writer
// keeps writing, and the next commit tries again).
func (l *Log) enforceSize(ctx context.Context) {
	if l.cfg.MaxBytes <= 0 {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("bounding block log size: %w: %v", errWriterPanic, r)
			l.log.Error("block log size bound recovered", "err", err)
			l.setErr(err)
		}
	}()
	if err := l.bound(ctx); err != nil {
		l.log.Warn("block log size bound", "err", err)
		l.setErr(err)
	}
}

func (l *Log) bound(ctx context.Context) error {
	dbShare, walShare := budgets(l.cfg.MaxBytes)
	high, low := dbShare*pruneHigh/100, dbShare*pruneLow/100
	p, err := readPageStats(ctx, l.wdb)
	if err != nil {
		return err
	}
	wal := l.walBytes()
	if p.usedBytes() <= high && p.fileBytes() <= dbShare && wal <= walShare {
		l.diskBytes.Store(p.fileBytes() + wal)
		return nil // the common case: three PRAGMA reads and a stat
	}
	// A few rounds: deleting rows frees whole pages only once they are
	// empty, so the first estimate can fall short.
	for round := 0; p.usedBytes() > high && round < 8; round++ {
		var rows int64
		if err := l.wdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&rows); err != nil {
			return fmt.Errorf("counting rows: %w", err)
		}
		if rows == 0 {
			break
		}
		used := p.usedBytes()
		n := max(rows*(used-low)/used, 1)
		res, err := l.wdb.ExecContext(ctx, `DELETE FROM events WHERE id IN
			(SELECT id FROM events ORDER BY ts, id LIMIT ?)`, n)
		if err != nil {
			return fmt.Errorf("pruning %d oldest of %d rows at %d bytes: %w", n, rows, used, err)
		}
		d, _ := res.RowsAffected()
		l.pruned.Add(uint64(d))
		l.prunedSize.Add(uint64(d))
		if p, err = readPageStats(ctx, l.wdb); err != nil {
			return err
		}
	}
	if p.fileBytes() > dbShare && p.free > 0 && l.incremental {
		// Give the free pages back: the file shrinks at the next checkpoint.
		if _, err := l.wdb.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
			return fmt.Errorf("releasing %d free pages: %w", p.free, err)
		}
		if err := l.checkpoint(ctx); err != nil {
			return err
		}
	}
	if l.walBytes() > walShare {
		if err := l.checkpoint(ctx); err != nil {
			return err
		}
	}
	if p, err = readPageStats(ctx, l.wdb); err != nil {
		return err
	}
	l.diskBytes.Store(p.fileBytes() + l.walBytes())
	return nil
}

// checkpoint copies the WAL into the database and truncates it. A reader
// in the middle of a query can keep it from finishing; that is not an
// error, the next one catches up.
func (l *Log) checkpoint(ctx context.Context) error {
	if _, err := l.wdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpointing: %w", err)
	}
	return nil
}

func (l *Log) walBytes() int64 {
	st, err := os.Stat(l.path + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

// convertAutoVacuum turns on incremental vacuum in a database created
// before the disk bound: SQLite can change auto_vacuum only by rebuilding
// the file (VACUUM). It runs once, in the writer at start, after
// retention and a size prune have made the file as small as they can;
// the rebuild needs free disk for a copy of what is left. If it fails (a
// full disk) the log keeps working: pruning still bounds the rows, freed
// pages are reused, and the file just keeps its old size until a later
// start converts it.
func (l *Log) convertAutoVacuum(ctx context.Context) {
	var mode int
	if err := l.wdb.QueryRowContext(ctx, "PRAGMA auto_vacuum").Scan(&mode); err != nil {
		l.log.Warn("block log: reading auto_vacuum", "err", err)
		return
	}
	if mode == autoVacuumIncremental {
		l.incremental = true
		return
	}
	if l.cfg.MaxBytes <= 0 {
		return
	}
	l.enforceSize(ctx)
	if _, err := l.wdb.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
		l.log.Warn("block log: setting auto_vacuum", "err", err)
		return
	}
	if _, err := l.wdb.ExecContext(ctx, "VACUUM"); err != nil {
		l.log.Warn("block log: rebuilding for incremental vacuum; will retry at next start", "err", err)
		l.setErr(fmt.Errorf("rebuilding block log for incremental vacuum: %w", err))
		return
	}
	if err := l.checkpoint(ctx); err != nil {
		l.log.Warn("block log", "err", err)
	}
	l.incremental = true
	l.log.Info("block log: rebuilt with incremental vacuum")
}

// autoVacuumIncremental is PRAGMA auto_vacuum's value for INCREMENTAL.
const autoVacuumIncremental = 2

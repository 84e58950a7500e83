package blocklog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"modernc.org/sqlite"
)

// ErrCorrupt means the file at Config.Path is not a usable SQLite database:
// not SQLite at all, or damaged. See [MoveAside].
var ErrCorrupt = errors.New("block log database corrupt")

// ErrNewerSchema means the database was written by a newer version of
// GreenGate. It is not corrupt and must not be moved aside or modified.
var ErrNewerSchema = errors.New("block log database is from a newer version")

// SQLite primary result codes that mean the file itself is bad.
const (
	sqliteCorrupt = 11
	sqliteNotADB  = 26
)

// sqliteHeader starts every SQLite 3 database file.
const sqliteHeader = "SQLite format 3\x00"

// migrations returns the schema steps; step i takes user_version i to i+1.
// Steps are only ever appended: a released step never changes.
func migrations() []string {
	return []string{
		// 1: events, one row per logged action. ts is Unix nanoseconds UTC so
		// ordering and day ranges are integer comparisons. Indexes serve the
		// tray's queries: newest first overall, by action (blocked today),
		// by category and by profile. HostContains is a substring search
		// and scans; Limit bounds it.
		`CREATE TABLE events (
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
		CREATE INDEX events_profile_ts ON events(profile, ts);`,
		// 2: repeats of one visit collapse into one row. count is how many
		// blocks it stands for; last_ts is the last one's time, NULL when
		// count is 1 (a NULL costs a byte, a time up to nine). Existing rows
		// become visits of one attempt without being rewritten.
		`ALTER TABLE events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
		ALTER TABLE events ADD COLUMN last_ts INTEGER;`,
	}
}

// SchemaVersion is the user_version this package writes.
func SchemaVersion() int { return len(migrations()) }

func fileURI(path string, params url.Values) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving block log path %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if p[0] != '/' { // Windows: C:/x -> /C:/x
		p = "/" + p
	}
	// Escaping the path keeps a '?' or '#' in a directory name from being
	// read as URI parameters.
	u := url.URL{Scheme: "file", Path: p, RawQuery: params.Encode()}
	return u.String(), nil
}

func openDB(ctx context.Context, cfg Config) (wdb, rdb *sql.DB, err error) {
	if err := checkHeader(cfg.Path); err != nil {
		return nil, nil, err
	}
	busy := strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)
	wdsn, err := fileURI(cfg.Path, url.Values{
		"_pragma": {
			"busy_timeout(" + busy + ")",
			"journal_mode(WAL)",
			"synchronous(" + cfg.synchronous + ")",
			// Bound the WAL: checkpoint at half its share of MaxBytes,
			// and truncate it to its share after a checkpoint.
			"wal_autocheckpoint(" + strconv.FormatInt(walAutocheckpoint(cfg.MaxBytes, 4096), 10) + ")",
			"journal_size_limit(" + strconv.FormatInt(journalSizeLimit(cfg.MaxBytes), 10) + ")",
		},
		// The writer is the only writer; taking the lock at BEGIN turns a
		// mid-transaction SQLITE_BUSY (not retried by busy_timeout) into a
		// wait at the start.
		"_txlock": {"immediate"},
	})
	if err != nil {
		return nil, nil, err
	}
	wdb, err = sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, nil, fmt.Errorf("opening block log %s: %w", cfg.Path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	if err := prepare(ctx, wdb, cfg.Path); err != nil {
		wdb.Close()
		return nil, nil, err
	}
	rdsn, err := fileURI(cfg.Path, url.Values{
		"_pragma":     {"busy_timeout(" + busy + ")"},
		"_query_only": {"1"},
	})
	if err != nil {
		wdb.Close()
		return nil, nil, err
	}
	rdb, err = sql.Open("sqlite", rdsn)
	if err != nil {
		wdb.Close()
		return nil, nil, fmt.Errorf("opening block log readers %s: %w", cfg.Path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	return wdb, rdb, nil
}

// checkHeader rejects a non-empty file that does not start with the SQLite
// header. SQLite would also refuse it, but only at the first statement and
// with a generic message; this names the problem.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening block log %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening block log %s: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("opening block log %s: is a directory", path)
	}
	if st.Size() == 0 {
		return nil // SQLite treats an empty file as a new database
	}
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != sqliteHeader {
		return fmt.Errorf("opening block log %s: not a SQLite database: %w", path, ErrCorrupt)
	}
	return nil
}

func prepare(ctx context.Context, db *sql.DB, path string) error {
	if err := quickCheck(ctx, db); err != nil {
		return fmt.Errorf("checking block log %s: %w", path, asCorrupt(err))
	}
	// A new database gets incremental vacuum before its first table, the
	// only time SQLite can set it without a rebuild; an old one is
	// rebuilt by the writer (convertAutoVacuum).
	var pages int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return fmt.Errorf("reading page count of block log %s: %w", path, asCorrupt(err))
	}
	if pages == 0 {
		if _, err := db.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			return fmt.Errorf("setting auto_vacuum in block log %s: %w", path, err)
		}
	}
	if err := migrate(ctx, db); err != nil {
		return fmt.Errorf("migrating block log %s: %w", path, asCorrupt(err))
	}
	return nil
}

// quickCheck runs SQLite's quick_check: O(size) but without the index
// cross-checks of integrity_check, so it stays fast enough for every start.
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" && len(problems) < 5 {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("quick_check: %q: %w", problems, ErrCorrupt)
	}
	return nil
}

// asCorrupt adds ErrCorrupt to SQLite errors that mean the file is bad.
func asCorrupt(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteCorrupt, sqliteNotADB:
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	return err
}

func migrate(ctx context.Context, db *sql.DB) error {
	steps := migrations()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning migration: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > len(steps) {
		return fmt.Errorf("schema version %d, this build knows up to %d: %w", v, len(steps), ErrNewerSchema)
	}
	if v == len(steps) {
		return nil
	}
	for i := v; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("applying schema step %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(len(steps))); err != nil {
		return fmt.Errorf("setting schema version %d: %w", len(steps), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing migration to version %d: %w", len(steps), err)
	}
	return nil
}

// retain deletes events older than maxAge and all but the newest maxRows.
func retain(ctx context.Context, db *sql.DB, now time.Time, maxAge time.Duration, maxRows int) (int64, error) {
	var total int64
	if maxAge > 0 {
		res, err := db.ExecContext(ctx, "DELETE FROM events WHERE ts < ?", now.Add(-maxAge).UnixNano())
		if err != nil {
			return total, fmt.Errorf("deleting events older than %s: %w", maxAge, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	if maxRows > 0 {
		res, err := db.ExecContext(ctx, `DELETE FROM events WHERE id IN
			(SELECT id FROM events ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)`, maxRows)
		if err != nil {
			return total, fmt.Errorf("keeping newest %d events: %w", maxRows, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// MoveAside renames the database at path, with its -wal and -shm files, to
// path.corrupt-<UTC time> and returns the new name, so the agent can start
// with a fresh log and a parent or support can still inspect the old one.
// Use it only after [ErrCorrupt]; never after [ErrNewerSchema].
func MoveAside(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	dst := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("moving corrupt block log aside: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		err := os.Rename(path+suffix, dst+suffix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return dst, fmt.Errorf("moving corrupt block log %s aside: %w", suffix, err)
		}
	}
	return dst, nil
}

// OpenOrMoveAside opens the log; if the file is corrupt it moves it aside
// with [MoveAside], logs where to, and opens a fresh one. It returns the
// moved-to path, or "" when nothing was moved. Other errors, including
// [ErrNewerSchema], are returned untouched and nothing is moved.
func OpenOrMoveAside(ctx context.Context, cfg Config) (*Log, string, error) {
	l, err := Open(ctx, cfg)
	if err == nil || !errors.Is(err, ErrCorrupt) {
		return l, "", err
	}
	cfg = withDefaults(cfg)
	moved, merr := MoveAside(cfg.Path, cfg.Clock())
	if merr != nil {
		return nil, "", errors.Join(err, merr)
	}
	cfg.Logger.Warn("block log corrupt, moved aside, starting fresh", "err", err, "moved_to", moved)
	l, err = Open(ctx, cfg)
	return l, moved, err
}

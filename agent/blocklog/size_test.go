package blocklog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
)

// watchDisk samples the database plus WAL size every millisecond until
// the test ends and returns the largest it saw.
func watchDisk(t *testing.T, path string) (peak func() int64) {
	t.Helper()
	var max atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if n := diskBytes(t, path); n > max.Load() {
				max.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() int64 { return max.Load() }
}

// A flood of distinct blocked hosts, which collapsing cannot help, keeps
// the database and its WAL under MaxBytes the whole time, pruning the
// oldest rows and keeping the newest.
func TestSizeBoundUnderDistinctFlood(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	path := filepath.Join(t.TempDir(), "blocklog.db")
	l := open(t, blocklog.Config{Path: path, MaxBytes: limit, MaxAge: -1, MaxRows: -1})
	flush(t, l)
	peak := watchDisk(t, path)
	const n = 12_000 // ~280 bytes a row with indexes: three times the limit
	for i := range n {
		ev := block(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("h%d.adult.example", i), "")
		for !l.Record(ev) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	flush(t, l)
	if p := peak(); p > limit {
		t.Errorf("database + WAL reached %d bytes, limit %d", p, limit)
	}
	st := l.Stats()
	if st.PrunedForSize == 0 || st.Pruned != st.PrunedForSize || st.Written != n {
		t.Errorf("Stats = %+v, want %d written and some pruned for size", st, n)
	}
	if st.DiskBytes <= 0 || st.DiskBytes > limit {
		t.Errorf("Stats.DiskBytes = %d, want in (0, %d]", st.DiskBytes, limit)
	}
	rows, err := l.CountSince(ctxT(t), t0, "")
	if err != nil {
		t.Fatal(err)
	}
	if uint64(rows)+st.PrunedForSize != n {
		t.Errorf("%d rows + %d pruned != %d written", rows, st.PrunedForSize, n)
	}
	// What is left is exactly the newest rows.
	got, err := l.Query(ctxT(t), blocklog.Filter{Limit: blocklog.MaxQueryLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Host != fmt.Sprintf("h%d.adult.example", n-1) {
		t.Fatalf("newest row %v, want h%d", hosts(got)[:min(1, len(got))], n-1)
	}
	oldest := time.Duration(n-rows) * time.Millisecond
	if n, err := l.CountSince(ctxT(t), t0.Add(oldest), ""); err != nil || n != rows {
		t.Errorf("%d rows at or after the %d newest began, want all %d: oldest were not pruned first", n, rows, rows)
	}
	t.Logf("%d of %d rows kept in %d bytes (peak %d)", rows, n, st.DiskBytes, peak())
	l.Close(ctxT(t))
	t.Logf("after close: pages %d, free %d, on disk %d bytes", pragma(t, path, "page_count"), pragma(t, path, "freelist_count"), diskBytes(t, path))
}

// A database that grew big before the bound (an old version, a bigger
// limit) is brought under the new limit at open, and stays under it.
func TestSizeBoundShrinksOldDatabase(t *testing.T) {
	t.Parallel()
	const limit = 512 << 10
	path := filepath.Join(t.TempDir(), "blocklog.db")
	writeV1(t, path, 10_000) // ~3 MiB
	before := diskBytes(t, path)
	if before < 4*limit {
		t.Fatalf("fixture is %d bytes, want several times %d", before, limit)
	}
	l := open(t, blocklog.Config{Path: path, MaxBytes: limit, MaxAge: -1})
	l.Record(block(t0.Add(24*time.Hour), "new.example", ""))
	flush(t, l)
	if after := diskBytes(t, path); after > limit {
		t.Errorf("database + WAL %d bytes after open, limit %d (was %d)", after, limit, before)
	}
	got, err := l.Query(ctxT(t), blocklog.Filter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Host != "new.example" || got[1].Host != "old9999.example" {
		t.Errorf("newest rows %v, want new.example, old9999.example", hosts(got))
	}
}

func TestOpenRefusesTinyLimit(t *testing.T) {
	t.Parallel()
	_, err := blocklog.Open(ctxT(t), blocklog.Config{Path: filepath.Join(t.TempDir(), "b.db"), MaxBytes: blocklog.MinMaxBytes - 1})
	if err == nil {
		t.Fatal("Open accepted a limit below MinMaxBytes")
	}
}

// A new database is made with incremental vacuum, so the size bound can
// give pages back without a rebuild.
func TestNewDatabaseUsesIncrementalVacuum(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blocklog.db")
	l := open(t, blocklog.Config{Path: path})
	flush(t, l)
	if err := l.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if v := pragma(t, path, "auto_vacuum"); v != 2 {
		t.Errorf("auto_vacuum = %d, want 2 (incremental)", v)
	}
}

package blocklog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/internal/lockedbuf"
)

type syncBuffer = lockedbuf.Buffer

func TestWriterPanicIsRecovered(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs syncBuffer
	l, err := Open(ctx, Config{
		Path:   filepath.Join(t.TempDir(), "blocklog.db"),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		beforeCommit: func(b []Event) {
			for _, ev := range b {
				if ev.Host == "poison.example" {
					panic("poisoned batch")
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())

	l.Record(Event{Host: "poison.example", Action: ActionBlock})
	if err := l.Flush(ctx); !errors.Is(err, errWriterPanic) {
		t.Fatalf("Flush after panic = %v, want errWriterPanic", err)
	}
	if !strings.Contains(logs.String(), "poisoned batch") {
		t.Errorf("panic not logged; logs:\n%s", logs.String())
	}
	// The writer is still alive and the poison is not retried forever.
	l.Record(Event{Host: "good.example", Action: ActionBlock})
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush after recovery = %v", err)
	}
	st := l.Stats()
	if st.Written != 1 || st.Failed != 1 || st.Queued != 0 || !errors.Is(st.LastError, errWriterPanic) {
		t.Errorf("Stats = %+v", st)
	}
	got, err := l.Query(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Host != "good.example" {
		t.Errorf("stored %+v", got)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "abc", 10, "abc"},
		{"cut ascii", "abcdef", 3, "abc"},
		{"cut before multibyte", "ab\u00e9", 3, "ab"},
		{"cut inside 4-byte rune", "a\U0001F600", 4, "a"},
		{"invalid", "a\xffb", 10, "a\uFFFDb"},
		{"nul", "a\x00b", 10, "a\uFFFDb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := clean(tc.in, tc.max); got != tc.want {
				t.Errorf("clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestStoredNanosClamps(t *testing.T) {
	t.Parallel()
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := storedNanos(far); n != maxSec*1e9 {
		t.Errorf("storedNanos(9999) = %d, want the maximum", n)
	}
	if n := storedNanos(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)); n != minSec*1e9 {
		t.Errorf("storedNanos(year 1) = %d, want the minimum", n)
	}
	now := time.Date(2024, 1, 1, 0, 0, 0, 5, time.UTC)
	if n := storedNanos(now); n != now.UnixNano() {
		t.Errorf("storedNanos(2024) = %d", n)
	}
}

// BenchmarkWriteThroughput measures sustained events/s through the batch
// writer, Record to committed, for synchronous FULL (what ships) against
// NORMAL, by batch size: the cost of an fsync per commit, and how batching
// pays for it.
func BenchmarkWriteThroughput(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, batch := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", sync, batch), func(b *testing.B) {
				ctx := context.Background()
				l, err := Open(ctx, Config{
					Path:          filepath.Join(b.TempDir(), "blocklog.db"),
					BatchSize:     batch,
					QueueSize:     4096,
					FlushInterval: time.Millisecond,
					synchronous:   sync,
				})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close(ctx)
				ev := Event{Profile: "child", Client: "127.0.0.1:50000", Host: "www.adult.example", Category: "adult",
					Entry: "adult.example", Source: "vendor", Action: ActionBlock, Reason: "category adult"}
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					// Back-pressure instead of drops: this measures the writer.
					for !l.Record(ev) {
						time.Sleep(50 * time.Microsecond)
					}
				}
				if err := l.Flush(ctx); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.StopTimer()
				if st := l.Stats(); st.Written != uint64(b.N) {
					b.Fatalf("written %d of %d", st.Written, b.N)
				}
				b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			})
		}
	}
}

package blocklog_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
)

// BenchmarkRecord is the proxy's hot path: queue one event. The writer runs
// concurrently; "dropped/op" shows how often the queue was full.
func BenchmarkRecord(b *testing.B) {
	ev := blocklog.Event{Time: t0, Profile: "child", Client: "127.0.0.1:50000", Host: "www.adult.example",
		Category: "adult", Entry: "adult.example", Source: "vendor", Action: blocklog.ActionBlock}
	run := func(b *testing.B, parallel bool) {
		l := open(b, blocklog.Config{QueueSize: 1 << 16, BatchSize: 1024})
		b.ReportAllocs()
		b.ResetTimer()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Record(ev)
				}
			})
		} else {
			for range b.N {
				l.Record(ev)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(l.Stats().Dropped)/float64(b.N), "dropped/op")
	}
	b.Run("serial", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}

const fixtureRows = 100_000

// fixture fills a log with 100k events spread over 365 days, 4 categories,
// 3 actions and 2 profiles.
func fixture(b *testing.B) *blocklog.Log {
	b.Helper()
	l := open(b, blocklog.Config{Path: filepath.Join(b.TempDir(), "bench.db"), QueueSize: 1 << 17, BatchSize: 4096, MaxRows: -1, MaxAge: -1})
	cats := []string{"adult", "gambling", "drugs", "violence"}
	actions := []blocklog.Action{blocklog.ActionBlock, blocklog.ActionBlock, blocklog.ActionBlock, blocklog.ActionRequest, blocklog.ActionGrant}
	step := 365 * 24 * time.Hour / fixtureRows
	start := t0.Add(-365 * 24 * time.Hour)
	for i := range fixtureRows {
		for !l.Record(blocklog.Event{
			Time: start.Add(time.Duration(i) * step), Profile: []string{"child", "teen"}[i%2], Client: "127.0.0.1",
			Host: fmt.Sprintf("h%d.%s.example", i%5000, cats[i%4]), Category: cats[i%4], Action: actions[i%5],
		}) {
			time.Sleep(time.Millisecond)
		}
	}
	flush(b, l)
	return l
}

// Last run (AMD EPYC, 2 shared cores, 100k rows): newest 100 0.47ms,
// category 0.57ms, action last week 0.31ms, host contains 77ms (a scan),
// offset 50000 5ms, count since today 34µs.
func BenchmarkQuery(b *testing.B) {
	l := fixture(b)
	ctx := context.Background()
	tests := []struct {
		name string
		f    blocklog.Filter
	}{
		{"newest 100", blocklog.Filter{}},
		{"category", blocklog.Filter{Category: "drugs"}},
		{"action last week", blocklog.Filter{Action: blocklog.ActionRequest, From: t0.Add(-7 * 24 * time.Hour)}},
		{"host contains", blocklog.Filter{HostContains: "h4999.violence"}},
		{"host contains none", blocklog.Filter{HostContains: "nowhere"}},
		{"offset 50000", blocklog.Filter{Offset: 50_000}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for range b.N {
				evs, err := l.Query(ctx, tc.f)
				if err != nil {
					b.Fatal(err)
				}
				n = len(evs)
			}
			b.ReportMetric(float64(n), "rows")
		})
	}
	b.Run("count since today", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := l.CountSince(ctx, t0.Add(-24*time.Hour), blocklog.ActionBlock); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Last run (AMD EPYC, 2 shared cores, 100k rows over a year): 7 days 2.8ms,
// 30 days 12ms, 365 days 169ms.
func BenchmarkCountsByDayCategory(b *testing.B) {
	l := fixture(b)
	ctx := context.Background()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	for _, days := range []int{7, 30, 365} {
		b.Run(fmt.Sprintf("days=%d", days), func(b *testing.B) {
			b.ReportAllocs()
			var rows int
			for range b.N {
				dc, err := l.CountsByDayCategory(ctx, t0.Add(-time.Duration(days)*24*time.Hour), t0, berlin)
				if err != nil {
					b.Fatal(err)
				}
				rows = len(dc)
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

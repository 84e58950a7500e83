package blocklog

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The day counts must range-scan the ts index per period; a full scan of
// the events is what a 100k-row log cannot afford.
func TestCountsByDayUsesIndex(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "blocklog.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	rows, err := l.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+countsByDaySQL, "[[1,2,3]]")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	// Only blocks are counted, so the (action, ts) index is the range.
	if !strings.Contains(joined, "SEARCH e USING INDEX events_action_ts (action=? AND ts>? AND ts<?)") || strings.Contains(joined, "SCAN e") {
		t.Errorf("plan does not range-scan events_action_ts:\n%s", joined)
	}
}

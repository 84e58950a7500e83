package blocklog_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
)

// crashEnv names the database the crash child writes to; set only in the
// child process.
const crashEnv = "BLOCKLOG_CRASH_CHILD_DB"

const crashBatch = 50

// TestCrashChild is the child half of TestCrashKeepsFlushedBatches: it
// records batches forever, reporting each one on stdout after Flush
// returns, until it is killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashKeepsFlushedBatches")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := blocklog.Open(ctx, blocklog.Config{Path: path, BatchSize: 16, FlushInterval: time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for k := 0; ctx.Err() == nil; k++ {
		for i := range crashBatch {
			for !l.Record(blocklog.Event{Host: fmt.Sprintf("b%d-%d.example", k, i), Reason: strconv.Itoa(k), Action: blocklog.ActionBlock}) {
				time.Sleep(time.Millisecond)
			}
		}
		if err := l.Flush(ctx); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		// os.Stdout is unbuffered: once the parent reads this line the
		// promise has been made.
		fmt.Printf("flushed %d\n", k)
	}
	os.Exit(3)
}

func TestCrashKeepsFlushedBatches(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "blocklog.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill after a batch count that varies with the run, so the kill lands
	// at different points of the write path.
	killAt := 20 + int(time.Now().UnixNano()%17)
	var flushed []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		k, ok := strings.CutPrefix(line, "flushed ")
		if !ok {
			t.Fatalf("child: %s", line)
		}
		n, err := strconv.Atoi(k)
		if err != nil {
			t.Fatalf("child: %s", line)
		}
		flushed = append(flushed, n)
		if n == killAt {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if len(flushed) <= killAt {
		t.Fatalf("child exited after %d batches: %v", len(flushed), err)
	}

	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	for _, k := range flushed {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM events WHERE reason = ?", strconv.Itoa(k)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != crashBatch {
			t.Errorf("batch %d reported flushed has %d of %d events", k, n, crashBatch)
		}
	}
	// And the log opens again and takes new events.
	l := open(t, blocklog.Config{Path: path})
	l.Record(blocklog.Event{Host: "after.example"})
	flush(t, l)
	t.Logf("killed after %d reported batches", len(flushed))
}

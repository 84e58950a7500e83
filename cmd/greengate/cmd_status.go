package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

// cmdStatus asks the running agent how it is; anyone may (no password).
// Exit 0 running, 1 not running, 2 error.
func cmdStatus(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	socket := fs.String("socket", client.DefaultSocket, "admin API socket or pipe")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return 2
	}
	c := client.New(client.Config{Socket: *socket, Timeout: 5 * time.Second})
	defer c.Close()
	st, err := c.Status(ctx)
	if errors.Is(err, client.ErrAgentNotRunning) {
		fmt.Fprintf(e.stdout, "GreenGate: not running (nothing answers on %s)\n", *socket)
		return 1
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate status: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return 2
		}
		return 0
	}
	printStatus(e, st)
	return 0
}

// mib shows a byte count for people: "1.5 MiB"; negative is "no limit".
func mib(n int64) string {
	if n < 0 {
		return "no limit"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

func printStatus(e *env, st client.Status) {
	w := e.stdout
	fmt.Fprintf(w, "GreenGate: running (version %s), proxy %s\n", st.Version, st.ProxyAddr)
	if st.PasswordSet {
		fmt.Fprintln(w, "parent password: set")
	} else {
		fmt.Fprintln(w, "parent password: NOT SET - nothing can be changed until an administrator runs `sudo greengate settings password`")
	}
	if st.Paused {
		fmt.Fprintf(w, "filtering: PAUSED until %s\n", st.PausedUntil.Local().Format("Mon 15:04"))
	} else {
		fmt.Fprintln(w, "filtering: on")
	}
	for _, g := range st.Grants {
		who := g.Profile
		if who == "" {
			who = "every profile"
		}
		fmt.Fprintf(w, "allowed for now: %s (%s) until %s\n", g.Host, who, g.Until.Local().Format("Mon 15:04"))
	}
	if st.HTTPSBlockPages != "" {
		fmt.Fprintf(w, "HTTPS block pages: on, with %s; decrypted: only connections to blocked sites, to show the page\n", st.HTTPSBlockPages)
	} else {
		fmt.Fprintln(w, "HTTPS block pages: off (blocked HTTPS sites are refused with no page); nothing is ever decrypted")
	}
	fmt.Fprintf(w, "blocked today: %d visits (%d attempts)\n", st.BlockedToday, st.BlockedAttemptsToday)
	if b := st.BlockLog; b != nil {
		line := fmt.Sprintf("block log: %s of %s on disk, %d repeats collapsed, %d pruned (%d for size), %d dropped",
			mib(b.Bytes), mib(b.MaxBytes), b.Collapsed, b.Pruned, b.PrunedForSize, b.Dropped)
		if b.LastError != "" {
			line += ", last error: " + b.LastError
		}
		fmt.Fprintln(w, line)
	}
	if len(st.RuleCounts) > 0 {
		var parts []string
		for _, id := range slices.Sorted(maps.Keys(st.RuleCounts)) {
			parts = append(parts, fmt.Sprintf("%s %d", id, st.RuleCounts[id]))
		}
		fmt.Fprintf(w, "rules: %s\n", strings.Join(parts, ", "))
	}
	for _, b := range st.Bundles {
		line := fmt.Sprintf("bundle %s: version %d", b.Publisher, b.Version)
		if !b.LastSuccess.IsZero() {
			line += ", updated " + b.LastSuccess.Local().Format(time.DateTime)
		}
		if b.Expired {
			line += ", EXPIRED since " + b.Expires.Local().Format(time.DateTime) + " (still filtering with it until a newer one installs)"
		}
		if b.LastError != "" {
			line += ", last error: " + b.LastError
		}
		fmt.Fprintln(w, line)
	}
	if st.SettingsError != "" {
		fmt.Fprintf(w, "settings: the file on disk was REFUSED; the previous settings stay in force:\n  %s\n",
			strings.ReplaceAll(st.SettingsError, "\n", "\n  "))
	} else {
		fmt.Fprintln(w, "settings: ok")
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

// cmdLogs reads the block log through the running agent's admin API:
// the parent password opens it, as in the tray. One line a visit, with
// how many attempts it stands for; --csv exports every match.
func cmdLogs(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	socket := fs.String("socket", client.DefaultSocket, "admin API socket or pipe")
	since := fs.String("since", "24h", `from: a duration back from now ("2h", "7d") or a date ("2006-01-02", RFC 3339)`)
	until := fs.String("until", "", "to (exclusive): as --since; default now")
	category := fs.String("category", "", "only this category (adult, gambling, ...)")
	host := fs.String("host", "", "only hosts containing this text")
	action := fs.String("action", "", "only this action: block, grant, pause, request, admin")
	profile := fs.String("profile", "", "only this profile")
	limit := fs.Int("limit", 100, "most visits shown (not with --csv)")
	csv := fs.Bool("csv", false, "print every match as CSV (for a spreadsheet)")
	pwStdin := fs.Bool("password-stdin", false, "read the parent password from the first line of standard input")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: greengate logs [flags]   (the parent password opens the block log)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "greengate logs: %v\n", err)
		return 2
	}
	now := time.Now()
	from, err := whenFlag(*since, now)
	if err != nil {
		return fail(fmt.Errorf("--since: %w", err))
	}
	to := now
	if *until != "" {
		if to, err = whenFlag(*until, now); err != nil {
			return fail(fmt.Errorf("--until: %w", err))
		}
	}
	f := client.EventFilter{From: from, To: to, Category: *category, HostContains: *host, Action: *action, Profile: *profile, Limit: *limit}
	c := client.New(client.Config{Socket: *socket, Timeout: 30 * time.Second})
	defer c.Close()
	pw, err := readPassword(e, "Parent password: ", *pwStdin)
	if err != nil {
		return fail(err)
	}
	if err := c.Login(ctx, pw); err != nil {
		if errors.Is(err, client.ErrWrongPassword) {
			fmt.Fprintln(e.stderr, "greengate logs: wrong password")
			return 1
		}
		return fail(err)
	}
	defer c.Logout(context.WithoutCancel(ctx))
	if *csv {
		f.Limit = 0
		if err := c.ExportCSV(ctx, f, e.stdout); err != nil {
			return fail(err)
		}
		return 0
	}
	evs, err := c.Events(ctx, f)
	if err != nil {
		return fail(err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTION\tHOST\tCATEGORY\tATTEMPTS\tWHY")
	for _, ev := range evs {
		why := ev.Entry
		if ev.Source != "" && ev.Source != "classifier" {
			why += " (" + ev.Source + ")"
		}
		if why == "" {
			why = ev.Reason
		}
		n := max(ev.Count, 1)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", ev.Time.Local().Format("2006-01-02 15:04"), ev.Action, dash(ev.Host), dash(ev.Category), n, dash(why))
	}
	tw.Flush()
	fmt.Fprintf(e.stderr, "%d visits from %s to %s\n", len(evs), from.Local().Format("2006-01-02 15:04"), to.Local().Format("2006-01-02 15:04"))
	return 0
}

// whenFlag reads a time flag: a duration back from now ("90m", "2h",
// "7d"), a date (local midnight), or RFC 3339.
func whenFlag(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (2h, 7d), a date (2006-01-02) nor RFC 3339", s)
}

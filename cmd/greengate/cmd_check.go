package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/match"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

// listFlags collects repeated --list CATEGORY=FILE flags.
type listFlags []listSpec

type listSpec struct{ category, path string }

func (l *listFlags) String() string { return fmt.Sprint(*l) }

func (l *listFlags) Set(v string) error {
	cat, path, ok := strings.Cut(v, "=")
	if !ok || cat == "" || path == "" {
		return fmt.Errorf("want CATEGORY=FILE, got %q", v)
	}
	*l = append(*l, listSpec{cat, path})
	return nil
}

// buildEngine builds an engine from the embedded defaults plus extra list
// files, with the host name classifier unless classifier is false.
// Rejected lines are reported on w, not fatal.
func buildEngine(extra listFlags, classifier bool, w io.Writer) (*policy.Engine, error) {
	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		return nil, err
	}
	for _, l := range extra {
		st, err := b.AddFile(l.category, l.path)
		if err != nil {
			return nil, err
		}
		if n := st.Rejected() - st.Skipped[lists.ReasonDuplicate]; n > 0 {
			fmt.Fprintf(w, "greengate: %s: %d lines skipped (first: %v)\n", l.path, n, st.Errors[0])
		}
	}
	// A list named on the command line is there to be blocked.
	p := defaults.Profile()
	for _, l := range extra {
		if !slices.Contains(p.Block, l.category) {
			p.Block = append(p.Block, l.category)
		}
	}
	cats, safe := b.Build()
	cfg := policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{p}}
	if classifier {
		c, err := defaults.Classifier()
		if err != nil {
			return nil, err
		}
		cfg.Classifier = c
	}
	return policy.New(cfg)
}

func cmdCheck(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var extra listFlags
	profile := fs.String("profile", "", "profile to decide for (default: the default profile)")
	at := fs.String("at", "", `decide as at this time: RFC 3339, or "2006-01-02 15:04" local`)
	format := fs.String("format", "text", "output: text or tsv")
	classifier := fs.Bool("classifier", true, "classify names no list has from their words (the entry shows the words and the score)")
	fs.Var(&extra, "list", "add a list: CATEGORY=FILE (repeatable; any format)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: greengate check [flags] URL-or-HOST... (or - to read one per line from stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || (*format != "text" && *format != "tsv") {
		fs.Usage()
		return 2
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			t, err = time.ParseInLocation("2006-01-02 15:04", *at, time.Local)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate check: --at %q: want RFC 3339 or \"2006-01-02 15:04\"\n", *at)
			return 2
		}
		now = t
	}
	eng, err := buildEngine(extra, *classifier, e.stderr)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate check: %v\n", err)
		return 2
	}

	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	var tw *tabwriter.Writer
	if *format == "text" {
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		defer tw.Flush()
	}
	blocked, failed := false, false
	decide := func(input string) {
		input = strings.TrimSpace(input)
		if input == "" || strings.HasPrefix(input, "#") {
			return
		}
		req, hidden, err := parseTarget(input)
		if err != nil {
			failed = true
			fmt.Fprintf(e.stderr, "greengate check: %s: %v\n", input, err)
			if tw == nil {
				// One TSV line per input, always: a script pairs them up.
				fmt.Fprintf(out, "error\t\t\t\t%s\n", input)
			}
			return
		}
		req.Time, req.Profile = now, *profile
		v := eng.Decide(req)
		if v.Action == policy.Block {
			blocked = true
		}
		reason := v.Reason.String()
		if hidden != "" && v.Action != policy.Block {
			// The agent sees an HTTPS URL's host, never its path: say so
			// when a path rule would have decided otherwise.
			req.Path = hidden
			if pv := eng.Decide(req); pv.Action == policy.Block {
				reason = "path rule needs inspection (off): " + pv.Entry + " (" + pv.Source + ")"
			}
		}
		if tw != nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(v.Action.String()), input, dash(v.Category), dash(v.Entry), dash(v.Source), reason)
		} else {
			fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%s\n", v.Action, v.Category, v.Entry, v.Source, input)
		}
	}
	for _, a := range fs.Args() {
		if a != "-" {
			decide(a)
			continue
		}
		// Lines of any length: one longer than a URL can be is reported
		// and skipped, and the lines after it are still read.
		br := bufio.NewReaderSize(e.stdin, 64<<10)
		for {
			if ctx.Err() != nil {
				return 2
			}
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				for errors.Is(err, bufio.ErrBufferFull) {
					_, err = br.ReadSlice('\n')
				}
				decide(string(line[:64]) + "… (a line over 64 KiB)")
			} else if len(line) > 0 {
				decide(string(line))
			}
			if err == io.EOF {
				break
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				fmt.Fprintf(e.stderr, "greengate check: reading stdin: %v\n", err)
				failed = true
				break
			}
		}
	}
	switch {
	case failed:
		return 2
	case blocked:
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseTarget reads a URL, "host/path" or a host as the proxy would see
// the request: a path only for plain HTTP. For HTTPS it returns the path
// the agent cannot see as hidden.
func parseTarget(s string) (req policy.Request, hidden string, err error) {
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/?") {
			s = "http://" + s
		} else {
			h, err := hostname.NormalizeRequest(s)
			return policy.Request{Host: h}, "", err
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return policy.Request{}, "", err
	}
	h, err := hostname.NormalizeRequest(u.Host)
	if err != nil {
		return policy.Request{}, "", fmt.Errorf("host %q: %w", u.Host, err)
	}
	req = policy.Request{Host: h}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	switch u.Scheme {
	case "http":
		req.Path = path
	case "https":
		// Only the host is visible without decrypting.
		hidden = path
	default:
		return policy.Request{}, "", errors.New("scheme must be http or https")
	}
	return req, hidden, nil
}

func cmdLists(ctx context.Context, e *env, args []string) int {
	if len(args) < 2 || args[0] != "stats" {
		fmt.Fprintln(e.stderr, "usage: greengate lists stats FILE...")
		return 2
	}
	code := 0
	for _, path := range args[1:] {
		if err := listStats(e.stdout, path); err != nil {
			fmt.Fprintf(e.stderr, "greengate lists: %v\n", err)
			code = 2
		}
	}
	return code
}

func heapNow() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func listStats(w io.Writer, path string) error {
	before := heapNow()
	start := time.Now()
	var db, allow match.DomainBuilder
	var ub match.URLBuilder
	db.Source(path)
	st, err := lists.ParseFile(path, lists.Options{}, func(e lists.Entry) error {
		switch e.Kind {
		case lists.Domain:
			db.Add(e.Value, e.Line)
		case lists.AllowDomain:
			allow.Add(e.Value, e.Line)
		case lists.URL:
			ub.Add(e.Value, e.Line)
		}
		return nil
	})
	if err != nil {
		return err
	}
	dups := db.Duplicates() + ub.Duplicates() + allow.Duplicates()
	d, a, u := db.Build(), allow.Build(), ub.Build()
	elapsed := time.Since(start)
	// The domain sets live outside the Go heap (mapped) where the OS
	// allows: count both, or a million entries would read as 0 MiB.
	heap := heapNow() - min(before, heapNow()) + uint64(d.OutsideHeap()+a.OutsideHeap())
	fmt.Fprintf(w, "%s\n  format      %s\n  lines       %d\n  entries     %d (domains %d, allow %d, urls %d, duplicates %d)\n",
		path, st.Format, st.Lines, st.Entries, d.Len(), a.Len(), u.Len(), dups)
	fmt.Fprintf(w, "  comments    %d\n  skipped     %d\n", st.Comments, st.Rejected())
	reasons := make([]string, 0, len(st.Skipped))
	for r := range st.Skipped {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "    %-22s %d\n", r, st.Skipped[r])
	}
	for _, le := range st.Errors[:min(5, len(st.Errors))] {
		fmt.Fprintf(w, "    e.g. %v\n", le)
	}
	fmt.Fprintf(w, "  build time  %v\n", elapsed.Round(time.Millisecond))
	if n := d.Len() + a.Len() + u.Len(); n >= 10000 {
		fmt.Fprintf(w, "  memory      %.1f MiB (%.1f B/entry)\n", float64(heap)/(1<<20), float64(heap)/float64(n))
	} else {
		fmt.Fprintln(w, "  memory      too few entries to measure")
	}
	runtime.KeepAlive(d)
	runtime.KeepAlive(a)
	runtime.KeepAlive(u)
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the operation ran and said no (bad bundle, I/O error)
	exitUsage = 2
)

// A command is one subcommand. To add one, write its func and add it to
// commands; run, the usage text and the tests pick it up from there.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"keygen":  {"generate a root or signing key pair", cmdKeygen},
		"build":   {"build a bundle from list files or URLs, and sign it", cmdBuild},
		"certify": {"sign a signing key's certificate with a root key", cmdCertify},
		"sign":    {"sign a bundle source (JSON) into a bundle", cmdSign},
		"serve":   {"serve a directory of bundles over HTTP(S) with ETags", cmdServe},
		"verify":  {"verify a bundle against pinned root keys", cmdVerify},
		"inspect": {"print a bundle's metadata and counts, optionally diffed", cmdInspect},
		"version": {"print the version this binary was built from", cmdVersion},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		return exitUsage
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "greengate-publisher: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: greengate-publisher COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'greengate-publisher COMMAND -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors to stderr and does not exit.
func newFlags(name, argsUsage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: greengate-publisher %s %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags anywhere among the positional arguments, so both
// "verify FILE -root-key K" and "verify -root-key K FILE" work.
func parseArgs(fs *flag.FlagSet, args []string, nPos int) ([]string, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != nPos {
		fs.Usage()
		return nil, false
	}
	return pos, true
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// timeFlag is an RFC 3339 time; zero when not given.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("want RFC 3339, e.g. 2026-03-01T00:00:00Z: %w", err)
	}
	f.t = t
	return nil
}

func (f *timeFlag) or(def time.Time) time.Time {
	if f.t.IsZero() {
		return def
	}
	return f.t
}

func readRoots(files []string) (*bundle.Roots, error) {
	if len(files) == 0 {
		return nil, errors.New("no -root-key given")
	}
	var text strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading root key: %w", err)
		}
		text.Write(b)
		text.WriteByte('\n')
	}
	return bundle.ParseRoots(text.String())
}

func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "greengate-publisher %s: %v\n", cmd, err)
	return exitFail
}

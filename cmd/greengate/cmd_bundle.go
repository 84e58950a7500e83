package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
)

// cmdBundle checks and side-loads signed rule bundles with exactly the
// checks the agent's updater runs on a download (update.Verify):
//
//	greengate bundle verify FILE --root-key ROOT.pub... [--installed-version N] [--publisher ID]
//	greengate bundle install FILE --root-key ROOT.pub... [--dir DIR]
//
// A refusal exits 1 and names the failed check; a usage or I/O error exits 2.
func cmdBundle(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: greengate bundle verify|install FILE --root-key ROOT.pub [flags]")
		return 2
	}
	switch args[0] {
	case "verify":
		return bundleVerify(e, args[1:])
	case "install":
		return bundleInstall(e, args[1:])
	}
	fmt.Fprintf(e.stderr, "greengate bundle: unknown subcommand %q (want verify or install)\n", args[0])
	return 2
}

// bundleFlags are the flags both subcommands share.
type bundleFlags struct {
	fs    *flag.FlagSet
	roots stringsFlag
	now   string
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func newBundleFlags(e *env, name, argsUsage string) *bundleFlags {
	f := &bundleFlags{fs: flag.NewFlagSet("bundle "+name, flag.ContinueOnError)}
	f.fs.SetOutput(e.stderr)
	f.fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: greengate bundle %s %s\n", name, argsUsage)
		f.fs.PrintDefaults()
	}
	f.fs.Var(&f.roots, "root-key", "pinned root public key file (repeatable; several keys per file allowed)")
	f.fs.StringVar(&f.now, "now", "", "check validity as of this RFC 3339 time instead of now (offline checks, tests)")
	return f
}

// parse accepts flags before and after the one FILE argument.
func (f *bundleFlags) parse(args []string) (file string, now time.Time, ok bool) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return "", time.Time{}, false
		}
		if args = f.fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != 1 || len(f.roots) == 0 {
		f.fs.Usage()
		return "", time.Time{}, false
	}
	now = time.Now()
	if f.now != "" {
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			fmt.Fprintf(f.fs.Output(), "greengate bundle: --now: %v\n", err)
			return "", time.Time{}, false
		}
		now = t
	}
	return pos[0], now, true
}

func (f *bundleFlags) readRoots() (*bundle.Roots, error) {
	var text strings.Builder
	for _, p := range f.roots {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading root key: %w", err)
		}
		text.Write(b)
		text.WriteByte('\n')
	}
	r, err := bundle.ParseRoots(text.String())
	if err != nil {
		return nil, fmt.Errorf("reading root keys %s: %w", f.roots.String(), err)
	}
	return r, nil
}

// readBundleFile reads at most the largest bundle a conforming reader
// accepts, plus one byte so an oversized file is refused by the checks.
func readBundleFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, bundle.MaxBundleSize+1))
}

func refuse(e *env, file string, err error) int {
	fmt.Fprintf(e.stdout, "REFUSED %s\ncheck:   %s\nerror:   %v\n", file, update.FailedCheck(err), err)
	return 1
}

func printBundle(w io.Writer, b *bundle.Bundle) {
	n := b.Counts()
	fmt.Fprintf(w, "publisher: %s\nversion:   %d\ncreated:   %s\nexpires:   %s\nentries:   %d categories, %d domains, %d URLs, %d allow, %d safe-search engines\n",
		b.Publisher, b.Version, b.Created.Format(time.RFC3339), b.Expires.Format(time.RFC3339),
		len(b.Categories), n.Domains, n.URLs, n.Allow, len(b.SafeSearch))
	if c := b.Cert; c != nil {
		fmt.Fprintf(w, "signed by: %s+%08x, certified by root %s+%08x until %s\n",
			c.Signer.Name, c.Signer.ID, c.RootName, c.RootID, c.NotAfter.Format(time.RFC3339))
	}
}

func bundleVerify(e *env, args []string) int {
	f := newBundleFlags(e, "verify", "FILE --root-key ROOT.pub... [--installed-version N] [--publisher ID] [--now T]")
	installed := f.fs.Uint64("installed-version", 0, "version installed now; the bundle must be newer")
	publisher := f.fs.String("publisher", "", "publisher id the bundle must carry (as the agent's source names it)")
	file, now, ok := f.parse(args)
	if !ok {
		return 2
	}
	roots, err := f.readRoots()
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate bundle verify: %v\n", err)
		return 2
	}
	data, err := readBundleFile(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate bundle verify: %v\n", err)
		return 2
	}
	b, err := update.Verify(data, roots, *publisher, *installed, now)
	if err != nil {
		return refuse(e, file, err)
	}
	fmt.Fprintf(e.stdout, "OK %s\n", file)
	printBundle(e.stdout, b)
	return 0
}

func bundleInstall(e *env, args []string) int {
	f := newBundleFlags(e, "install", "FILE --root-key ROOT.pub... [--dir DIR] [--now T]")
	// Where the service keeps them (agent/service: DataDir/bundles).
	dir := f.fs.String("dir", filepath.Join(settings.DefaultStateDir, "bundles"), "bundle directory of the agent")
	file, now, ok := f.parse(args)
	if !ok {
		return 2
	}
	roots, err := f.readRoots()
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate bundle install: %v\n", err)
		return 2
	}
	data, err := readBundleFile(file)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate bundle install: %v\n", err)
		return 2
	}
	// The publisher is known only from the verified bundle; it picks the
	// file the bundle is installed as and the version it must beat.
	b, err := update.Verify(data, roots, "", 0, now)
	if err != nil {
		return refuse(e, file, err)
	}
	u, err := update.New(update.Config{
		Dir:     *dir,
		Sources: []update.Source{{Publisher: b.Publisher, Roots: roots}},
		Clock:   func() time.Time { return now },
	})
	if err != nil {
		return refuse(e, file, fmt.Errorf("%w: publisher %q cannot name a bundle file: %v", update.ErrNoSource, b.Publisher, err))
	}
	u.Load()
	before := u.Status()[0]
	if before.LastError != nil {
		fmt.Fprintf(e.stderr, "greengate bundle install: note: installed bundle refused on load: %v\n", before.LastError)
	}
	if _, err := u.Install(data); err != nil {
		if errors.Is(err, update.ErrStore) {
			fmt.Fprintf(e.stderr, "greengate bundle install: %v\n", err)
			return 2
		}
		return refuse(e, file, err)
	}
	if before.Version == b.Version {
		// Only the identical file passes the version check at the same
		// version: nothing was written.
		fmt.Fprintf(e.stdout, "ALREADY INSTALLED %s: identical to %s in %s\n", file, b.Publisher+".bundle", *dir)
		return 0
	}
	fmt.Fprintf(e.stdout, "INSTALLED %s as %s in %s (was version %d)\n", file, b.Publisher+".bundle", *dir, before.Version)
	printBundle(e.stdout, b)
	fmt.Fprintln(e.stdout, "A running agent picks it up when it restarts.")
	return 0
}

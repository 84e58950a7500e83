package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

func checkName(err error) string {
	if name := bundle.FailedCheck(err); name != "" {
		return name
	}
	return "reading"
}

func openFile(path string, roots *bundle.Roots, now time.Time) (*bundle.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if roots == nil {
		return bundle.Inspect(f)
	}
	return bundle.Open(f, roots, now)
}

func cmdVerify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "FILE -root-key ROOT.pub [-root-key ROOT2.pub] [-now T] [-installed N]", stderr)
	var rootFiles listFlag
	fs.Var(&rootFiles, "root-key", "pinned root public key file (repeatable)")
	var now timeFlag
	fs.Var(&now, "now", "verify as of this time (RFC 3339; default now)")
	installed := fs.Uint64("installed", 0, "version already installed; the bundle must be newer")
	pos, ok := parseArgs(fs, args, 1)
	if !ok {
		return exitUsage
	}
	if len(rootFiles) == 0 {
		fs.Usage()
		return exitUsage
	}
	roots, err := readRoots(rootFiles)
	if err != nil {
		return fail(stderr, "verify", err)
	}
	b, err := openFile(pos[0], roots, now.or(time.Now()))
	if err == nil {
		err = bundle.CheckVersion(*installed, b)
	}
	if err != nil {
		fmt.Fprintf(stdout, "FAIL %s\ncheck: %s\nerror: %v\n", pos[0], checkName(err), err)
		return exitFail
	}
	fmt.Fprintf(stdout, "OK %s\n", pos[0])
	printMeta(stdout, b)
	return exitOK
}

func printMeta(w io.Writer, b *bundle.Bundle) {
	fmt.Fprintf(w, "version:    %d (format %d)\npublisher:  %s\ncreated:    %s\nexpires:    %s\n",
		b.Version, b.Format, b.Publisher, b.Created.Format(time.RFC3339), b.Expires.Format(time.RFC3339))
	if c := b.Cert; c != nil {
		fmt.Fprintf(w, "signed by:  %s+%08x, certified by root %s+%08x for %s to %s\n",
			c.Signer.Name, c.Signer.ID, c.RootName, c.RootID, c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	}
}

func cmdInspect(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("inspect", "FILE [-against OLD] [-root-key ROOT.pub -now T]", stderr)
	against := fs.String("against", "", "previous bundle to diff entry counts against")
	var rootFiles listFlag
	fs.Var(&rootFiles, "root-key", "verify with this root public key file (repeatable); without it nothing is verified")
	var now timeFlag
	fs.Var(&now, "now", "verify as of this time (RFC 3339; default now)")
	pos, ok := parseArgs(fs, args, 1)
	if !ok {
		return exitUsage
	}
	var roots *bundle.Roots
	if len(rootFiles) > 0 {
		var err error
		if roots, err = readRoots(rootFiles); err != nil {
			return fail(stderr, "inspect", err)
		}
	}
	b, err := openFile(pos[0], roots, now.or(time.Now()))
	if err != nil {
		return fail(stderr, "inspect", fmt.Errorf("%s: check %s: %w", pos[0], checkName(err), err))
	}
	var old *bundle.Bundle
	if *against != "" {
		if old, err = openFile(*against, roots, now.or(time.Now())); err != nil {
			return fail(stderr, "inspect", fmt.Errorf("%s: check %s: %w", *against, checkName(err), err))
		}
	}
	fmt.Fprintf(stdout, "file:       %s\n", pos[0])
	if roots == nil {
		fmt.Fprintln(stdout, "signature:  NOT VERIFIED (give -root-key to verify)")
	} else {
		fmt.Fprintln(stdout, "signature:  verified")
	}
	printMeta(stdout, b)
	if old != nil {
		fmt.Fprintf(stdout, "against:    %s (version %d)\n", *against, old.Version)
	}
	fmt.Fprintln(stdout)
	printCounts(stdout, b, old)
	return exitOK
}

// printCounts prints entry counts per category and list, and with old the
// change from old, including categories and lists that were dropped.
func printCounts(w io.Writer, b, old *bundle.Bundle) {
	type key struct{ cat, src string }
	prev := map[key]bundle.Counts{}
	var order []key
	if old != nil {
		for _, c := range old.Categories {
			prev[key{c.ID, ""}] = c.Counts()
			order = append(order, key{c.ID, ""})
			for _, l := range c.Lists {
				prev[key{c.ID, l.Source}] = bundle.Counts{Domains: len(l.Domains), URLs: len(l.URLs), Allow: len(l.Allow)}
			}
		}
	}
	row := func(label string, n bundle.Counts, k key) {
		fmt.Fprintf(w, "%-40s %9d domains %7d urls %7d allow", label, n.Domains, n.URLs, n.Allow)
		if old != nil {
			p, ok := prev[k]
			if !ok {
				fmt.Fprint(w, "   (new)")
			} else {
				fmt.Fprintf(w, "   %+d / %+d / %+d", n.Domains-p.Domains, n.URLs-p.URLs, n.Allow-p.Allow)
			}
			delete(prev, k)
		}
		fmt.Fprintln(w)
	}
	for _, c := range b.Categories {
		row(fmt.Sprintf("%s (%s / %s)", c.ID, c.Name.EN, c.Name.ZH), c.Counts(), key{c.ID, ""})
		for _, l := range c.Lists {
			row("  "+l.Source, bundle.Counts{Domains: len(l.Domains), URLs: len(l.URLs), Allow: len(l.Allow)}, key{c.ID, l.Source})
		}
	}
	for _, k := range order {
		if p, ok := prev[k]; ok {
			fmt.Fprintf(w, "%-40s removed (had %d domains, %d urls, %d allow)\n", k.cat, p.Domains, p.URLs, p.Allow)
		}
	}
	total := b.Counts()
	fmt.Fprintf(w, "%-40s %9d domains %7d urls %7d allow\n", "total", total.Domains, total.URLs, total.Allow)
	for _, e := range b.SafeSearch {
		fmt.Fprintf(w, "safe search %-12s %v -> %s %s %s\n", e.Name, e.Hosts, e.Target, e.ModerateTarget, e.Param)
	}
}

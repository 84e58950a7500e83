package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/greengate/greengate/agent/localca"
	"github.com/greengate/greengate/agent/sysproxy"
)

// caDir is where the service keeps its CA: beside its other state, so
// only the service's user reads the key.
func caDir(dataDir string) string { return filepath.Join(dataDir, "ca") }

func cmdCA(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("ca", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dataDir := fs.String("data-dir", defaultDataDir(), "the agent's state directory")
	root := fs.String("root", "/", "file system root the trust steps write under (tests)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: greengate ca [--data-dir DIR] status|export|install|uninstall

The local CA shows GreenGate's block page for blocked HTTPS sites. It is
made on this machine and never leaves it; allowed HTTPS is never
decrypted with it.

  status     whether the CA exists, its name and fingerprint, and which
             trust stores trust it
  export     print the CA certificate (PEM)
  install    make the CA (if there is none) and trust it: the system store,
             Chromium and Chrome policies, Firefox policies (root)
  uninstall  remove the trust again and delete the CA (root); the next
             install makes a new one`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	// Flags may also follow the action: greengate ca export --data-dir D.
	action := fs.Arg(0)
	if fs.NArg() > 1 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return 2
		}
		if fs.NArg() != 0 {
			fs.Usage()
			return 2
		}
	} else if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg := localca.Config{Dir: caDir(*dataDir)}
	sys := sysproxy.System{Root: *root}
	switch action {
	case "status":
		ca, err := localca.Load(cfg)
		if errors.Is(err, localca.ErrNoCA) {
			fmt.Fprintln(e.stdout, "local CA: none (HTTPS blocks are refused at CONNECT, with no page)")
			return 0
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate ca: %v\n", err)
			return 2
		}
		fmt.Fprintf(e.stdout, "local CA: %s\nfingerprint (SHA-256): %s\nvalid until: %s\n", ca.Subject(), ca.Fingerprint(), ca.NotAfter().Format("2006-01-02"))
		trusted := sysproxy.CATrusted(*root, ca.PEM())
		names := make([]string, 0, len(trusted))
		for n := range trusted {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			fmt.Fprintf(e.stdout, "  %-16s %s\n", n, map[bool]string{true: "trusted", false: "not trusted"}[trusted[n]])
		}
		fmt.Fprintln(e.stdout, "decrypted: only connections to hosts that are already blocked, to show the block page; never an allowed site")
		return 0
	case "export":
		ca, err := localca.Load(cfg)
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate ca: %v\n", err)
			return 2
		}
		e.stdout.Write(ca.PEM())
		return 0
	case "install":
		ca, err := localca.Open(cfg)
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate ca: %v\n", err)
			return 2
		}
		if err := sys.TrustCA(ctx, ca.PEM(), filepath.Join(cfg.Dir, localca.CertFile)); err != nil {
			fmt.Fprintf(e.stderr, "greengate ca install: %v\n", err)
			return 2
		}
		fmt.Fprintf(e.stdout, "trusted %s (%s); restart the service to show HTTPS block pages\n", ca.Subject(), ca.Fingerprint()[:16])
		return 0
	case "uninstall":
		if err := sys.DistrustCA(ctx); err != nil {
			fmt.Fprintf(e.stderr, "greengate ca uninstall: %v\n", err)
			return 2
		}
		// A CA no store trusts only makes blocked HTTPS fail with a
		// certificate error: delete it, and the service refuses plainly
		// from its next start.
		if err := os.RemoveAll(cfg.Dir); err != nil {
			fmt.Fprintf(e.stderr, "greengate ca uninstall: %v\n", err)
			return 2
		}
		fmt.Fprintln(e.stdout, "the local CA is deleted and no longer trusted on this machine; restart the service to stop using it")
		return 0
	}
	fmt.Fprintf(e.stderr, "greengate ca: unknown action %q (want %s)\n", action, strings.Join([]string{"status", "export", "install", "uninstall"}, ", "))
	return 2
}

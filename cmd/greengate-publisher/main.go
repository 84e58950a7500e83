// Command greengate-publisher makes GreenGate rule bundles: it generates
// root and signing keys, certifies signing keys, builds bundles from list
// files or URLs and signs them, verifies and inspects signed bundles, and
// serves them to agents (with ETags, optionally rebuilding on a schedule).
// Run it without arguments for the list of subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

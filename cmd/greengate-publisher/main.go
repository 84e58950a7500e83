// Command greengate-publisher makes GreenGate rule bundles: it generates
// root and signing keys, certifies signing keys, signs bundle sources,
// and verifies and inspects signed bundles. Run it without arguments for
// the list of subcommands.
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

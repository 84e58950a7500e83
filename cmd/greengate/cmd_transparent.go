package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/greengate/greengate/agent/transparent"
)

// cmdTransparent installs or removes the nft table that redirects this
// machine's web traffic to the agent's transparent listener (Linux, root).
func cmdTransparent(ctx context.Context, e *env, args []string) int {
	usage := func() {
		fmt.Fprintln(e.stderr, "usage: greengate transparent enable [--port N] [--mark N] [--lan-iface IF] [--dry-run]\n       greengate transparent disable [--dry-run]")
	}
	if len(args) == 0 || (args[0] != "enable" && args[0] != "disable") {
		usage()
		return 2
	}
	fs := flag.NewFlagSet("transparent "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	port := fs.Uint("port", 3129, "port of the agent's transparent listener (greengate run --transparent :PORT)")
	mark := fs.Int("mark", transparent.DefaultMark, "SO_MARK of the agent's own connections, exempt from the redirect")
	dry := fs.Bool("dry-run", false, "print the nft script instead of applying it")
	lanIf := fs.String("lan-iface", "", "gateway mode: also redirect traffic routed in from this interface (a lab or café network)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		if err == nil {
			usage()
		}
		return 2
	}
	if *port == 0 || *port > 65535 || *mark <= 0 {
		fmt.Fprintln(e.stderr, "greengate transparent: --port must be 1-65535 and --mark positive")
		return 2
	}
	opt := transparent.RulesetOptions{Port: uint16(*port), Mark: *mark, LANInterface: *lanIf}
	if args[0] == "disable" {
		if *dry {
			fmt.Fprintf(e.stdout, "add table inet %s\ndelete table inet %s\n", transparent.TableName, transparent.TableName)
			return 0
		}
		if err := transparent.Disable(ctx, ""); err != nil {
			fmt.Fprintf(e.stderr, "greengate transparent disable: %v\n", err)
			return 2
		}
		fmt.Fprintln(e.stdout, "greengate: transparent mode off (nft table removed)")
		return 0
	}
	if *dry {
		script, err := transparent.Ruleset(opt)
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate transparent enable: %v\n", err)
			return 2
		}
		fmt.Fprint(e.stdout, script)
		return 0
	}
	if err := transparent.Enable(ctx, opt); err != nil {
		fmt.Fprintf(e.stderr, "greengate transparent enable: %v\n", err)
		return 2
	}
	fmt.Fprintf(e.stdout, "greengate: transparent mode on: outgoing TCP 80/443 redirected to :%d, UDP 443 dropped; run the agent with --transparent :%d\n", *port, *port)
	return 0
}

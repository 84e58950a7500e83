// Command greengate is the GreenGate endpoint agent and its command line:
// it runs the filtering proxy, checks what the rules say about a URL, and
// manages the service, settings and rule bundles.
//
// Each subcommand lives in its own file as a func(ctx, *env, args) int;
// main only picks one. Exit codes: 0 success (for check: all allowed),
// 1 a refusal (for check: something blocked), 2 an error.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand may touch; tests give it buffers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	run     func(ctx context.Context, e *env, args []string) int
	summary string
}

// commands is the table of subcommands. Add a line here and a file
// cmd_<name>.go for a new one.
var commands = map[string]command{
	"ca":          {cmdCA, "the local CA that shows block pages for HTTPS (ca status|export|install|uninstall)"},
	"bundle":      {cmdBundle, "verify or install a signed rule bundle (bundle verify|install FILE)"},
	"check":       {cmdCheck, "decide URLs or hosts against the rules"},
	"logs":        {cmdLogs, "read the block log: visits by time, category or host; --csv (parent password)"},
	"lists":       {cmdLists, "inspect list files (lists stats FILE...)"},
	"run":         {cmdRun, "run the filtering proxy in the foreground"},
	"service":     {cmdService, "install, start, stop or remove the OS service (service install|uninstall|start|stop|status|run)"},
	"settings":    {cmdSettings, "validate, show or apply parental settings; set the parent password"},
	"status":      {cmdStatus, "show whether the filter runs, pauses, grants and rule counts"},
	"transparent": {cmdTransparent, "install or remove the nft redirect for transparent mode (Linux, root)"},
	"version":     {cmdVersion, "print the version this binary was built from"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		return 2
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "greengate: unknown command %q\n", args[0])
		usage(e.stderr)
		return 2
	}
	if slices.ContainsFunc(args[1:], isHelp) {
		return help(ctx, e, args[0], c)
	}
	return c.run(ctx, e, args[1:])
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// help answers --help given anywhere after a command ("greengate lists
// stats --help" too, which once opened a file named --help): the command
// prints its own usage when asked with -h alone, and nothing runs. A
// command that does not know -h is summed up from the table.
func help(ctx context.Context, e *env, name string, c command) int {
	var buf bytes.Buffer
	c.run(ctx, &env{stdin: strings.NewReader(""), stdout: &buf, stderr: &buf}, []string{"-h"})
	var lines []string
	for l := range strings.Lines(buf.String()) {
		if !strings.HasPrefix(l, "greengate "+name+": unknown") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		lines = []string{"usage: greengate " + name + ": " + c.summary + "\n"}
	}
	fmt.Fprint(e.stdout, strings.Join(lines, ""))
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: greengate COMMAND [flags] [args]\n\nSee greengate(8) for the whole manual.\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}

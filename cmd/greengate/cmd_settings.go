package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/ruleset"
)

const settingsUsage = `usage: greengate settings validate FILE... | default | show | apply FILE | password

  validate FILE...  check settings files; every problem with its key path
  default           print the settings a fresh install runs on
  show              print the settings in force (parent password)
  apply FILE        validate FILE and make it the settings in force (parent password)
  password          set the parent password, or change it

flags:`

func cmdSettings(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, settingsUsage)
		return 2
	}
	action := args[0]
	fs := flag.NewFlagSet("settings "+action, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	socket := fs.String("socket", client.DefaultSocket, "admin API socket or pipe")
	dir := fs.String("dir", settings.DefaultDir, "settings directory (password, when the agent is not running)")
	pwStdin := fs.Bool("password-stdin", false, "read passwords from standard input, one per line")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, settingsUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	c := client.New(client.Config{Socket: *socket})
	defer c.Close()
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "greengate settings %s: %v\n", action, err)
		if errors.Is(err, client.ErrWrongPassword) || errors.Is(err, client.ErrRateLimited) || errors.Is(err, client.ErrInvalid) {
			return 1
		}
		return 2
	}
	switch action {
	case "validate":
		if fs.NArg() == 0 {
			fs.Usage()
			return 2
		}
		return validateSettings(e, fs.Args())
	case "default":
		b, err := settings.Encode(settings.Default())
		if err != nil {
			return fail(err)
		}
		e.stdout.Write(b)
		return 0
	case "show":
		pw, err := readPassword(e, "Parent password: ", *pwStdin)
		if err != nil {
			return fail(err)
		}
		if err := c.Login(ctx, pw); err != nil {
			return fail(err)
		}
		defer c.Logout(context.WithoutCancel(ctx))
		s, err := c.Settings(ctx)
		if err != nil {
			return fail(err)
		}
		b, err := settings.Encode(s)
		if err != nil {
			return fail(err)
		}
		e.stdout.Write(b)
		return 0
	case "apply":
		if fs.NArg() != 1 {
			fs.Usage()
			return 2
		}
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return fail(err)
		}
		s, err := settings.DecodeBytes(b)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s: refused:\n%v\n", fs.Arg(0), err)
			return 1
		}
		pw, err := readPassword(e, "Parent password: ", *pwStdin)
		if err != nil {
			return fail(err)
		}
		if err := c.SaveSettings(ctx, pw, s); err != nil {
			return fail(err)
		}
		fmt.Fprintf(e.stdout, "settings from %s in force\n", fs.Arg(0))
		return 0
	case "password":
		return setPassword(ctx, e, c, *dir, *pwStdin)
	}
	fmt.Fprintf(e.stderr, "greengate settings: unknown action %q\n", action)
	fs.Usage()
	return 2
}

// validateSettings checks files and prints every problem. Category ids the
// embedded rules do not know are a note, not an error: a bundle may bring
// them.
func validateSettings(e *env, files []string) int {
	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		fmt.Fprintf(e.stderr, "greengate settings validate: %v\n", err)
		return 2
	}
	cats, _ := b.Build()
	var known []string
	for _, c := range cats {
		known = append(known, c.ID)
	}
	code := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate settings validate: %v\n", err)
			code = 2
			continue
		}
		s, err := settings.DecodeBytes(data)
		if err != nil {
			fmt.Fprintf(e.stdout, "%s: invalid\n", f)
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintf(e.stdout, "  %s\n", line)
			}
			code = max(code, 1)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: ok (%d profiles)\n", f, len(s.Profiles))
		for i, p := range s.Profiles {
			for j, id := range p.Block {
				if !slices.Contains(known, id) {
					fmt.Fprintf(e.stdout, "  note: profiles[%d].block[%d]: category %q is not in the built-in rules; it blocks only once a bundle provides it\n", i, j, id)
				}
			}
		}
	}
	return code
}

func setPassword(ctx context.Context, e *env, c *client.Client, dir string, fromStdin bool) int {
	st, err := c.Status(ctx)
	running := err == nil
	if err != nil && !errors.Is(err, client.ErrAgentNotRunning) {
		fmt.Fprintf(e.stderr, "greengate settings password: %v\n", err)
		return 2
	}
	var store *settings.Store
	passwordSet := st.PasswordSet
	if !running {
		// Without the agent only root can reach the password file.
		if code := needAdmin(e, "settings password (agent not running)"); code != 0 {
			return code
		}
		if store, err = settings.Open(settings.Config{Dir: dir, StateDir: dir}); err != nil {
			fmt.Fprintf(e.stderr, "greengate settings password: %v\n", err)
			return 2
		}
		passwordSet = store.PasswordSet()
	}
	old := ""
	if passwordSet {
		if old, err = readPassword(e, "Current parent password: ", fromStdin); err != nil {
			fmt.Fprintf(e.stderr, "greengate settings password: %v\n", err)
			return 2
		}
	}
	nw, err := readPassword(e, "New parent password: ", fromStdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate settings password: %v\n", err)
		return 2
	}
	again, err := readPassword(e, "New parent password again: ", fromStdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate settings password: %v\n", err)
		return 2
	}
	if nw != again {
		fmt.Fprintln(e.stderr, "greengate settings password: the two new passwords differ; nothing changed")
		return 1
	}
	if running {
		err = c.SetPassword(ctx, old, nw)
	} else {
		err = store.SetPassword(old, nw)
	}
	switch {
	case err == nil:
		fmt.Fprintln(e.stdout, "parent password set")
		return 0
	case errors.Is(err, client.ErrAdminRequired), errors.Is(err, client.ErrWrongPassword), errors.Is(err, settings.ErrWrongPassword),
		errors.Is(err, client.ErrRateLimited), errors.Is(err, client.ErrInvalid), errors.Is(err, settings.ErrWeakPassword):
		fmt.Fprintf(e.stderr, "greengate settings password: refused: %v\n", err)
		return 1
	default:
		fmt.Fprintf(e.stderr, "greengate settings password: %v\n", err)
		return 2
	}
}

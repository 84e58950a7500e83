package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/service"
	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/agent/sysproxy"
)

// version is stamped by release builds (-ldflags "-X main.version=...").
var version = "dev"

const serviceUsage = `usage: greengate service install|uninstall|start|stop|status|run [flags]

  install     register the filter to start at boot (administrator)
  uninstall   stop and remove it (administrator and parent password)
  start       start it (administrator)
  stop        stop it (administrator and parent password)
  status      say whether it runs (anyone)
  proxy-on    point the system's browsers at the filter, locked (administrator)
  proxy-off   undo proxy-on (administrator and parent password)
  run         what the service manager runs: the agent with settings and admin API

flags:`

func cmdService(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, serviceUsage)
		return 2
	}
	action := args[0]
	fs := flag.NewFlagSet("service "+action, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", settings.DefaultDir, "settings directory (settings.json, password)")
	stateDir := fs.String("state-dir", settings.DefaultStateDir, "state directory (grants, block log, bundles)")
	socket := fs.String("socket", client.DefaultSocket, "admin API socket or pipe")
	exe := fs.String("exe", "", "binary the service runs (install; default: this one)")
	pwStdin := fs.Bool("password-stdin", false, "read the parent password from the first line of standard input")
	verbose := fs.Bool("v", false, "debug logging (run)")
	logFile := fs.String("log", "", "append the agent's log to this file instead of stderr (run; a Windows service has no stderr)")
	proxyAddr := fs.String("proxy", "", "proxy address for proxy-on (default: the settings' listen address)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, serviceUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(e.stderr, "greengate service %s: %v\n", action, err)
		return 2
	}
	cfg := service.Config{Executable: *exe}
	switch action {
	case "run":
		privateUmask()
		level := slog.LevelInfo
		if *verbose {
			level = slog.LevelDebug
		}
		var out io.Writer = e.stderr
		if *logFile != "" {
			f, err := os.OpenFile(*logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return fail(err)
			}
			defer f.Close()
			out = f
			// A crash's traceback too, not only the log lines.
			_ = debug.SetCrashOutput(f, debug.CrashOptions{})
		}
		log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
		cfg.Logger = log
		cfg.Run = func(ctx context.Context) error {
			return service.RunAgent(ctx, service.AgentConfig{
				Settings: settings.Config{Dir: *dir, StateDir: *stateDir},
				DataDir:  *stateDir,
				Socket:   *socket,
				Version:  version,
				Logger:   log,
			})
		}
		s, _, err := service.New(cfg)
		if err != nil {
			return fail(err)
		}
		// kardianos waits for the manager's stop (SIGTERM, or the Windows
		// SCM) and calls Program.Stop, which ends RunAgent within 10 s.
		if err := s.Run(); err != nil {
			return fail(err)
		}
		return 0
	case "status":
		return serviceStatus(ctx, e, cfg, *socket)
	case "install", "uninstall", "start", "stop", "proxy-on", "proxy-off":
	default:
		fmt.Fprintf(e.stderr, "greengate service: unknown action %q\n", action)
		fs.Usage()
		return 2
	}
	if code := needAdmin(e, "service "+action); code != 0 {
		return code
	}
	// The package's maintainer scripts (root, removing the package, which
	// root can do without any password anyway) run proxy-off unattended:
	// dpkg names the package in DPKG_MAINTSCRIPT_PACKAGE; rpm sets nothing,
	// so its scriptlets set GREENGATE_MAINTSCRIPT.
	fromPackage := os.Getenv("DPKG_MAINTSCRIPT_PACKAGE") == "greengate" || os.Getenv("GREENGATE_MAINTSCRIPT") == "1"
	if (action == "stop" || action == "uninstall" || action == "proxy-off") && !fromPackage {
		if code := needParentPassword(ctx, e, "service "+action, *dir, *socket, *pwStdin); code != 0 {
			return code
		}
	}
	switch action {
	case "proxy-on":
		return proxyOn(ctx, e, *dir, *proxyAddr)
	case "proxy-off":
		if err := (sysproxy.System{}).Remove(ctx); err != nil {
			return fail(err)
		}
		fmt.Fprintln(e.stdout, "greengate service proxy-off: browsers no longer sent to the filter")
		return 0
	}
	m, err := service.NewManager(cfg)
	if err != nil {
		return fail(err)
	}
	switch action {
	case "install":
		err = m.Install()
	case "uninstall":
		// The PAC is fail-closed: left in place it would stop all browsing
		// once the filter is gone.
		if perr := (sysproxy.System{}).Remove(ctx); perr != nil {
			fmt.Fprintf(e.stderr, "greengate service uninstall: removing the system proxy settings: %v\n", perr)
		}
		err = m.Uninstall()
	case "start":
		err = m.Start()
	case "stop":
		err = m.Stop()
	}
	if err != nil {
		return fail(err)
	}
	st, _ := m.Status()
	fmt.Fprintf(e.stdout, "greengate service %s: done (%s, now %s)\n", action, m.Platform(), st)
	return 0
}

func serviceStatus(ctx context.Context, e *env, cfg service.Config, socket string) int {
	m, err := service.NewManager(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate service status: %v\n", err)
		return 2
	}
	st, err := m.Status()
	fmt.Fprintf(e.stdout, "service: %s (%s)\n", st, m.Platform())
	if err != nil {
		fmt.Fprintf(e.stdout, "  %v\n", err)
	}
	c := client.New(client.Config{Socket: socket, Timeout: 3 * time.Second})
	defer c.Close()
	as, aerr := c.Status(ctx)
	switch {
	case aerr == nil:
		fmt.Fprintf(e.stdout, "agent: answering on %s, proxy %s\n", socket, as.ProxyAddr)
	case errors.Is(aerr, client.ErrAgentNotRunning):
		fmt.Fprintf(e.stdout, "agent: not answering on %s\n", socket)
	default:
		fmt.Fprintf(e.stdout, "agent: %v\n", aerr)
	}
	if st == service.StateRunning || aerr == nil {
		return 0
	}
	return 1
}

// needAdmin refuses non-root users before anything else, so the command
// is not a way to test passwords outside the admin API's rate limit.
func needAdmin(e *env, what string) int {
	if runtime.GOOS == "windows" {
		return 0 // the service manager itself refuses non-administrators
	}
	if uid := os.Geteuid(); uid != 0 {
		fmt.Fprintf(e.stderr, "greengate %s: refused: only an administrator (root) can do this, and it needs the parent password too (you are uid %d)\n", what, uid)
		return 1
	}
	return 0
}

// needParentPassword asks for the parent password and checks it: through
// the running agent when it answers (rate-limited and recorded in the block
// log), else against the password file. Before any password is set there
// is nothing to check; the administrator is told to set one.
func needParentPassword(ctx context.Context, e *env, what, dir, socket string, fromStdin bool) int {
	store, err := settings.Open(settings.Config{Dir: dir, StateDir: dir})
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate %s: %v\n", what, err)
		return 2
	}
	if !store.PasswordSet() {
		fmt.Fprintf(e.stderr, "greengate %s: warning: no parent password is set; set one with `greengate settings password`\n", what)
		return 0
	}
	pw, err := readPassword(e, "Parent password: ", fromStdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate %s: %v\n", what, err)
		return 2
	}
	c := client.New(client.Config{Socket: socket, Timeout: 10 * time.Second})
	defer c.Close()
	err = c.CheckPassword(ctx, pw)
	if errors.Is(err, client.ErrAgentNotRunning) {
		err = store.CheckPassword(pw)
		if errors.Is(err, settings.ErrWrongPassword) {
			time.Sleep(time.Second) // no free guesses while the agent is down
		}
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, client.ErrWrongPassword), errors.Is(err, settings.ErrWrongPassword):
		fmt.Fprintf(e.stderr, "greengate %s: refused: wrong parent password\n", what)
		return 1
	case errors.Is(err, client.ErrRateLimited):
		fmt.Fprintf(e.stderr, "greengate %s: refused: %v\n", what, err)
		return 1
	default:
		fmt.Fprintf(e.stderr, "greengate %s: checking the password: %v\n", what, err)
		return 2
	}
}

// readPassword reads from stdin: one line with --password-stdin, else a
// prompt on stderr (echo off on a terminal).
func readPassword(e *env, prompt string, fromStdin bool) (string, error) {
	var out io.Writer = e.stderr
	if fromStdin {
		out = io.Discard
	}
	return settings.ReadPassword(e.stdin, out, prompt)
}

// proxyOn points browsers at the filter, but only once the agent serves
// its PAC: the PAC is fail-closed, and pointing browsers at one that does
// not answer would stop all browsing.
func proxyOn(ctx context.Context, e *env, dir, addr string) int {
	if addr == "" {
		store, err := settings.Open(settings.Config{Dir: dir, StateDir: dir})
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate service proxy-on: %v\n", err)
			return 2
		}
		st, _ := store.Load() // defaults when missing
		addr = st.Listen
	}
	t, err := sysproxy.NewTarget(addr)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate service proxy-on: %v\n", err)
		return 2
	}
	if err := checkPAC(ctx, t.PAC); err != nil {
		fmt.Fprintf(e.stderr, "greengate service proxy-on: refused: %v; start the service first\n", err)
		return 1
	}
	if err := (sysproxy.System{}).Apply(ctx, t); err != nil {
		fmt.Fprintf(e.stderr, "greengate service proxy-on: %v\n", err)
		return 2
	}
	fmt.Fprintf(e.stdout, "greengate service proxy-on: browsers use %s\n", t.PAC)
	return 0
}

func checkPAC(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	// Straight to the agent, never through a proxy from the environment.
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "FindProxyForURL") {
		return fmt.Errorf("%s does not serve a PAC (HTTP %d)", u, resp.StatusCode)
	}
	return nil
}

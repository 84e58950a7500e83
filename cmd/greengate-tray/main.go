//go:build cgo

// Command greengate-tray is GreenGate's tray app for parents and lab admins:
// a tray icon with the filter's state, pause, settings, block log, requests
// and status windows, in English or Simplified Chinese.
//
// It is a thin main: it makes the Fyne app, connects to the agent's admin
// socket with agent/admin/client and hands both to package gui, which holds
// every screen. It is the only cgo binary (Fyne's GL driver).
//
// Usage:
//
//	greengate-tray [-socket PATH] [-open WINDOW]
//
// -open shows one window at start (status, settings, blocklog, requests,
// wizard, about, ask), for a desktop shortcut or a screenshot. Without a tray
// host (Linux with no D-Bus session bus) the status window opens instead of
// a tray icon, and closing it ends the app.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/gui"
)

// The real client is what the screens are written against.
var _ gui.Client = (*client.Client)(nil)

// appID names the app for Fyne's preferences store (the language setting).
const appID = "org.greengate.tray"

// statusEvery is how often the tray asks the agent for its state. Status is
// one small local request, and a pause that ends by itself should show within
// a minute.
const statusEvery = 30 * time.Second

// noticesEvery is how often the tray asks for HTTPS blocks to tell its user
// of: soon enough to follow the click, one small local call.
const noticesEvery = 3 * time.Second

func main() {
	socket := flag.String("socket", client.DefaultSocket, "the agent's admin socket (a named pipe on Windows)")
	open := flag.String("open", "", "window to open at start: status, settings, blocklog, requests, wizard, about or ask")
	flag.Parse()
	if err := run(*socket, *open); err != nil {
		fmt.Fprintln(os.Stderr, "greengate-tray:", err)
		os.Exit(2)
	}
}

func run(socket, open string) error {
	show, err := opener(open)
	if err != nil {
		return err
	}
	c := client.New(client.Config{Socket: socket})
	a := app.NewWithID(appID)
	a.SetIcon(gui.TrayIcon(gui.StateFiltering))

	desk, isDesktop := a.(desktop.App)
	tray := isDesktop && trayHostReachable()
	ui := gui.New(gui.Config{App: a, Client: c, QuitOnClose: !tray, Version: appVersion(), SetFirstPassword: firstPasswordSetter()})
	if tray {
		ui.SetTray(func(m *fyne.Menu, icon fyne.Resource) {
			desk.SetSystemTrayMenu(m)
			desk.SetSystemTrayIcon(icon)
		})
	} else if show == nil {
		// No tray to live in: show the status rather than run invisibly.
		show = func(u *gui.UI) { u.ShowStatus() }
	}

	a.Lifecycle().SetOnStarted(func() {
		ui.Start()
		if show != nil {
			show(ui)
		}
		go func() {
			t := time.NewTicker(statusEvery)
			defer t.Stop()
			for range t.C {
				fyne.Do(ui.RefreshStatus)
			}
		}()
		go func() {
			// HTTPS blocks show only a connection error in the browser;
			// the tray tells the user which site and why, soon after.
			t := time.NewTicker(noticesEvery)
			defer t.Stop()
			for range t.C {
				fyne.Do(ui.CheckNotices)
			}
		}()
	})
	a.Run()

	// After Run, not in Lifecycle.SetOnStopped: Fyne 2.7.1 queues the
	// stopped hook to a main loop that is already shutting down, and quit
	// can then hang for good (seen on SIGTERM under Xvfb).
	// Reads use a session; end it so a tray left running in a shared
	// account does not keep one open on the agent.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c.LoggedIn() {
		_ = c.Logout(ctx) // best effort: the agent expires sessions anyway
	}
	c.Close()
	return nil
}

// opener maps -open to the window it opens.
func opener(name string) (func(*gui.UI), error) {
	switch name {
	case "":
		return nil, nil
	case "status":
		return func(u *gui.UI) { u.ShowStatus() }, nil
	case "settings":
		return func(u *gui.UI) { u.ShowSettings() }, nil
	case "blocklog":
		return func(u *gui.UI) { u.ShowBlockLog() }, nil
	case "requests":
		return func(u *gui.UI) { u.ShowRequests() }, nil
	case "wizard":
		return func(u *gui.UI) { u.ShowWizard() }, nil
	case "about":
		return func(u *gui.UI) { u.ShowAbout() }, nil
	case "ask":
		return func(u *gui.UI) { u.ShowAsk() }, nil
	}
	return nil, fmt.Errorf("unknown window %q for -open", name)
}

// version is stamped by release builds with the same flag as greengate's
// (-ldflags "-X main.version=..." from installer/version.sh: `make tray`,
// `make package`), so the About window and `greengate version` agree.
var version string

// appVersion is the stamped version, else the module version the binary
// was built from (go install), else "dev" for a plain build from a work
// tree.
func appVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

//go:build linux || freebsd || openbsd || netbsd

package main

import (
	"os"
	"path/filepath"
)

// trayHostReachable reports whether a D-Bus session bus is there for
// fyne.io/systray's StatusNotifierItem. Without one Fyne still runs, but
// quitting then panics on a nil bus connection (fyne-io/fyne#6403), so the
// tray is set up only when the bus exists.
func trayHostReachable() bool {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return true
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		if fi, err := os.Stat(filepath.Join(dir, "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return true
		}
	}
	return false
}

//go:build cgo && (linux || freebsd || openbsd || netbsd)

package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/godbus/dbus/v5"
)

// trayHostReachable reports whether a tray icon would be seen: a D-Bus
// session bus with a StatusNotifierWatcher (the tray host fyne.io/systray
// registers with: KDE, XFCE, Cinnamon, GNOME with the AppIndicator
// extension) on it.
//
// Without a bus Fyne still runs, but quitting then panics on a nil bus
// connection (fyne-io/fyne#6403). With a bus and no watcher the icon is
// exported to nobody, and a tray-only app would be invisible. Either way the
// caller opens the status window instead.
func trayHostReachable() bool {
	// Look for the bus first: asking godbus with neither of these set makes
	// it try to start one with dbus-launch.
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			return false
		}
		if fi, err := os.Stat(filepath.Join(dir, "bus")); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := dbus.ConnectSessionBus(dbus.WithContext(ctx))
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}

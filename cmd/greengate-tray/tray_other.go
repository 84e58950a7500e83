//go:build cgo && !(linux || freebsd || openbsd || netbsd)

package main

// trayHostReachable is true on Windows and macOS, whose tray (notification
// area, menu bar) is part of every desktop session.
func trayHostReachable() bool { return true }

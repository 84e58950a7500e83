//go:build !windows

package main

import "golang.org/x/sys/unix"

// privateUmask makes everything the service process creates from now on
// private to root (0600 files, 0700 directories) unless code chmods it
// wider on purpose (the admin socket, 0666). The agent writes files
// through code whose create modes it does not choose: SQLite makes a new
// block log 0644 and its -wal and -shm alike. The files it writes itself
// are 0600 anyway; the umask is the net under the rest, and works where
// the unit's UMask=0077 is missing (an old unit, launchd, a hand start).
// Process-wide, so only the service's own run calls it.
func privateUmask() { unix.Umask(0o077) }

//go:build !linux

package service

import "net"

// localUID is Linux-only for now: elsewhere every client gets the default
// profile (or its LAN mapping). Windows would use GetExtendedTcpTable,
// macOS libproc; neither is done.
func localUID(net.Addr, net.Addr) (int, bool) { return 0, false }

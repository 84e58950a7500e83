package service

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/greengate/greengate/agent/admin"
	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/blocklog"
)

// notices keeps the last HTTPS blocks for the trays (admin.Config.Notices):
// the browser shows a bare connection error there, so the tray of the user
// whose browser it was says why. Each is kept with the OS user that owned
// the connection, so one user's tray never hears of another's browsing.
// Where the OS does not say (Windows, macOS), every local tray hears.
type notices struct {
	now func() time.Time

	mu   sync.Mutex
	list []notice // oldest first
}

type notice struct {
	uid int // -1: unknown
	n   client.Notice
}

const (
	maxNotices = 64
	noticeAge  = 5 * time.Minute // older ones are news to no one
)

// blocked is the proxy's TunnelBlocked hook. owner names the local user of
// a loopback connection; LAN clients are not this machine's users.
func (b *notices) blocked(remote string, ev blocklog.Event, owner func(net.Addr) (int, bool)) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return
	}
	uid, ok := owner(net.TCPAddrFromAddrPort(ap))
	if !ok {
		uid = -1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list = append(b.list, notice{uid: uid, n: client.Notice{Time: ev.Time, Host: ev.Host, Category: ev.Category, Entry: ev.Entry}})
	if len(b.list) > maxNotices {
		b.list = append(b.list[:0], b.list[len(b.list)-maxNotices:]...)
	}
}

// since is admin.Config.Notices: c's notices after the given time.
func (b *notices) since(c admin.Caller, after time.Time) []client.Notice {
	if cutoff := b.now().Add(-noticeAge); after.Before(cutoff) {
		after = cutoff
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []client.Notice
	for _, x := range b.list {
		if !x.n.Time.After(after) || (x.uid >= 0 && x.uid != c.UID) {
			continue
		}
		out = append(out, x.n)
	}
	return out
}

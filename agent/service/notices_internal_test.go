package service

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin"
	"github.com/greengate/greengate/agent/blocklog"
)

func TestNoticesGoToTheirOwnUser(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	b := &notices{now: func() time.Time { return now }}
	owners := map[string]int{"127.0.0.1:1001": 1000, "127.0.0.1:1002": 1001}
	owner := func(a net.Addr) (int, bool) {
		uid, ok := owners[a.String()]
		return uid, ok
	}
	block := func(remote, host string, at time.Time) {
		b.blocked(remote, blocklog.Event{Time: at, Host: host, Category: "adult", Entry: host}, owner)
	}
	block("127.0.0.1:1001", "a.example", now.Add(-time.Second))
	block("127.0.0.1:1002", "b.example", now.Add(-time.Second))
	block("127.0.0.1:1003", "unknown.example", now.Add(-time.Second)) // the OS did not say whose
	block("192.168.1.20:5000", "lan.example", now.Add(-time.Second))  // a LAN PC: not this machine's user
	block("127.0.0.1:1001", "old.example", now.Add(-10*time.Minute))

	hosts := func(c admin.Caller, after time.Time) []string {
		var hs []string
		for _, n := range b.since(c, after) {
			hs = append(hs, n.Host)
		}
		return hs
	}
	for _, tc := range []struct {
		caller admin.Caller
		after  time.Time
		want   string
	}{
		{admin.Caller{UID: 1000}, time.Time{}, "[a.example unknown.example]"},
		{admin.Caller{UID: 1001}, time.Time{}, "[b.example unknown.example]"},
		{admin.Caller{UID: -1, SID: "S-1-5-21-1"}, time.Time{}, "[unknown.example]"},
		{admin.Caller{UID: 1000}, now.Add(-time.Second), "[]"}, // "after" excludes the time itself
		{admin.Caller{UID: 1000}, now.Add(-2 * time.Second), "[a.example unknown.example]"},
	} {
		if got := fmt.Sprint(hosts(tc.caller, tc.after)); got != tc.want {
			t.Errorf("caller %+v after %v: %s, want %s", tc.caller, tc.after, got, tc.want)
		}
	}
	for i := 0; i < 2*maxNotices; i++ {
		block("127.0.0.1:1001", fmt.Sprintf("s%d.example", i), now)
	}
	if n := len(b.since(admin.Caller{UID: 1000}, time.Time{})); n != maxNotices {
		t.Fatalf("%d notices kept, want the last %d", n, maxNotices)
	}
}

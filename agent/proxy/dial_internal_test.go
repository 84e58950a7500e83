package proxy

import (
	"errors"
	"net/netip"
	"testing"
)

// TestGuard plays an attacker choosing where the proxy connects: every
// address form a name can resolve to, in both modes.
func TestGuard(t *testing.T) {
	t.Parallel()
	local, err := newGuard([]string{"127.0.0.1:9443"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	local.addPort(8899)
	lan, err := newGuard([]string{"127.0.0.1:9443"}, true, []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	lan.addPort(8899)
	for _, tc := range []struct {
		addr         string
		local, lanOK bool
	}{
		{"93.184.216.34:80", true, true},
		{"[2606:2800:220:1::1]:443", true, true},
		{"127.0.0.1:80", true, false},
		{"127.0.0.1:8899", false, false},
		{"127.9.9.9:8899", false, false},
		{"127.0.0.1:9443", false, false},
		{"[::1]:8899", false, false},
		{"[::ffff:127.0.0.1]:8899", false, false},
		{"0.0.0.0:8899", false, false},
		{"[::]:9443", false, false},
		{"0.0.0.0:80", true, false},
		{"169.254.169.254:80", true, false},
		{"[fe80::1%eth0]:80", true, false},
		{"224.0.0.1:80", true, false},
		{"10.1.2.3:80", true, false},
		{"172.16.0.1:443", true, false},
		{"192.168.1.1:80", true, false},
		{"192.168.10.20:80", true, true},
		{"[fd00::1]:80", true, false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			ap := netip.MustParseAddrPort(tc.addr)
			if err := local.check(ap); (err == nil) != tc.local || (err != nil && !errors.Is(err, ErrForbiddenDestination)) {
				t.Errorf("loopback mode: %v", err)
			}
			if err := lan.check(ap); (err == nil) != tc.lanOK || (err != nil && !errors.Is(err, ErrForbiddenDestination)) {
				t.Errorf("LAN mode: %v", err)
			}
		})
	}
	if _, err := newGuard([]string{"nonsense"}, false, nil); err == nil {
		t.Error("bad own address accepted")
	}
}

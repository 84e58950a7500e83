package transparent

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/greengate/greengate/rules/policy"
)

func TestRuleset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  RulesetOptions
		want []string
	}{
		{"defaults", RulesetOptions{}, []string{"table inet greengate {", "meta mark 0x1 return", "redirect to :3129",
			"fib daddr type local return", "udp dport 443 counter drop", "delete table inet greengate"}},
		{"custom", RulesetOptions{Port: 8129, Mark: 0x2a, Table: "gg_test"}, []string{"table inet gg_test {", "meta mark 0x2a return", "redirect to :8129"}},
		{"gateway", RulesetOptions{LANInterface: "eth1"}, []string{"type nat hook prerouting", `iifname "eth1" meta l4proto tcp th dport { 80, 443 } redirect to :3129`,
			`iifname "eth1" udp dport 443 counter drop`, `iifname "eth1" fib daddr type local return`, "meta mark 0x1 return"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Ruleset(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("ruleset lacks %q:\n%s", w, got)
				}
			}
			// The mark exemption must come before the redirect, or the
			// agent's own dials loop back to it.
			if strings.Index(got, "meta mark") > strings.Index(got, "redirect") {
				t.Errorf("redirect before the mark exemption:\n%s", got)
			}
		})
	}
}

func TestRulesetRefusesInjection(t *testing.T) {
	t.Parallel()
	for _, o := range []RulesetOptions{
		{LANInterface: `eth0" accept; }`},
		{LANInterface: "eth0\nflush ruleset"},
		{Table: "gg; flush ruleset"},
		{LANInterface: "averyveryverylongname"},
		{Table: "x y"},
	} {
		if s, err := Ruleset(o); !errors.Is(err, ErrBadName) || s != "" {
			t.Errorf("%+v: %v %q", o, err, s)
		}
	}
}

func TestDecodeOrigDst(t *testing.T) {
	t.Parallel()
	v4 := []byte{2, 0, 0x01, 0xbb, 10, 231, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if ap, err := decodeOrigDst4(v4); err != nil || ap != netip.MustParseAddrPort("10.231.2.2:443") {
		t.Fatalf("v4: %v %v", ap, err)
	}
	v6 := make([]byte, 28)
	v6[2], v6[3] = 0, 80
	copy(v6[8:], netip.MustParseAddr("fd31:2::2").AsSlice())
	if ap, err := decodeOrigDst6(v6); err != nil || ap != netip.MustParseAddrPort("[fd31:2::2]:80") {
		t.Fatalf("v6: %v %v", ap, err)
	}
	mapped := make([]byte, 24)
	mapped[3] = 80
	copy(mapped[8:], netip.MustParseAddr("::ffff:10.0.0.1").AsSlice())
	if ap, _ := decodeOrigDst6(mapped); ap != netip.MustParseAddrPort("10.0.0.1:80") {
		t.Fatalf("mapped: %v", ap)
	}
	if _, err := decodeOrigDst4(v4[:7]); err == nil {
		t.Fatal("short sockaddr_in accepted")
	}
	if _, err := decodeOrigDst6(v6[:23]); err == nil {
		t.Fatal("short sockaddr_in6 accepted")
	}
}

// FuzzDecodeOrigDst: kernel bytes never panic the decoder; a decoded
// address is valid and its port is the big-endian bytes 2-3.
func FuzzDecodeOrigDst(f *testing.F) {
	f.Add([]byte{2, 0, 0x01, 0xbb, 10, 231, 2, 2})
	f.Add(make([]byte, 24))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dec := range []func([]byte) (netip.AddrPort, error){decodeOrigDst4, decodeOrigDst6} {
			ap, err := dec(b)
			if err != nil {
				if ap.IsValid() {
					t.Fatal("address with an error")
				}
				continue
			}
			if !ap.Addr().IsValid() || ap.Port() != uint16(b[2])<<8|uint16(b[3]) {
				t.Fatalf("decoded %v from %x", ap, b)
			}
		}
	})
}

func TestListed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    policy.Verdict
		want bool
	}{
		{policy.Verdict{Action: policy.Block, Reason: policy.ReasonCategory}, true},
		{policy.Verdict{Action: policy.Block, Reason: policy.ReasonCustomBlock}, true},
		{policy.Verdict{Action: policy.Block, Reason: policy.ReasonAllowListOnly}, false},
		{policy.Verdict{Action: policy.Block, Reason: policy.ReasonOutsideHours}, false},
		{policy.Verdict{Action: policy.Allow}, false},
		{policy.Verdict{Action: policy.SafeSearch, Reason: policy.ReasonSafeSearch}, false},
	} {
		t.Run(tc.v.Reason.String(), func(t *testing.T) {
			t.Parallel()
			if got := listed(tc.v); got != tc.want {
				t.Fatalf("listed(%+v) = %v", tc.v, got)
			}
		})
	}
}

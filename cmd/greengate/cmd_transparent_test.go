package main

import (
	"strings"
	"testing"
)

func TestTransparentCmd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
	}{
		{"enable dry run", []string{"transparent", "enable", "--dry-run", "--port", "4129", "--mark", "7"}, 0,
			[]string{"table inet greengate {", "redirect to :4129", "meta mark 0x7 return", "udp dport 443 counter drop"}},
		{"disable dry run", []string{"transparent", "disable", "--dry-run"}, 0, []string{"delete table inet greengate"}},
		{"gateway dry run", []string{"transparent", "enable", "--dry-run", "--lan-iface", "lab0"}, 0, []string{`iifname "lab0"`}},
		{"hostile interface", []string{"transparent", "enable", "--dry-run", "--lan-iface", `x" accept`}, 2, nil},
		{"no subcommand", []string{"transparent"}, 2, nil},
		{"unknown subcommand", []string{"transparent", "on"}, 2, nil},
		{"bad port", []string{"transparent", "enable", "--dry-run", "--port", "70000"}, 2, nil},
		{"bad mark", []string{"transparent", "enable", "--dry-run", "--mark", "0"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errb := runCmd(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, stderr %q", code, errb)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

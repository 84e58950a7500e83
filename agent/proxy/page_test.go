package proxy_test

import (
	"testing"

	"github.com/greengate/greengate/agent/proxy"
)

func TestPrefersChinese(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"zh", true},
		{"zh-CN,zh;q=0.9,en;q=0.8", true},
		{"zh-Hant-TW", true},
		{"ZH-cn", true},
		{"zh_CN", true},
		{"en-US,en;q=0.9,zh-CN;q=0.8", false},
		{"en;q=0.5, zh-TW;q=0.8", true},
		{"zh;q=0, en", false},
		{"zh;q=0.000", false},
		{"zhx", false},
		{"en, zh", false},
		{"en;q=0.5,zh;q=0.5", false},
		{"zh;q=abc, en;q=0.1", false},
		{"zh;q=1.0", true},
		{"zh;q=1.5,en;q=0.1", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			if got := proxy.PrefersChinese(tc.in); got != tc.want {
				t.Fatalf("PrefersChinese(%q) = %v", tc.in, got)
			}
		})
	}
}

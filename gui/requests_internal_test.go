package gui

import (
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestRequestsGrant(t *testing.T) {
	f := newFake(t, "Requests", "Settings", "Grant")
	f.password = "secret1"
	f.requests = []client.Request{
		{Time: testNow.Add(-2 * time.Hour), Client: "leo", Host: "coolmathgames.com", Note: "for homework"},
		{Time: testNow.Add(-10 * time.Minute), Client: "uid 1000 (mia)", Host: "discord.com", Note: "<b>class group</b> {{.Evil}}"},
	}
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showRequestsWith("secret1")
	all := texts(s.content)
	assertTranslated(t, all)

	if len(s.rows) != 2 || s.rows[0].req.Host != "discord.com" {
		t.Fatalf("rows not newest first: %+v", s.rows)
	}
	// mia is mapped to teen; leo is not mapped and gets the default profile.
	if s.rows[0].profile != "teen" || s.rows[1].profile != "child" {
		t.Errorf("profiles = %q, %q", s.rows[0].profile, s.rows[1].profile)
	}
	if !hasText(all, "<b>class group</b> {{.Evil}}") {
		t.Errorf("child's note not shown verbatim; texts %q", all)
	}

	tests := []struct {
		name   string
		row    int
		period string
		want   grantCall
		until  string
	}{
		{"one day for mia", 0, "1 day", grantCall{"secret1", "discord.com", "teen", 24 * time.Hour}, "Allowed until 11-28 10:00"},
		{"an hour for leo", 1, "1 hour", grantCall{"secret1", "coolmathgames.com", "child", time.Hour}, "Allowed until 11-27 11:00"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.rows[tt.row]
			r.period.SetSelected(tt.period)
			test.Tap(r.grant)
			if len(f.grants) != i+1 || f.grants[i] != tt.want {
				t.Fatalf("grants = %+v, want last %+v", f.grants, tt.want)
			}
			if r.status.Text != tt.until || !r.grant.Disabled() {
				t.Errorf("status = %q, grant disabled %v", r.status.Text, r.grant.Disabled())
			}
		})
	}
}

func TestRequestsNone(t *testing.T) {
	f := newFake(t, "Requests", "Settings")
	u := newTestUI(t, f, LangChinese, nil)
	s := u.showRequestsWith("secret1")
	if all := texts(s.content); !slices.Contains(all, "没有请求。孩子请求访问被拦截的网站时，会显示在这里。") {
		t.Errorf("no empty-list note in Chinese: %q", all)
	}
}

func TestOSUserName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"unix", "uid 1000 (mia)", "mia"},
		{"windows", `S-1-5-21-1-2-3-1001 (KITCHEN-PC\leo)`, "leo"},
		{"plain name", "mia", "mia"},
		{"unknown uid", "uid 1003", "uid 1003"},
		{"unidentified", "unidentified local client", "unidentified local client"},
		{"parenthesis not at the end", "a (b) c", "a (b) c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := osUserName(tt.in); got != tt.want {
				t.Errorf("osUserName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

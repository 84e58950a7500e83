package gui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/greengate/greengate/agent/admin/client"
)

// TestNoticesBecomeNotifications: each HTTPS block the agent reports for
// this user is shown once, in the UI's language, naming site, category and
// entry and where to ask; the next check asks only for newer ones; a site
// blocked again within a minute is not shown twice.
func TestNoticesBecomeNotifications(t *testing.T) {
	for _, tc := range []struct {
		lang, title, body string
	}{
		{"en", "GreenGate blocked pornhub.com", "Adult content (pornhub.com)"},
		{"zh-Hans", "GreenGate 已拦截 pornhub.com", "（pornhub.com）"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			f := newFake(t, "Notices")
			u := newTestUI(t, f, tc.lang, nil)
			var shown []*fyne.Notification
			u.cfg.Notify = func(n *fyne.Notification) { shown = append(shown, n) }
			t0 := testNow.Add(time.Minute)
			f.notices = []client.Notice{
				{Time: testNow.Add(-time.Minute), Host: "before-the-tray.test", Category: "adult"}, // not news
				{Time: t0, Host: "pornhub.com", Category: "adult", Entry: "pornhub.com"},
				{Time: t0.Add(time.Second), Host: "pornhub.com", Category: "adult", Entry: "pornhub.com"}, // a retry
				{Time: t0.Add(2 * time.Second), Host: "dns.google", Category: "doh", Entry: "dns.google"},
			}
			u.CheckNotices()
			if len(shown) != 2 {
				t.Fatalf("%d notifications, want 2 (the retry folded, nothing from before the tray): %+v", len(shown), shown)
			}
			if f.afters[0] != testNow {
				t.Errorf("first check asked after %v, want the tray's start %v", f.afters[0], testNow)
			}
			if shown[0].Title != tc.title || !strings.Contains(shown[0].Content, tc.body) {
				t.Errorf("notification = %q / %q, want %q / containing %q", shown[0].Title, shown[0].Content, tc.title, tc.body)
			}
			assertTranslated(t, []string{shown[0].Title, shown[0].Content, shown[1].Title, shown[1].Content})
			if !strings.Contains(shown[1].Content, u.tr.Category("doh")) {
				t.Errorf("second notification %q does not name its category", shown[1].Content)
			}
			u.CheckNotices()
			if len(shown) != 2 || f.afters[1] != t0.Add(2*time.Second) {
				t.Fatalf("second check: %d shown, asked after %v", len(shown), f.afters[1])
			}
			f.notices = append(f.notices, client.Notice{Time: t0.Add(2 * time.Minute), Host: "pornhub.com", Category: "adult"})
			u.CheckNotices()
			if len(shown) != 3 || strings.Contains(shown[2].Content, "()") || strings.Contains(shown[2].Content, "（）") {
				t.Fatalf("a block two minutes later: %d shown, last %+v", len(shown), shown[len(shown)-1])
			}
		})
	}
}

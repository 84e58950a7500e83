package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name      string
		attempts  []string // typed and submitted in turn
		limitAt   int
		wantLogin int    // Login calls that reach the agent
		wantMsg   string // message under the button after the last attempt
		wantOpen  bool   // the settings screen replaced the login
	}{
		{name: "right password opens settings", attempts: []string{"secret1"}, wantLogin: 1, wantOpen: true},
		{name: "wrong password says so", attempts: []string{"guess"}, wantLogin: 1, wantMsg: "Wrong password."},
		{name: "empty password is not sent", attempts: []string{""}, wantLogin: 0, wantMsg: "Enter the parent password."},
		{
			name:     "rate limit shows the wait and stops asking",
			attempts: []string{"a1", "a2", "a3", "secret1"}, limitAt: 2,
			// a1, a2 wrong; a3 is refused with a wait; the right password
			// typed during the wait is not sent at all.
			wantLogin: 3, wantMsg: "Too many wrong passwords. Try again in 30 s (at 10:00:30).",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "Login", "Settings", "Status")
			f.password, f.limitAt = "secret1", tt.limitAt
			u := newTestUI(t, f, LangEnglish, nil)
			l := u.ShowSettings()
			if got := u.windows[winSettings].Canvas().Focused(); got != l.password {
				t.Errorf("focus on %v, want the password entry", got)
			}
			for _, pw := range tt.attempts {
				l.password.SetText("")
				test.Type(l.password, pw)
				test.Tap(l.submit)
			}
			if got := f.count("Login"); got != tt.wantLogin {
				t.Errorf("Login calls = %d, want %d", got, tt.wantLogin)
			}
			w := u.windows[winSettings]
			all := windowTexts(w)
			assertTranslated(t, all)
			if tt.wantOpen {
				if !hasText(all, "Save") || f.count("Settings") != 1 {
					t.Errorf("settings screen not shown after login; texts %q", all)
				}
				return
			}
			if l.message.Text != tt.wantMsg {
				t.Errorf("message = %q, want %q", l.message.Text, tt.wantMsg)
			}
			if l.password.Text != "" && tt.wantMsg != "Enter the parent password." && !strings.HasPrefix(tt.wantMsg, "Too many") {
				t.Errorf("password entry kept %q after a refusal", l.password.Text)
			}
		})
	}
}

// TestLoginWaitGolden pins the look of the rate-limited login.
func TestLoginWaitGolden(t *testing.T) {
	f := newFake(t, "Login")
	f.password, f.limitAt = "secret1", 1
	u := newTestUI(t, f, LangEnglish, nil)
	l := u.ShowSettings()
	for _, pw := range []string{"x", "y"} {
		test.Type(l.password, pw)
		test.Tap(l.submit)
	}
	w := u.windows[winSettings]
	w.Resize(fyne.NewSize(480, 360))
	test.AssertRendersToMarkup(t, "login_wait.xml", w.Canvas())
}

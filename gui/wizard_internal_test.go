package gui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestFirstRunOpensWizard(t *testing.T) {
	f := newFake(t, "Status")
	u := newTestUI(t, f, LangEnglish, nil)
	u.Start()
	w := u.windows[winWizard]
	if w == nil {
		t.Fatal("no wizard window on first run")
	}
	if all := windowTexts(w); !hasText(all, "Welcome to GreenGate") {
		t.Errorf("wizard texts %q", all)
	}

	// With a password set, Start opens nothing.
	f2 := newFake(t, "Status")
	f2.password = "secret1"
	u2 := newTestUI(t, f2, LangEnglish, nil)
	u2.Start()
	if len(u2.windows) != 0 {
		t.Errorf("windows opened with a password set: %v", u2.windows)
	}
}

func TestWizard(t *testing.T) {
	tests := []struct {
		name, pw, confirm, template string
		wantMsg                     string // "" means it finished
		wantProfile                 string
		wantBlock                   []string
		wantMon, wantSat            []string // Hours; nil means not listed (all day)
	}{
		{name: "too short", pw: "abc", confirm: "abc", wantMsg: "Use at least 6 characters."},
		{name: "mismatch", pw: "secret1", confirm: "secret2", wantMsg: "The two passwords are not the same."},
		{
			name: "young child", pw: "secret1", confirm: "secret1", template: "Young child: strict, 7:00–19:00",
			wantProfile: "child", wantBlock: []string{"adult", "gambling", "proxy"},
			wantMon: []string{"07:00-19:00"}, wantSat: []string{"07:00-19:00"},
		},
		{
			name: "school lab", pw: "lab-admin", confirm: "lab-admin", template: "School lab: school hours on weekdays, strict",
			wantProfile: "lab", wantBlock: []string{"adult", "gambling", "proxy"},
			wantMon: []string{"07:00-18:00"}, wantSat: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "SetPassword", "Login", "Status", "Settings", "SaveSettings")
			u := newTestUI(t, f, LangEnglish, nil)
			s := u.ShowWizard()
			test.Type(s.password, tt.pw)
			test.Type(s.confirm, tt.confirm)
			if tt.template != "" {
				s.template.SetSelected(tt.template)
			}
			test.Tap(s.finish)
			if tt.wantMsg != "" {
				if s.message.Text != tt.wantMsg {
					t.Errorf("message = %q, want %q", s.message.Text, tt.wantMsg)
				}
				if n := f.count("SetPassword"); n != 0 {
					t.Errorf("SetPassword called %d times", n)
				}
				return
			}
			if s.message.Text != "" || f.password != tt.pw || len(f.saved) != 1 {
				t.Fatalf("message %q, password %q, saves %d", s.message.Text, f.password, len(f.saved))
			}
			st := f.saved[0]
			p := st.Profiles[slices.IndexFunc(st.Profiles, func(p client.Profile) bool { return p.Name == tt.wantProfile })]
			if st.DefaultProfile != tt.wantProfile {
				t.Errorf("default profile = %q", st.DefaultProfile)
			}
			if !slices.Equal(p.Block, tt.wantBlock) || !p.SafeSearch {
				t.Errorf("profile = %+v", p)
			}
			if !slices.Equal(p.Hours["mon"], tt.wantMon) || !slices.Equal(p.Hours["sat"], tt.wantSat) {
				t.Errorf("hours = %v", p.Hours)
			}
			if _, listed := p.Hours["sat"]; listed != (tt.wantSat != nil) {
				t.Errorf("saturday listed = %v", listed)
			}
			if w := u.windows[winSettings]; w == nil || !hasText(windowTexts(w), "Save") {
				t.Error("settings window not opened after the wizard")
			}
		})
	}
}

// TestWizardAsAPlainUser: the agent refuses the first password from a
// tray that is not run as administrator; the wizard says who can set it
// and saves nothing.
func TestWizardAsAPlainUser(t *testing.T) {
	f := newFake(t, "SetPassword")
	f.notAdmin = true
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.ShowWizard()
	test.Type(s.password, "secret1")
	test.Type(s.confirm, "secret1")
	test.Tap(s.finish)
	if want := "Only an administrator can set the first parent password."; !strings.HasPrefix(s.message.Text, want) {
		t.Errorf("message = %q, want it to start %q", s.message.Text, want)
	}
	if f.password != "" || len(f.saved) != 0 || s.finish.Disabled() {
		t.Errorf("password %q, saves %d, finish disabled %v", f.password, len(f.saved), s.finish.Disabled())
	}
}

// TestWizardWithoutTray: with no tray, the finished wizard's window is
// closed, not hidden, so closing the settings window afterwards ends the app.
func TestWizardWithoutTray(t *testing.T) {
	f := newFake(t, "SetPassword", "Login", "Status", "Settings", "SaveSettings")
	a := test.NewTempApp(t)
	u := New(Config{App: a, Client: f, Now: func() time.Time { return testNow }, Go: func(fn func()) { fn() }, QuitOnClose: true})
	before := len(a.Driver().AllWindows())
	s := u.ShowWizard()
	test.Type(s.password, "secret1")
	test.Type(s.confirm, "secret1")
	test.Tap(s.finish)
	if _, open := u.windows[winWizard]; open {
		t.Error("wizard window still open after finishing")
	}
	if got := len(a.Driver().AllWindows()) - before; got != 1 {
		for _, w := range a.Driver().AllWindows() {
			t.Logf("open: %q (before: %d)", w.Title(), before)
		}
		t.Errorf("open windows = %d, want 1 (settings)", got)
	}
}

// Only an administrator may set the first parent password: the wizard says
// so, and with SetFirstPassword (pkexec in the tray's main) it sets the
// password that way instead of asking the agent as the user; the rest of
// the wizard then runs on the agent with that password.
func TestWizardFirstPasswordAsAdministrator(t *testing.T) {
	f := newFake(t, "Login", "Status", "Settings", "SaveSettings")
	u := newTestUI(t, f, LangEnglish, nil)
	var got string
	u.cfg.SetFirstPassword = func(_ context.Context, pw string) error {
		got = pw
		f.password = pw // what root's greengate settings password does
		return nil
	}
	s := u.ShowWizard()
	if all := windowTexts(u.windows[winWizard]); !slices.ContainsFunc(all, func(s string) bool { return strings.Contains(s, "Only an administrator") }) {
		t.Errorf("wizard does not say who sets the password: %q", all)
	}
	test.Type(s.password, "secret1")
	test.Type(s.confirm, "secret1")
	test.Tap(s.finish)
	if s.message.Text != "" || got != "secret1" || len(f.saved) != 1 {
		t.Fatalf("message %q, SetFirstPassword got %q, saves %d", s.message.Text, got, len(f.saved))
	}

	// Without it (Windows, no pkexec) the wizard names the terminal command.
	u2 := newTestUI(t, newFake(t), LangEnglish, nil)
	u2.ShowWizard()
	if all := windowTexts(u2.windows[winWizard]); !slices.ContainsFunc(all, func(s string) bool { return strings.Contains(s, "sudo greengate settings password") }) {
		t.Errorf("wizard without pkexec does not name the command: %q", all)
	}
}

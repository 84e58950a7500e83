package gui

import (
	"bytes"
	"fmt"
	"image/png"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestStatusShowsBundlesAndCounts(t *testing.T) {
	f := newFake(t, "Status")
	f.password = "secret1"
	f.status.BlockedToday = 42
	f.status.Bundles = []client.BundleStatus{
		{Publisher: "greengate.example", Version: 2026112701, LastSuccess: testNow.Add(-time.Hour), LastCheck: testNow.Add(-time.Hour)},
		{Publisher: "school-it", Version: 7, LastCheck: testNow.Add(-5 * time.Minute), LastError: "signature by unknown key"},
		{Publisher: "lab", Version: 3, Expires: testNow.Add(-24 * time.Hour), Expired: true},
	}
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.ShowStatus()
	all := windowTexts(u.windows[winStatus])
	assertTranslated(t, all)
	for _, want := range []string{"Filtering is on", "Blocked today: 42", "greengate.example", "2026112701", "2026-11-27 09:00",
		"school-it", "172 rules in 3 bundles", "Adult content", "120"} {
		if !hasText(all, want) {
			t.Errorf("status lacks %q; has %q", want, all)
		}
	}
	if got := s.bundleErrs.Objects; len(got) != 2 || got[0].(*widget.Label).Text != "Last update from school-it failed: signature by unknown key. Filtering goes on with the rules already installed." ||
		got[1].(*widget.Label).Text != "The rules from lab expired on 2026-11-26 10:00. Filtering goes on with them until a newer bundle arrives." {
		for _, o := range got {
			t.Logf("bundle error label: %q", o.(*widget.Label).Text)
		}
		t.Errorf("bundle errors = %v", got)
	}
	if hasText(all, "Resume filtering") {
		t.Error("hidden resume button drawn")
	}
	if !s.pause15.Visible() || s.resume.Visible() {
		t.Error("pause buttons hidden or resume shown while filtering")
	}
}

func TestPauseFromStatusNeedsPassword(t *testing.T) {
	f := newFake(t, "Status", "CheckPassword", "Pause")
	f.password = "secret1"
	u := newTestUI(t, f, LangEnglish, nil)
	var icons []string
	u.SetTray(func(_ *fyne.Menu, icon fyne.Resource) { icons = append(icons, icon.Name()) })
	s := u.ShowStatus()

	l := s.pause(PauseLong)
	test.Type(l.password, "nope")
	test.Tap(l.submit)
	if len(f.pauses) != 0 || l.message.Text != "Wrong password." {
		t.Fatalf("paused with a wrong password: %v, %q", f.pauses, l.message.Text)
	}
	test.Type(l.password, "secret1")
	test.Tap(l.submit)
	if !slices.Equal(f.pauses, []time.Duration{time.Hour}) {
		t.Fatalf("pauses = %v", f.pauses)
	}
	if s.state.Text != "Paused until 11:00" || !s.resume.Visible() || s.pause15.Visible() {
		t.Errorf("after pause: state %q, resume visible %v", s.state.Text, s.resume.Visible())
	}
	if got := icons[len(icons)-1]; got != "greengate-paused.png" {
		t.Errorf("tray icon = %q", got)
	}
	m := u.TrayMenu()
	if m.Items[2].Label != "Resume filtering" {
		t.Errorf("tray item after pause = %q", m.Items[2].Label)
	}
}

func TestTrayMenu(t *testing.T) {
	tests := []struct {
		name      string
		status    client.Status
		err       error
		wantState string
		wantThird string
		wantIcon  string
	}{
		{"filtering", client.Status{Running: true}, nil, "Filtering is on", "Pause 15 minutes…", StateFiltering},
		{"paused", client.Status{Running: true, Paused: true, PausedUntil: testNow.Add(15 * time.Minute)}, nil, "Paused until 10:15", "Resume filtering", StatePaused},
		{"settings refused", client.Status{Running: true, SettingsError: "profiles[0].name: bad"}, nil, "Filtering has a problem", "Pause 15 minutes…", StateProblem},
		{"agent down", client.Status{}, client.ErrAgentNotRunning, "The GreenGate agent is not answering", "Pause 15 minutes…", StateProblem},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newTestUI(t, newFake(t), LangEnglish, nil)
			u.status, u.statusErr = tt.status, tt.err
			m := u.TrayMenu()
			if m.Items[0].Label != tt.wantState || !m.Items[0].Disabled {
				t.Errorf("state item = %q (disabled %v)", m.Items[0].Label, m.Items[0].Disabled)
			}
			if m.Items[2].Label != tt.wantThird {
				t.Errorf("third item = %q, want %q", m.Items[2].Label, tt.wantThird)
			}
			for _, it := range m.Items {
				if !it.IsSeparator && !it.Disabled && it.Action == nil {
					t.Errorf("item %q does nothing", it.Label)
				}
			}
			if got := u.trayState(); got != tt.wantIcon {
				t.Errorf("tray state = %q, want %q", got, tt.wantIcon)
			}
		})
	}
}

func TestTrayIconColours(t *testing.T) {
	t.Parallel()
	for state, want := range map[string][3]uint32{
		StateFiltering: {0x2e, 0x9e, 0x44},
		StatePaused:    {0xf0, 0xa0, 0x20},
		StateProblem:   {0xd0, 0x30, 0x30},
	} {
		img, err := png.Decode(bytes.NewReader(TrayIcon(state).Content()))
		if err != nil {
			t.Fatalf("%s: %v", state, err)
		}
		r, g, b, _ := img.At(trayIconSize/2, trayIconSize/2).RGBA()
		if got := [3]uint32{r >> 8, g >> 8, b >> 8}; got != want {
			t.Errorf("%s centre = %x, want %x", state, got, want)
		}
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%s corner not transparent", state)
		}
	}
}

func TestStatusAgentDown(t *testing.T) {
	f := newFake(t, "Status")
	f.statusErr = fmt.Errorf("calling /v1/status: %w", client.ErrAgentNotRunning)
	u := newTestUI(t, f, LangChinese, nil)
	var icons []string
	u.SetTray(func(_ *fyne.Menu, icon fyne.Resource) { icons = append(icons, icon.Name()) })
	s := u.ShowStatus()
	if s.state.Text != "GreenGate 服务无响应" {
		t.Errorf("state = %q", s.state.Text)
	}
	if want := "本电脑上的 GreenGate 服务没有运行，过滤可能已关闭。请重启电脑或重新安装 GreenGate。"; s.message.Text != want {
		t.Errorf("message = %q", s.message.Text)
	}
	for _, b := range []*widget.Button{s.update, s.pause15, s.pause1h, s.resume} {
		if b.Visible() {
			t.Errorf("button %q shown with the agent down", b.Text)
		}
	}
	if got := icons[len(icons)-1]; got != "greengate-problem.png" {
		t.Errorf("tray icon = %q", got)
	}
}

func TestStatusEndGrantEarly(t *testing.T) {
	f := newFake(t, "Status", "CheckPassword", "Revoke")
	f.password = "secret1"
	f.status.Grants = []client.Grant{
		{Host: "discord.com", Profile: "teen", Until: testNow.Add(time.Hour)},
		{Host: "scratch.mit.edu", Until: testNow.Add(24 * time.Hour)},
	}
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.ShowStatus()
	all := windowTexts(u.windows[winStatus])
	for _, want := range []string{"Allowed for now", "discord.com for teen until 11-27 11:00", "scratch.mit.edu for every profile until 11-28 10:00"} {
		if !hasText(all, want) {
			t.Errorf("status lacks %q; has %q", want, all)
		}
	}
	l := s.revoke("discord.com")
	test.Type(l.password, "secret1")
	test.Tap(l.submit)
	if len(f.status.Grants) != 1 || f.status.Grants[0].Host != "scratch.mit.edu" {
		t.Fatalf("grants left = %+v", f.status.Grants)
	}
	all = windowTexts(u.windows[winStatus])
	if hasText(all, "discord.com for teen until 11-27 11:00") || !hasText(all, "scratch.mit.edu for every profile until 11-28 10:00") {
		t.Errorf("status after revoke: %q", all)
	}
}

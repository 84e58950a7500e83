package gui

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestSettingsListValidationAsYouType(t *testing.T) {
	f := newFake(t, "Settings", "Status", "SaveSettings")
	f.password = "secret1"
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showSettingsWith("secret1")
	assertTranslated(t, texts(s.content))

	steps := []struct {
		name    string
		typed   string
		wantErr string // "" means the error line is hidden
	}{
		{"a URL", "https://example.com", "Line 1: leave out http:// or https://"},
		{"a port on line 2", "ok.example\nexample.com:443", "Line 2: leave out the port (:443)"},
		{"a lone word", "homework", "Line 1: write a whole site name such as example.com"},
		{"hosts and a path", "scratch.mit.edu\nkhanacademy.org/math\n例子.中国", ""},
	}
	for _, st := range steps {
		s.allow.SetText("")
		test.Type(s.allow, st.typed)
		l := s.errs[fieldAllow]
		if st.wantErr == "" {
			if l.Visible() {
				t.Errorf("%s: error shown: %q", st.name, l.Text)
			}
			continue
		}
		if !l.Visible() || l.Text != st.wantErr {
			t.Errorf("%s: error = %q (visible %v), want %q", st.name, l.Text, l.Visible(), st.wantErr)
		}
	}

	test.Tap(s.save)
	if len(f.saved) != 1 {
		t.Fatalf("saves = %d, want 1", len(f.saved))
	}
	got := f.saved[0].Profiles[0].Allow
	if want := []string{"scratch.mit.edu", "khanacademy.org/math", "例子.中国"}; !slices.Equal(got, want) {
		t.Errorf("saved allow list = %q, want %q", got, want)
	}
	if s.saved.Text != "Saved." {
		t.Errorf("saved label = %q", s.saved.Text)
	}
}

func TestSettingsBadListIsNotSent(t *testing.T) {
	f := newFake(t, "Settings", "Status")
	f.password = "secret1"
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showSettingsWith("secret1")
	test.Type(s.deny, "bad host.com")
	test.Tap(s.save)
	if n := f.count("SaveSettings"); n != 0 {
		t.Errorf("SaveSettings called %d times with a bad list", n)
	}
	if !s.errs[fieldDeny].Visible() {
		t.Error("deny error not shown")
	}
}

// TestSettingsAgentProblemsNextToFields: the agent's refusal is shown by the
// field it names, for the profile it names, and nothing is lost on screen.
func TestSettingsAgentProblemsNextToFields(t *testing.T) {
	f := newFake(t, "Settings", "Status", "SaveSettings")
	f.password = "secret1"
	f.saveErr = &client.Error{Code: client.CodeInvalid, Problems: []string{
		`profiles[0].deny[0]: bad host "exa_mple.com"`,
		`users["bob"]: no profile named "kid"`,
		`lan_clients[0]: bad network "x"`,
	}}
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showSettingsWith("secret1")
	test.Type(s.deny, "exa-mple.com")
	test.Tap(s.save)

	if got := s.errs[fieldDeny].Text; got != `bad host "exa_mple.com"` || !s.errs[fieldDeny].Visible() {
		t.Errorf("deny error = %q", got)
	}
	if got := s.errs[fieldUsers].Text; got != `no profile named "kid"` {
		t.Errorf("users error = %q", got)
	}
	if got := s.errs[fieldGeneral].Text; !strings.Contains(got, "did not accept") || !strings.Contains(got, `lan_clients[0]: bad network "x"`) {
		t.Errorf("general error = %q", got)
	}
	if s.deny.Text != "exa-mple.com" {
		t.Errorf("edit lost: deny = %q", s.deny.Text)
	}

	// The deny problem belongs to profile 0: the teen profile does not show it.
	s.profile.SetSelected("teen")
	if s.errs[fieldDeny].Visible() {
		t.Errorf("teen shows child's deny error %q", s.errs[fieldDeny].Text)
	}
	s.profile.SetSelected("child")
	if !s.errs[fieldDeny].Visible() {
		t.Error("child's deny error gone after switching back")
	}
}

func TestSettingsEditsReachTheAgent(t *testing.T) {
	f := newFake(t, "Settings", "Status", "SaveSettings")
	f.password = "secret1"
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showSettingsWith("secret1")

	if px := s.categories["proxy"]; !px.Checked || !px.Disabled() {
		t.Errorf("always-blocked proxy category: checked %v, disabled %v", px.Checked, px.Disabled())
	}
	s.profile.SetSelected("teen")
	test.Tap(s.categories["gambling"])              // teen: block gambling too
	test.Tap(s.safeSearch)                          // teen: safe search off
	test.Tap(s.allowOnly)                           // teen: allow-list only
	s.youtube.SetSelected("Strict restricted mode") // teen: strict
	test.Tap(s.hours[time.Monday][22])              // no browsing Monday 22:00-23:00
	s.addUserRow("leo", "child")                    // map a new account
	test.Tap(s.save)

	if len(f.saved) != 1 {
		t.Fatalf("saves = %d", len(f.saved))
	}
	got := f.saved[0]
	teen := got.Profiles[1]
	if !slices.Contains(teen.Block, "gambling") || teen.SafeSearch || teen.YouTube != YouTubeStrict || !teen.AllowListOnly {
		t.Errorf("teen = %+v", teen)
	}
	if want := []string{"00:00-22:00", "23:00-24:00"}; !slices.Equal(teen.Hours["mon"], want) || len(teen.Hours) != 1 {
		t.Errorf("teen hours = %v, want only mon %v", teen.Hours, want)
	}
	if got.Users["leo"] != "child" || got.Users["mia"] != "teen" {
		t.Errorf("users = %v", got.Users)
	}
	if child := got.Profiles[0]; !slices.Equal(child.Block, []string{"adult", "gambling"}) || child.Hours != nil {
		t.Errorf("child changed: %+v", child)
	}
}

func TestSettingsAddAndDeleteProfiles(t *testing.T) {
	f := newFake(t, "Settings", "Status", "SaveSettings")
	f.password = "secret1"
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showSettingsWith("secret1")

	steps := []struct {
		name    string
		do      func()
		wantErr string
		want    []string // profile names after the step
	}{
		{"add a lab profile", func() { s.newName.SetText("lab"); test.Tap(s.addProfile) }, "", []string{"child", "teen", "lab"}},
		{"no duplicate", func() { s.newName.SetText("teen"); test.Tap(s.addProfile) }, "There is already a profile named “teen”.", []string{"child", "teen", "lab"}},
		{"no empty name", func() { s.newName.SetText("  "); test.Tap(s.addProfile) }, "Type a name for the new profile.", []string{"child", "teen", "lab"}},
		{"teen is used by mia", func() { s.profile.SetSelected("teen"); test.Tap(s.delProfile) }, "“teen” is used by mia; change that on the Users tab first.", []string{"child", "teen", "lab"}},
		{"child is the default", func() { s.profile.SetSelected("child"); test.Tap(s.delProfile) }, "“child” is the profile for other accounts; choose another one on the Users tab first.", []string{"child", "teen", "lab"}},
		{"delete lab", func() { s.profile.SetSelected("lab"); test.Tap(s.delProfile) }, "", []string{"child", "teen"}},
	}
	for _, st := range steps {
		s.setErr(fieldName, "")
		st.do()
		if got := s.errs[fieldName].Text; got != st.wantErr {
			t.Errorf("%s: error = %q, want %q", st.name, got, st.wantErr)
		}
		if got := s.profileNames(); !slices.Equal(got, st.want) || !slices.Equal(s.profile.Options, st.want) || !slices.Equal(s.defaultProfile.Options, st.want) {
			t.Errorf("%s: profiles %q, select %q, default select %q; want %q", st.name, got, s.profile.Options, s.defaultProfile.Options, st.want)
		}
	}

	// A new profile starts from the one shown, without its own lists.
	s.profile.SetSelected("teen")
	s.allow.SetText("scratch.mit.edu")
	s.newName.SetText("teen2")
	test.Tap(s.addProfile)
	if s.profile.Selected != "teen2" || s.allow.Text != "" {
		t.Errorf("after add: shown %q, allow %q", s.profile.Selected, s.allow.Text)
	}
	test.Tap(s.save)
	p := f.saved[0].Profiles[2]
	if p.Name != "teen2" || !slices.Equal(p.Block, []string{"adult"}) || p.YouTube != "moderate" || p.Allow != nil {
		t.Errorf("saved new profile = %+v", p)
	}
	if got := f.saved[0].Profiles[1].Allow; !slices.Equal(got, []string{"scratch.mit.edu"}) {
		t.Errorf("teen's allow list = %q", got)
	}
}

func TestSettingsLANProfiles(t *testing.T) {
	f := newFake(t, "Settings", "Status", "SaveSettings")
	f.password = "secret1"
	f.settings.LANProfiles = map[string]string{"10.0.5.0/24": "teen"}
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showSettingsWith("secret1")
	if got := mappingOf(s.lan); len(got) != 1 || got["10.0.5.0/24"] != "teen" {
		t.Fatalf("LAN rows = %v", got)
	}

	s.addLANRow("192.168.1.0/33", "child")
	test.Tap(s.save)
	if n := f.count("SaveSettings"); n != 0 {
		t.Errorf("saved with a bad network")
	}
	if got := s.errs[fieldUsers].Text; got != "“192.168.1.0/33” is not a network; write it like 192.168.1.0/24." {
		t.Errorf("users tab error = %q", got)
	}

	grid := s.lan.Objects[1].(*fyne.Container).Objects[0].(*fyne.Container)
	grid.Objects[0].(*widget.Entry).SetText("192.168.1.0/24")
	test.Tap(s.save)
	want := map[string]string{"10.0.5.0/24": "teen", "192.168.1.0/24": "child"}
	if got := f.saved[0].LANProfiles; !maps.Equal(got, want) {
		t.Errorf("saved LAN profiles = %v, want %v", got, want)
	}

	// A profile a LAN network uses cannot be deleted.
	s.users.Objects = nil // mia no longer pins teen
	s.profile.SetSelected("teen")
	test.Tap(s.delProfile)
	if got := s.errs[fieldName].Text; got != "“teen” is used by 10.0.5.0/24; change that on the Users tab first." {
		t.Errorf("delete error = %q", got)
	}
}

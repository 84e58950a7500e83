package gui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// Profile templates the first-run wizard offers.
const (
	TemplateYoungChild = "young-child"
	TemplateTeen       = "teen"
	TemplateSchoolLab  = "school-lab"
)

// minPasswordLen is the wizard's own floor so a typo like "a" is caught
// before the round trip; the agent enforces its own rule on SetPassword.
const minPasswordLen = 6

// templateProfile builds the profile a template stands for. It blocks only
// categories in available (what the agent has rules for): the agent refuses
// a category it has no list for, and a template naming "violence" when no
// bundle has it must still work. With nothing available it blocks the two
// categories every agent has embedded rules for.
func templateProfile(template string, available []string) (client.Profile, error) {
	var p client.Profile
	var want []string
	var from, to int // allowed hours, [from, to)
	weekdaysOnly := false
	strict := []string{"adult", "gambling", "violence", "drugs", "dating", "social", "games", "chat", "malware", "phishing", "proxy", "doh"}
	switch template {
	case TemplateYoungChild:
		p = client.Profile{Name: "child", SafeSearch: true, YouTube: YouTubeStrict}
		want, from, to = strict, 7, 19
	case TemplateTeen:
		p = client.Profile{Name: "teen", SafeSearch: true, YouTube: YouTubeModerate}
		want, from, to = []string{"adult", "gambling", "drugs", "malware", "phishing", "proxy", "doh"}, 6, 23
	case TemplateSchoolLab:
		p = client.Profile{Name: "lab", SafeSearch: true, YouTube: YouTubeStrict}
		want, from, to = strict, 7, 18
		weekdaysOnly = true
	default:
		return client.Profile{}, fmt.Errorf("unknown profile template %q", template)
	}
	if len(available) == 0 {
		available = []string{"adult", "gambling"}
	}
	for _, id := range want {
		if slices.Contains(available, id) {
			p.Block = append(p.Block, id)
		}
	}
	var hours [24]bool
	for h := from; h < to; h++ {
		hours[h] = true
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if weekdaysOnly && (d == time.Saturday || d == time.Sunday) {
			p.Hours = setDayHours(p.Hours, d, [24]bool{})
		} else {
			p.Hours = setDayHours(p.Hours, d, hours)
		}
	}
	return p, nil
}

// wizardScreen sets the parent password and the first profile. It runs once,
// when the agent says no password is set.
type wizardScreen struct {
	env      env
	password *widget.Entry
	confirm  *widget.Entry
	template *widget.RadioGroup
	finish   *widget.Button
	message  *widget.Label
	content  fyne.CanvasObject

	templates []string // RadioGroup option order, parallel to the labels
	onDone    func(password string)
}

func newWizardScreen(e env, onDone func(password string)) *wizardScreen {
	s := &wizardScreen{env: e, onDone: onDone}
	tr := e.tr
	s.password = widget.NewPasswordEntry()
	s.password.SetPlaceHolder(tr.T("wizard.password"))
	s.confirm = widget.NewPasswordEntry()
	s.confirm.SetPlaceHolder(tr.T("wizard.confirm"))
	s.templates = []string{TemplateYoungChild, TemplateTeen, TemplateSchoolLab}
	labels := make([]string, len(s.templates))
	for i, t := range s.templates {
		labels[i] = tr.T("template." + t)
	}
	s.template = widget.NewRadioGroup(labels, nil)
	s.template.SetSelected(labels[0])
	s.template.Required = true
	s.finish = widget.NewButton(tr.T("wizard.finish"), s.done)
	s.finish.Importance = widget.HighImportance
	s.message = widget.NewLabel("")
	s.message.Importance = widget.DangerImportance
	s.message.Wrapping = fyne.TextWrapWord

	intro := widget.NewLabel(tr.T("wizard.intro"))
	intro.Wrapping = fyne.TextWrapWord
	// No password yet: only an administrator may set the first one. Say
	// so and how, before anyone types a password that would be refused.
	adminKey := "wizard.admin_terminal"
	if e.firstPwd != nil {
		adminKey = "wizard.admin"
	}
	admin := widget.NewLabel(tr.T(adminKey))
	admin.Wrapping = fyne.TextWrapWord
	admin.Importance = widget.WarningImportance
	s.content = container.NewVBox(
		widget.NewLabelWithStyle(tr.T("wizard.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		intro, admin,
		widget.NewLabel(tr.T("wizard.step1")), s.password, s.confirm,
		widget.NewLabel(tr.T("wizard.step2")), s.template,
		s.finish, s.message,
	)
	return s
}

func (s *wizardScreen) selectedTemplate() string {
	for i, t := range s.templates {
		if s.template.Selected == s.env.tr.T("template."+t) {
			return s.templates[i]
		}
	}
	return ""
}

func (s *wizardScreen) done() {
	tr := s.env.tr
	pw := s.password.Text
	switch {
	case len([]rune(pw)) < minPasswordLen:
		s.message.SetText(tr.T("wizard.short", map[string]any{"Min": minPasswordLen}))
		return
	case pw != s.confirm.Text:
		s.message.SetText(tr.T("wizard.mismatch"))
		return
	}
	tpl := s.selectedTemplate()
	s.finish.Disable()
	s.message.SetText("")
	call(s.env, func(ctx context.Context) (struct{}, error) {
		c := s.env.client
		set := func(ctx context.Context, pw string) error { return c.SetPassword(ctx, "", pw) }
		if s.env.firstPwd != nil {
			set = s.env.firstPwd // as an administrator (pkexec)
		}
		if err := set(ctx, pw); err != nil {
			return struct{}{}, fmt.Errorf("setting the parent password: %w", err)
		}
		if err := c.Login(ctx, pw); err != nil {
			return struct{}{}, fmt.Errorf("logging in with the new password: %w", err)
		}
		status, err := c.Status(ctx)
		if err != nil {
			return struct{}{}, fmt.Errorf("reading the agent's categories: %w", err)
		}
		st, err := c.Settings(ctx)
		if err != nil {
			return struct{}{}, fmt.Errorf("reading settings: %w", err)
		}
		p, err := templateProfile(tpl, slices.Collect(maps.Keys(status.RuleCounts)))
		if err != nil {
			return struct{}{}, err
		}
		// The template is the answer to "who uses this computer", so it
		// applies to every account not mapped to another profile.
		st.Profiles = upsertProfile(st.Profiles, p)
		st.DefaultProfile = p.Name
		if err := s.env.client.SaveSettings(ctx, pw, st); err != nil {
			return struct{}{}, fmt.Errorf("saving the first profile: %w", err)
		}
		return struct{}{}, nil
	}, func(_ struct{}, err error) {
		s.finish.Enable()
		if err != nil {
			s.message.SetText(agentError(tr, err))
			return
		}
		s.onDone(pw)
	})
}

// upsertProfile replaces the profile of the same name or appends it.
func upsertProfile(ps []client.Profile, p client.Profile) []client.Profile {
	out := slices.Clone(ps)
	for i := range out {
		if out[i].Name == p.Name {
			out[i] = p
			return out
		}
	}
	return append(out, p)
}

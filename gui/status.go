package gui

import (
	"context"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// Pause periods offered in the status window and the tray.
const (
	PauseShort = 15 * time.Minute
	PauseLong  = time.Hour
)

// statusScreen answers "is the filter working, and with which rules?". It
// needs no password to look at — a child may see that filtering is on — and
// asks for it for pause and update.
type statusScreen struct {
	env      env
	win      fyne.Window
	content  fyne.CanvasObject
	state    *widget.Label
	agent    *widget.Label
	blocked  *widget.Label
	https    *widget.Label // what is decrypted, said plainly
	settings *widget.Label // the agent refused the last settings edit
	bundles  *fyne.Container
	// bundleErrs has one line per failing publisher, under the table: an
	// update error is a sentence and needs the window's width.
	bundleErrs *fyne.Container
	rules      *fyne.Container
	grants     *fyne.Container // active "allow this site" grants, each with End now
	total      *widget.Label
	message    *widget.Label
	update     *widget.Button
	pause15    *widget.Button
	pause1h    *widget.Button
	resume     *widget.Button
	onStatus   func(client.Status, error) // tells the tray what the agent said
}

func newStatusScreen(e env, w fyne.Window, onStatus func(client.Status, error)) *statusScreen {
	tr := e.tr
	s := &statusScreen{env: e, win: w, onStatus: onStatus}
	s.state = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.agent = widget.NewLabel("")
	s.https = widget.NewLabel("")
	s.https.Wrapping = fyne.TextWrapWord
	s.blocked = widget.NewLabel("")
	s.settings = errorLabel("")
	s.bundles = container.NewGridWithColumns(4)
	s.bundleErrs = container.NewVBox()
	s.rules = container.NewGridWithColumns(2)
	s.grants = container.NewVBox()
	s.total = widget.NewLabel("")
	s.message = errorLabel("")
	s.update = widget.NewButton(tr.T("status.update"), func() { s.updateNow() })
	s.pause15 = widget.NewButton(tr.T("tray.pause15"), func() { s.pause(PauseShort) })
	s.pause1h = widget.NewButton(tr.T("tray.pause1h"), func() { s.pause(PauseLong) })
	s.resume = widget.NewButton(tr.T("tray.resume"), func() { s.doResume() })
	bold := func(key string) *widget.Label {
		return widget.NewLabelWithStyle(tr.T(key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	s.content = container.NewBorder(
		container.NewVBox(s.state, s.blocked, s.https, s.settings),
		container.NewVBox(s.message, container.NewHBox(s.update, s.pause15, s.pause1h, s.resume), s.agent),
		nil, nil,
		container.NewVScroll(container.NewVBox(
			s.grants,
			bold("status.bundles"), s.bundles, s.bundleErrs,
			widget.NewSeparator(),
			s.total, s.rules,
		)),
	)
	return s
}

func (s *statusScreen) load() {
	call(s.env, func(ctx context.Context) (client.Status, error) { return s.env.client.Status(ctx) }, s.show)
}

func (s *statusScreen) show(st client.Status, err error) {
	tr := s.env.tr
	loc := s.env.now().Location()
	if s.onStatus != nil {
		s.onStatus(st, err)
	}
	if err != nil {
		// Nothing to pause or update through an agent that does not answer.
		s.state.SetText(tr.T("state.unreachable"))
		s.message.SetText(agentError(tr, err))
		for _, b := range []*widget.Button{s.update, s.pause15, s.pause1h, s.resume} {
			b.Hide()
		}
		return
	}
	s.update.Show()
	s.message.SetText("")
	s.state.SetText(stateText(tr, st, loc))
	s.agent.SetText(tr.T("status.agent", map[string]any{"Version": st.Version, "Addr": st.ProxyAddr}))
	s.blocked.SetText(tr.T("status.blockedtoday", map[string]any{"Count": st.BlockedToday}))
	if st.HTTPSBlockPages != "" {
		s.https.SetText(tr.T("status.https.on", map[string]any{"CA": st.HTTPSBlockPages}))
	} else {
		s.https.SetText(tr.T("status.https.off"))
	}
	if st.SettingsError != "" {
		s.settings.SetText(tr.T("status.settingserror", map[string]any{"Err": st.SettingsError}))
		s.settings.Show()
	} else {
		s.settings.Hide()
	}

	when := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.In(loc).Format("2006-01-02 15:04")
	}
	s.bundles.Objects = nil
	s.bundleErrs.Objects = nil
	for _, h := range []string{"status.col.publisher", "status.col.version", "status.col.lastsuccess", "status.col.lastcheck"} {
		s.bundles.Add(widget.NewLabelWithStyle(tr.T(h), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, b := range st.Bundles {
		s.bundles.Add(widget.NewLabel(b.Publisher))
		s.bundles.Add(widget.NewLabel(strconv.FormatUint(b.Version, 10)))
		s.bundles.Add(widget.NewLabel(when(b.LastSuccess)))
		s.bundles.Add(widget.NewLabel(when(b.LastCheck)))
		if b.Expired {
			s.bundleErrs.Add(errorLabel(tr.T("status.bundleexpired", map[string]any{"Publisher": b.Publisher, "Since": when(b.Expires)})))
		}
		if b.LastError != "" {
			s.bundleErrs.Add(errorLabel(tr.T("status.bundleerror", map[string]any{"Publisher": b.Publisher, "Err": b.LastError})))
		}
	}
	s.bundles.Refresh()
	s.bundleErrs.Refresh()

	s.showGrants(st.Grants)

	s.rules.Objects = nil
	total := 0
	for _, id := range categoryIDs(st, client.Settings{}) {
		n := st.RuleCounts[id]
		total += n
		s.rules.Add(widget.NewLabel(tr.Category(id)))
		s.rules.Add(widget.NewLabel(strconv.Itoa(n)))
	}
	s.rules.Refresh()
	s.total.SetText(tr.T("status.rules", map[string]any{"Count": total, "Bundles": len(st.Bundles)}))

	if st.Paused {
		s.pause15.Hide()
		s.pause1h.Hide()
		s.resume.Show()
	} else {
		s.pause15.Show()
		s.pause1h.Show()
		s.resume.Hide()
	}
}

// showGrants lists the sites allowed for now, so a parent can see what
// "allow this site" left open and end it early.
func (s *statusScreen) showGrants(grants []client.Grant) {
	tr := s.env.tr
	s.grants.Objects = nil
	if len(grants) > 0 {
		s.grants.Add(widget.NewLabelWithStyle(tr.T("status.grants"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, g := range grants {
		profile := g.Profile
		if profile == "" {
			profile = tr.T("status.grants.everyone")
		}
		line := widget.NewLabel(tr.T("status.grant", map[string]any{
			"Host": g.Host, "Profile": profile, "Until": g.Until.In(s.env.now().Location()).Format("01-02 15:04"),
		}))
		host := g.Host
		end := widget.NewButton(tr.T("status.grant.end"), func() { s.revoke(host) })
		s.grants.Add(container.NewBorder(nil, nil, nil, end, line))
	}
	if len(grants) > 0 {
		s.grants.Add(widget.NewSeparator())
	}
	s.grants.Refresh()
}

// revoke ends the grants for host after the password.
func (s *statusScreen) revoke(host string) *loginScreen {
	return askPassword(s.env, s.win, s.env.tr.T("status.grant.why", map[string]any{"Host": host}), func(pw string) {
		call(s.env, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.env.client.Revoke(ctx, pw, host) },
			s.afterAction)
	})
}

// stateText is the one-line state shown in the status window and the tray.
func stateText(tr *Translator, st client.Status, loc *time.Location) string {
	switch agentState(st) {
	case StateFiltering:
		return tr.T("state.filtering")
	case StatePaused:
		return tr.T("state.paused", map[string]any{"Until": st.PausedUntil.In(loc).Format("15:04")})
	default:
		return tr.T("state.problem")
	}
}

func (s *statusScreen) updateNow() *loginScreen {
	return askPassword(s.env, s.win, s.env.tr.T("update.why"), func(pw string) {
		s.update.Disable()
		call(s.env, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.env.client.UpdateNow(ctx, pw) },
			func(_ struct{}, err error) {
				s.update.Enable()
				s.afterAction(struct{}{}, err)
			})
	})
}

func (s *statusScreen) pause(d time.Duration) *loginScreen {
	return askPassword(s.env, s.win, s.env.tr.T("pause.why", map[string]any{"Minutes": int(d / time.Minute)}), func(pw string) {
		call(s.env, func(ctx context.Context) (struct{}, error) {
			_, err := s.env.client.Pause(ctx, pw, d)
			return struct{}{}, err
		}, s.afterAction)
	})
}

func (s *statusScreen) doResume() *loginScreen {
	return askPassword(s.env, s.win, s.env.tr.T("resume.why"), func(pw string) {
		call(s.env, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.env.client.Resume(ctx, pw) },
			s.afterAction)
	})
}

func (s *statusScreen) afterAction(_ struct{}, err error) {
	if err != nil {
		s.message.SetText(agentError(s.env.tr, err))
		return
	}
	s.load()
}

package gui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// loginScreen asks for the parent password and checks it with the agent.
// The agent owns the rate limit; when it says "wait", the screen shows until
// when and does not ask the agent again before then, so a child hammering the
// button learns nothing and costs the agent nothing.
type loginScreen struct {
	env      env
	password *widget.Entry
	submit   *widget.Button
	message  *widget.Label // wrong password or wait, empty otherwise
	content  fyne.CanvasObject

	lockedUntil time.Time
	check       func(ctx context.Context, password string) error
	onSuccess   func(password string)
}

// newLoginScreen checks the password with check — Client.Login where a
// window needs a session for its reads, Client.CheckPassword where one action
// needs the password — and passes it to onSuccess.
func newLoginScreen(e env, purpose string, check func(context.Context, string) error, onSuccess func(password string)) *loginScreen {
	s := &loginScreen{env: e, check: check, onSuccess: onSuccess}
	s.password = widget.NewPasswordEntry()
	s.password.SetPlaceHolder(e.tr.T("login.password"))
	s.password.OnSubmitted = func(string) { s.try() }
	s.submit = widget.NewButton(e.tr.T("login.unlock"), s.try)
	s.submit.Importance = widget.HighImportance
	s.message = widget.NewLabel("")
	s.message.Importance = widget.DangerImportance
	s.message.Wrapping = fyne.TextWrapWord
	intro := widget.NewLabel(purpose)
	intro.Wrapping = fyne.TextWrapWord
	s.content = container.NewVBox(intro, s.password, s.submit, s.message)
	return s
}

func (s *loginScreen) try() {
	now := s.env.now()
	if now.Before(s.lockedUntil) {
		s.showWait()
		return
	}
	pw := s.password.Text
	if pw == "" {
		s.message.SetText(s.env.tr.T("login.empty"))
		return
	}
	s.submit.Disable()
	call(s.env, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.check(ctx, pw)
	}, func(_ struct{}, err error) {
		s.submit.Enable()
		wait, limited := retryAfter(err)
		switch {
		case err == nil:
			s.message.SetText("")
			s.password.SetText("")
			s.onSuccess(pw)
		case limited:
			s.lockedUntil = s.env.now().Add(wait)
			s.password.SetText("")
			s.showWait()
		case errors.Is(err, client.ErrWrongPassword):
			s.password.SetText("")
			s.message.SetText(s.env.tr.T("login.wrong"))
		default:
			s.message.SetText(agentError(s.env.tr, err))
		}
	})
}

func (s *loginScreen) showWait() {
	secs := int(s.lockedUntil.Sub(s.env.now()).Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	s.message.SetText(s.env.tr.T("login.wait", map[string]any{
		"Seconds": secs,
		"Until":   s.lockedUntil.Format("15:04:05"),
	}))
}

// askPassword shows the login screen as a dialog over w and calls then with
// the checked password. The password goes to then and nowhere else.
func askPassword(e env, w fyne.Window, purpose string, then func(password string)) *loginScreen {
	var d dialog.Dialog
	s := newLoginScreen(e, purpose, e.client.CheckPassword, func(pw string) {
		d.Hide()
		then(pw)
	})
	d = dialog.NewCustom(e.tr.T("login.title"), e.tr.T("button.cancel"), s.content, w)
	d.Resize(fyne.NewSize(360, 0))
	d.Show()
	w.Canvas().Focus(s.password)
	return s
}

package gui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// maxAskNote is the agent's limit on a request's note, in bytes (UTF-8: a
// Chinese character is three).
const maxAskNote = 500

// askScreen is the child's side of requests: "please allow this site", with
// a note, sent without a password. The agent records who asked and limits
// how often; the parent sees it in the requests window.
type askScreen struct {
	env     env
	content fyne.CanvasObject
	host    *widget.Entry
	note    *widget.Entry
	send    *widget.Button
	message *widget.Label // what is wrong, or that it was sent
}

func newAskScreen(e env) *askScreen {
	tr := e.tr
	s := &askScreen{env: e}
	s.host = widget.NewEntry()
	s.host.SetPlaceHolder("example.com")
	s.host.OnChanged = func(text string) {
		if key := checkListEntry(text); key != "" && strings.TrimSpace(text) != "" {
			s.message.Importance = widget.DangerImportance
			s.message.SetText(tr.T(key))
			return
		}
		s.message.SetText("")
	}
	s.note = widget.NewMultiLineEntry()
	s.note.SetPlaceHolder(tr.T("ask.note"))
	s.note.SetMinRowsVisible(3)
	s.send = widget.NewButton(tr.T("ask.send"), s.doSend)
	s.send.Importance = widget.HighImportance
	s.message = widget.NewLabel("")
	s.message.Wrapping = fyne.TextWrapWord
	intro := widget.NewLabel(tr.T("ask.intro"))
	intro.Wrapping = fyne.TextWrapWord
	s.content = container.NewVBox(intro, widget.NewLabel(tr.T("ask.site")), s.host, s.note, s.send, s.message)
	return s
}

func (s *askScreen) doSend() {
	tr := s.env.tr
	host := strings.TrimSpace(s.host.Text)
	note := strings.TrimSpace(s.note.Text)
	if key := checkListEntry(host); key != "" || host == "" {
		if key == "" {
			key = "list.err.nodot"
		}
		s.message.Importance = widget.DangerImportance
		s.message.SetText(tr.T(key))
		return
	}
	if len(note) > maxAskNote {
		s.message.Importance = widget.DangerImportance
		s.message.SetText(tr.T("ask.toolong"))
		return
	}
	s.send.Disable()
	call(s.env, func(ctx context.Context) (struct{}, error) { return struct{}{}, s.env.client.Ask(ctx, host, note) },
		func(_ struct{}, err error) {
			s.send.Enable()
			if wait, limited := retryAfter(err); limited {
				s.message.Importance = widget.DangerImportance
				s.message.SetText(tr.T("ask.wait", map[string]any{"Seconds": int(wait.Seconds() + 0.5)}))
				return
			}
			if err != nil {
				s.message.Importance = widget.DangerImportance
				s.message.SetText(agentError(tr, err))
				return
			}
			s.host.SetText("") // clears the message too, so it goes first
			s.note.SetText("")
			s.message.Importance = widget.SuccessImportance
			s.message.SetText(tr.T("ask.sent", map[string]any{"Host": host}))
		})
}

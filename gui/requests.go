package gui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// requestsScreen lists children's "ask a parent" requests and grants one for
// a while. Granting is the same agent call as "allow this site" in the block
// log, so both expire the same way, and it is for the asking child's profile
// only: a site allowed for a teen is not thereby allowed for a young child.
type requestsScreen struct {
	env      env
	password string // from the window's login
	content  fyne.CanvasObject
	list     *fyne.Container
	message  *widget.Label
	refresh  *widget.Button
	rows     []*requestRow
}

// requestRow is one request with its period choice and grant button.
type requestRow struct {
	req     client.Request
	profile string
	period  *widget.Select
	grant   *widget.Button
	status  *widget.Label
}

func newRequestsScreen(e env, password string) *requestsScreen {
	s := &requestsScreen{env: e, password: password}
	s.list = container.NewVBox()
	s.message = errorLabel("")
	s.refresh = widget.NewButton(e.tr.T("requests.refresh"), s.load)
	s.content = container.NewBorder(
		widget.NewLabelWithStyle(e.tr.T("requests.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewVBox(s.message, container.NewHBox(s.refresh)), nil, nil,
		container.NewVScroll(s.list))
	return s
}

type requestsLoaded struct {
	reqs     []client.Request
	settings client.Settings
}

func (s *requestsScreen) load() {
	call(s.env, func(ctx context.Context) (requestsLoaded, error) {
		reqs, err := s.env.client.Requests(ctx)
		if err != nil {
			return requestsLoaded{}, fmt.Errorf("reading requests: %w", err)
		}
		st, err := s.env.client.Settings(ctx)
		if err != nil {
			return requestsLoaded{}, fmt.Errorf("reading which profile each account uses: %w", err)
		}
		return requestsLoaded{reqs, st}, nil
	}, func(l requestsLoaded, err error) {
		if err != nil {
			s.message.SetText(agentError(s.env.tr, err))
			return
		}
		s.message.SetText("")
		s.show(l.reqs, l.settings)
	})
}

// profileFor is the profile the agent applies to the account that asked:
// the mapped one, else the default profile, else the first.
func profileFor(st client.Settings, asker string) string {
	if p, ok := st.Users[asker]; ok {
		return p
	}
	if p, ok := st.Users[osUserName(asker)]; ok {
		return p
	}
	if st.DefaultProfile != "" {
		return st.DefaultProfile
	}
	if len(st.Profiles) > 0 {
		return st.Profiles[0].Name
	}
	return ""
}

func (s *requestsScreen) show(reqs []client.Request, st client.Settings) {
	tr := s.env.tr
	reqs = slices.Clone(reqs)
	slices.SortStableFunc(reqs, func(a, b client.Request) int { return b.Time.Compare(a.Time) }) // newest first
	s.rows = nil
	s.list.Objects = nil
	if len(reqs) == 0 {
		s.list.Add(widget.NewLabel(tr.T("requests.none")))
	}
	labels := make([]string, len(grantDurations))
	for i, d := range grantDurations {
		labels[i] = grantLabel(tr, d)
	}
	for _, r := range reqs {
		row := &requestRow{req: r, profile: profileFor(st, r.Client), status: widget.NewLabel("")}
		row.period = widget.NewSelect(labels, nil)
		row.period.SetSelectedIndex(1)
		row.grant = widget.NewButton(tr.T("requests.grant"), func() { s.grant(row, labels) })
		row.grant.Importance = widget.HighImportance
		head := widget.NewLabelWithStyle(tr.T("requests.who", map[string]any{
			"User": osUserName(r.Client), "Profile": row.profile, "Host": r.Host,
			"Time": r.Time.In(s.env.now().Location()).Format("01-02 15:04"),
		}), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		// The note is a child's free text: a plain label shows it as text,
		// never as markup.
		note := widget.NewLabel(r.Note)
		note.Wrapping = fyne.TextWrapWord
		s.rows = append(s.rows, row)
		s.list.Add(widget.NewCard("", "", container.NewVBox(head, note,
			container.NewHBox(row.period, row.grant, row.status))))
	}
	s.list.Refresh()
}

func (s *requestsScreen) grant(row *requestRow, labels []string) {
	tr := s.env.tr
	dur := grantDurations[max(0, slices.Index(labels, row.period.Selected))]
	row.grant.Disable()
	call(s.env, func(ctx context.Context) (client.Grant, error) {
		return s.env.client.Grant(ctx, s.password, row.req.Host, row.profile, dur)
	}, func(g client.Grant, err error) {
		if err != nil {
			row.grant.Enable()
			s.message.SetText(agentError(tr, err))
			return
		}
		s.message.SetText("")
		row.status.SetText(tr.T("requests.granted", map[string]any{"Until": g.Until.In(s.env.now().Location()).Format("01-02 15:04")}))
	})
}

// osUserName is the account name in the agent's description of who asked:
// "uid 1000 (mia)" on Unix, "S-1-5-21-… (PC\mia)" on Windows. Settings.Users
// is keyed by the plain name, so the domain or machine part is dropped.
// Anything else is returned as it is.
func osUserName(asker string) string {
	open := strings.LastIndexByte(asker, '(')
	if open < 0 || !strings.HasSuffix(asker, ")") {
		return asker
	}
	name := asker[open+1 : len(asker)-1]
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

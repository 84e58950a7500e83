package gui

import (
	"context"
	"io"
	"slices"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// Block log table columns.
const (
	colTime = iota
	colProfile
	colHost
	colCount // attempts collapsed into the visit: "×3"
	colCategory
	colEntry
	numCols
)

// logRows is how many rows the table asks for. The agent's default is 100,
// which a busy week passes; 1000 rows stay quick to draw and to scroll, and
// past that the screen says to narrow the filter (the CSV export has all).
const logRows = 1000

// grantDurations are the periods "allow this site" and a request's grant
// offer. Short on purpose: a permanent exception belongs in the allow list,
// where the parent sees it later.
var grantDurations = [...]time.Duration{15 * time.Minute, time.Hour, 24 * time.Hour}

// blockLogScreen shows what was blocked, when and why, with filters, a CSV
// export, a per-day chart and "allow this site".
type blockLogScreen struct {
	env     env
	win     fyne.Window
	saveCSV func(fyne.Window, func(io.Writer) error)
	content fyne.CanvasObject

	from, to *widget.DateEntry
	category *widget.Select
	text     *widget.Entry
	table    *widget.Table
	count    *widget.Label
	message  *widget.Label
	allow    *widget.Button
	export   *widget.Button
	span     *widget.RadioGroup // 7 or 30 days
	chart    *barChart
	legend   *fyne.Container

	password string   // from the window's login, for "allow this site"
	cats     []string // category ids in chart colour order
	catIDs   []string // the category filter's ids, "" first: all categories
	events   []client.Event
	selected int // row in events, -1 if none
	limit    int // rows asked for; logRows, smaller in tests
}

func newBlockLogScreen(e env, w fyne.Window, password string, saveCSV func(fyne.Window, func(io.Writer) error)) *blockLogScreen {
	tr := e.tr
	s := &blockLogScreen{env: e, win: w, password: password, saveCSV: saveCSV, selected: -1, limit: logRows}

	today := dayStart(e.now())
	weekAgo := today.AddDate(0, 0, -6)
	s.from = widget.NewDateEntry()
	s.from.SetDate(&weekAgo)
	s.to = widget.NewDateEntry()
	s.to.SetDate(&today)
	s.from.OnChanged = func(*time.Time) { s.query() }
	s.to.OnChanged = func(*time.Time) { s.query() }
	s.category = widget.NewSelect([]string{tr.T("log.allcategories")}, func(string) { s.query() })
	s.category.SetSelectedIndex(0)
	s.catIDs = []string{""}
	s.text = widget.NewEntry()
	s.text.SetPlaceHolder(tr.T("log.search"))
	s.text.OnChanged = func(string) { s.query() }

	headers := []string{tr.T("log.col.time"), tr.T("log.col.profile"), tr.T("log.col.host"), tr.T("log.col.count"), tr.T("log.col.category"), tr.T("log.col.entry")}
	s.table = widget.NewTableWithHeaders(
		func() (int, int) { return len(s.events), numCols },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(s.cell(id.Row, id.Col))
		})
	s.table.ShowHeaderColumn = false
	s.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	s.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(headers[id.Col])
		}
	}
	for col, width := range []float32{150, 70, 220, 60, 120, 160} {
		s.table.SetColumnWidth(col, width)
	}
	s.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(s.events) {
			s.selected = id.Row
			s.allow.Enable()
		}
	}

	s.count = widget.NewLabel("")
	s.message = errorLabel("")
	s.allow = widget.NewButton(tr.T("log.allow"), func() { s.allowSelected() })
	s.allow.Disable()
	s.export = widget.NewButton(tr.T("log.export"), s.exportCSV)

	spanLabels := []string{tr.T("log.days7"), tr.T("log.days30")}
	s.chart = newBarChart()
	s.chart.label = func(day string) string { return day[5:] } // MM-DD
	s.legend = container.NewHBox()
	s.span = widget.NewRadioGroup(spanLabels, func(sel string) {
		days := 7
		if sel == spanLabels[1] {
			days = 30
		}
		s.env.prefs.SetInt(PrefLogDays, days)
		s.loadChart(days)
	})
	s.span.Horizontal = true

	filters := container.NewGridWithColumns(4,
		container.NewBorder(nil, nil, widget.NewLabel(tr.T("log.from")), nil, s.from),
		container.NewBorder(nil, nil, widget.NewLabel(tr.T("log.to")), nil, s.to),
		s.category, s.text)
	actions := container.NewHBox(s.count, s.allow, s.export)
	chartBox := container.NewBorder(container.NewHBox(widget.NewLabel(tr.T("log.chart")), s.span), s.legend, nil, nil, s.chart)
	split := container.NewVSplit(container.NewBorder(nil, container.NewVBox(actions, s.message), nil, nil, s.table), chartBox)
	split.Offset = 0.6
	s.content = container.NewBorder(filters, nil, nil, nil, split)
	return s
}

// load fetches the categories, the rows and the chart.
func (s *blockLogScreen) load() {
	call(s.env, func(ctx context.Context) (client.Status, error) { return s.env.client.Status(ctx) },
		func(st client.Status, err error) {
			if err == nil {
				s.setCategories(categoryIDs(st, client.Settings{}))
			}
			// Without the category list the log still works, unfiltered by it.
			s.query()
			days := s.env.prefs.IntWithFallback(PrefLogDays, 7)
			if days == 30 {
				s.span.SetSelected(s.span.Options[1])
			} else {
				s.span.SetSelected(s.span.Options[0])
			}
		})
}

func (s *blockLogScreen) setCategories(ids []string) {
	s.cats = ids
	s.catIDs = append([]string{""}, ids...)
	opts := []string{s.env.tr.T("log.allcategories")}
	s.legend.Objects = nil
	for i, id := range ids {
		opts = append(opts, s.env.tr.Category(id))
		sw := canvas.NewRectangle(categoryColor(i))
		sw.SetMinSize(fyne.NewSize(12, 12))
		s.legend.Add(container.NewHBox(container.NewCenter(sw), widget.NewLabel(s.env.tr.Category(id))))
	}
	// The chart draws counts for categories not listed here in grey.
	other := canvas.NewRectangle(theme.Color(theme.ColorNameDisabled))
	other.SetMinSize(fyne.NewSize(12, 12))
	s.legend.Add(container.NewHBox(container.NewCenter(other), widget.NewLabel(s.env.tr.T("log.other"))))
	s.legend.Refresh()
	sel := s.category.SelectedIndex()
	s.category.Options = opts
	s.category.SetSelectedIndex(max(0, sel))
}

func (s *blockLogScreen) cell(row, col int) string {
	if row >= len(s.events) {
		return ""
	}
	e := s.events[row]
	switch col {
	case colTime:
		return e.Time.In(s.env.now().Location()).Format("2006-01-02 15:04:05")
	case colProfile:
		return e.Profile
	case colHost:
		return e.Host
	case colCount:
		return "×" + strconv.Itoa(max(e.Count, 1))
	case colCategory:
		return s.env.tr.Category(e.Category)
	case colEntry:
		return e.Entry
	}
	return ""
}

func dayStart(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// calendarDay is the start of t's calendar date in loc.
func calendarDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// filter reads the filter widgets. The "to" date is inclusive on screen and
// exclusive on the wire.
func (s *blockLogScreen) filter() client.EventFilter {
	// The log also holds grants, pauses and admin actions; this screen is
	// about what was blocked.
	f := client.EventFilter{Action: "block", Limit: s.limit}
	// A DateEntry's date is a calendar date in no particular zone; the
	// parent means that day on this machine's clock.
	loc := s.env.now().Location()
	if d := s.from.Date; d != nil {
		f.From = calendarDay(*d, loc)
	}
	if d := s.to.Date; d != nil {
		f.To = calendarDay(*d, loc).AddDate(0, 0, 1)
	}
	if i := slices.Index(s.category.Options, s.category.Selected); i > 0 && i < len(s.catIDs) {
		f.Category = s.catIDs[i]
	}
	f.HostContains = s.text.Text
	return f
}

func (s *blockLogScreen) query() {
	if s.table == nil || s.count == nil {
		return // still being built: widgets fire OnChanged as they are set up
	}
	f := s.filter()
	call(s.env, func(ctx context.Context) ([]client.Event, error) { return s.env.client.Events(ctx, f) },
		func(evs []client.Event, err error) {
			if err != nil {
				s.message.SetText(agentError(s.env.tr, err))
				return
			}
			s.message.SetText("")
			s.events = evs
			s.selected = -1
			s.table.UnselectAll()
			s.allow.Disable()
			if len(evs) >= f.Limit {
				s.count.SetText(s.env.tr.T("log.count.more", map[string]any{"Count": len(evs)}))
			} else {
				s.count.SetText(s.env.tr.T("log.count", map[string]any{"Count": len(evs)}))
			}
			s.table.Refresh()
		})
}

func (s *blockLogScreen) loadChart(days int) {
	now := s.env.now()
	to := dayStart(now).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -days)
	call(s.env, func(ctx context.Context) ([]client.DayCount, error) { return s.env.client.Stats(ctx, from, to) },
		func(counts []client.DayCount, err error) {
			if err != nil {
				s.message.SetText(agentError(s.env.tr, err))
				return
			}
			s.chart.setData(chartDays(now, days), s.cats, counts)
		})
}

func (s *blockLogScreen) exportCSV() {
	f := s.filter()
	s.saveCSV(s.win, func(w io.Writer) error {
		ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
		defer cancel()
		return s.env.client.ExportCSV(ctx, f, w)
	})
}

// allowSelected offers to allow the selected row's host for its profile for
// a while, with the password the window was opened with.
func (s *blockLogScreen) allowSelected() *grantDialog {
	if s.selected < 0 || s.selected >= len(s.events) {
		return nil
	}
	ev := s.events[s.selected]
	return showGrantDialog(s.env, s.win, ev.Host, ev.Profile, s.password, func(g client.Grant, err error) {
		if err != nil {
			s.message.SetText(agentError(s.env.tr, err))
			return
		}
		s.message.SetText("")
		s.count.SetText(s.env.tr.T("log.allowed", map[string]any{"Host": ev.Host, "Until": g.Until.In(s.env.now().Location()).Format("01-02 15:04")}))
	})
}

// grantDialog asks for how long to allow a host and grants it.
type grantDialog struct {
	choice *widget.RadioGroup
	ok     *widget.Button
	dialog dialog.Dialog
}

func showGrantDialog(e env, w fyne.Window, host, profile, password string, done func(client.Grant, error)) *grantDialog {
	g := &grantDialog{}
	labels := make([]string, len(grantDurations))
	for i, d := range grantDurations {
		labels[i] = grantLabel(e.tr, d)
	}
	g.choice = widget.NewRadioGroup(labels, nil)
	g.choice.SetSelected(labels[1])
	g.choice.Required = true
	msg := widget.NewLabel(e.tr.T("grant.what", map[string]any{"Host": host, "Profile": profile}))
	msg.Wrapping = fyne.TextWrapWord
	cancel := widget.NewButton(e.tr.T("button.cancel"), func() { g.dialog.Hide() })
	g.ok = widget.NewButton(e.tr.T("grant.ok"), func() {
		dur := grantDurations[max(0, slices.Index(labels, g.choice.Selected))]
		g.ok.Disable()
		call(e, func(ctx context.Context) (client.Grant, error) {
			return e.client.Grant(ctx, password, host, profile, dur)
		}, func(gr client.Grant, err error) {
			g.ok.Enable()
			g.dialog.Hide()
			done(gr, err)
		})
	})
	g.ok.Importance = widget.HighImportance
	g.dialog = dialog.NewCustomWithoutButtons(e.tr.T("grant.title"),
		container.NewVBox(msg, g.choice, container.NewGridWithColumns(2, cancel, g.ok)), w)
	g.dialog.Show()
	return g
}

// grantLabel names a grant period in the translator's language.
func grantLabel(tr *Translator, d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return tr.T("duration.days", map[string]any{"N": int(d / (24 * time.Hour))})
	case d >= time.Hour:
		return tr.T("duration.hours", map[string]any{"N": int(d / time.Hour)})
	default:
		return tr.T("duration.minutes", map[string]any{"N": int(d / time.Minute)})
	}
}

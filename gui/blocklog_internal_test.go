package gui

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// logFixture is a week of blocks plus things the screen must leave out: an
// old block, and a grant (the log holds admin actions too).
func logFixture() []client.Event {
	at := func(daysAgo, hour int) time.Time {
		return testNow.AddDate(0, 0, -daysAgo).Add(time.Duration(hour-10) * time.Hour)
	}
	return []client.Event{
		{Time: at(0, 9), Profile: "child", Host: "www.pornhub.com", Category: "adult", Entry: "pornhub.com", Action: "block",
			Count: 40, Last: at(0, 9).Add(time.Minute)},
		{Time: at(1, 20), Profile: "teen", Host: "bet365.com", Category: "gambling", Entry: "bet365.com", Action: "block"},
		{Time: at(2, 15), Profile: "child", Host: "xvideos.com", Category: "adult", Entry: "xvideos.com", Action: "block"},
		{Time: at(6, 8), Profile: "child", Host: "youtube-proxy.example", Category: "proxy", Entry: "youtube-proxy.example", Action: "block"},
		{Time: at(9, 8), Profile: "child", Host: "old.example", Category: "adult", Entry: "old.example", Action: "block"},
		{Time: at(0, 8), Profile: "teen", Host: "scratch.mit.edu", Action: "grant"},
	}
}

func hostsShown(s *blockLogScreen) []string {
	var out []string
	for r := range s.events {
		out = append(out, s.cell(r, colHost))
	}
	return out
}

func TestBlockLogFilter(t *testing.T) {
	f := newFake(t, "Status", "Events", "Stats")
	f.password, f.events = "secret1", logFixture()
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showBlockLogWith("secret1")
	assertTranslated(t, texts(s.content))

	if s.category.Selected != "All categories" {
		t.Errorf("category filter starts at %q", s.category.Selected)
	}
	tests := []struct {
		name     string
		set      func()
		want     []string
		wantSent client.EventFilter // the fields the agent must have been asked for
	}{
		{
			name: "last 7 days, blocks only",
			set:  func() {},
			want: []string{"www.pornhub.com", "bet365.com", "xvideos.com", "youtube-proxy.example"},
		},
		{
			name:     "text",
			set:      func() { test.Type(s.text, "VIDEO") },
			want:     []string{"xvideos.com"},
			wantSent: client.EventFilter{HostContains: "VIDEO"},
		},
		{
			name:     "category",
			set:      func() { s.text.SetText(""); s.category.SetSelected("Adult content") },
			want:     []string{"www.pornhub.com", "xvideos.com"},
			wantSent: client.EventFilter{Category: "adult"},
		},
		{
			name: "date range",
			set: func() {
				from := testNow.AddDate(0, 0, -10)
				to := testNow.AddDate(0, 0, -3)
				s.category.SetSelected("All categories")
				s.from.SetDate(&from)
				s.to.SetDate(&to)
			},
			want: []string{"youtube-proxy.example", "old.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.set()
			if got := hostsShown(s); !slices.Equal(got, tt.want) {
				t.Errorf("rows = %q, want %q", got, tt.want)
			}
			sent := f.filters[len(f.filters)-1]
			if sent.Action != "block" || sent.Category != tt.wantSent.Category || sent.HostContains != tt.wantSent.HostContains {
				t.Errorf("filter sent = %+v", sent)
			}
			if want := fmt.Sprintf("%d blocked", len(tt.want)); s.count.Text != want {
				t.Errorf("count label = %q, want %q", s.count.Text, want)
			}
		})
	}
	// More rows than the screen asks for: it says so instead of a count.
	s.limit = 1
	s.from.SetDate(&time.Time{})
	if got := s.count.Text; got != "Newest 1 shown; narrow the dates or search for older ones" || len(s.events) != 1 {
		t.Errorf("over the limit: %q, %d rows", got, len(s.events))
	}
	s.limit = logRows

	// The "to" date is inclusive on screen: to the end of that day.
	sent := f.filters[len(f.filters)-1]
	if want := dayStart(testNow.AddDate(0, 0, -2)); !sent.To.Equal(want) {
		t.Errorf("To sent = %v, want %v", sent.To, want)
	}
}

// A visit's retries show as one row with its count; an entry from an
// agent that sends no count shows one attempt.
func TestBlockLogShowsAttempts(t *testing.T) {
	f := newFake(t, "Status", "Events", "Stats")
	f.password, f.events = "secret1", logFixture()
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showBlockLogWith("secret1")
	var got []string
	for r := range s.events {
		got = append(got, s.cell(r, colCount))
	}
	if want := []string{"×40", "×1", "×1", "×1"}; !slices.Equal(got, want) {
		t.Errorf("count column = %q, want %q", got, want)
	}
}

func TestBlockLogChart(t *testing.T) {
	f := newFake(t, "Status", "Events", "Stats")
	f.password = "secret1"
	f.stats = []client.DayCount{
		{Day: "2026-11-27", Category: "adult", Count: 5},
		{Day: "2026-11-27", Category: "gambling", Count: 2},
		{Day: "2026-11-25", Category: "proxy", Count: 1},
		{Day: "2026-11-25", Category: "drugs", Count: 3}, // no rules installed: still counted
		{Day: "2026-10-01", Category: "adult", Count: 9}, // outside the chart
	}
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showBlockLogWith("secret1")

	if got := len(s.chart.days); got != 7 {
		t.Fatalf("chart days = %d, want 7", got)
	}
	if s.chart.days[6] != "2026-11-27" || s.chart.days[0] != "2026-11-21" {
		t.Errorf("chart days = %v", s.chart.days)
	}
	for day, want := range map[string]int{"2026-11-27": 7, "2026-11-26": 0, "2026-11-25": 4} {
		if got := s.chart.total(day); got != want {
			t.Errorf("total(%s) = %d, want %d", day, got, want)
		}
	}
	// Bars are drawn to scale: today's adult segment is 5/7 of the tallest.
	s.chart.Resize(fyne.NewSize(700, 218))
	r := test.TempWidgetRenderer(t, s.chart).(*barChartRenderer)
	adult := slices.Index(s.chart.cats, "adult")
	plotH := float32(218 - chartLabelHeight)
	if got, want := r.bars[6][adult].Size().Height, plotH*5/7; got < want-0.5 || got > want+0.5 {
		t.Errorf("today's adult bar = %v high, want %v", got, want)
	}

	s.span.SetSelected("30 days")
	if got := len(s.chart.days); got != 30 {
		t.Errorf("chart days after 30-day switch = %d", got)
	}
	if got := u.cfg.App.Preferences().Int(PrefLogDays); got != 30 {
		t.Errorf("pref %s = %d, want 30", PrefLogDays, got)
	}
	if n := f.count("Stats"); n != 2 {
		t.Errorf("Stats calls = %d, want 2", n)
	}
}

func TestBlockLogExportCSV(t *testing.T) {
	f := newFake(t, "Status", "Events", "Stats", "ExportCSV")
	f.password, f.events = "secret1", logFixture()
	var out bytes.Buffer
	save := func(_ fyne.Window, write func(io.Writer) error) {
		if err := write(&out); err != nil {
			t.Errorf("export: %v", err)
		}
	}
	u := newTestUI(t, f, LangEnglish, save)
	s := u.showBlockLogWith("secret1")
	test.Type(s.text, "pornhub")
	test.Tap(s.export)
	want := f.csvHeader + "2026-11-27T01:00:00Z,child,www.pornhub.com,adult,pornhub.com\n"
	if out.String() != want {
		t.Errorf("CSV =\n%s\nwant\n%s", out.String(), want)
	}
}

func TestBlockLogAllowThisSite(t *testing.T) {
	f := newFake(t, "Status", "Events", "Stats", "Grant")
	f.password, f.events = "secret1", logFixture()
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.showBlockLogWith("secret1")
	if !s.allow.Disabled() {
		t.Error("allow enabled with no row selected")
	}
	s.table.Select(widget.TableCellID{Row: 1, Col: colHost})
	if s.allow.Disabled() {
		t.Fatal("allow disabled with a row selected")
	}
	g := s.allowSelected()
	g.choice.SetSelected("15 minutes")
	test.Tap(g.ok)
	want := []grantCall{{Password: "secret1", Host: "bet365.com", Profile: "teen", D: 15 * time.Minute}}
	if !slices.Equal(f.grants, want) {
		t.Errorf("grants = %+v, want %+v", f.grants, want)
	}
	if got := s.count.Text; got != "bet365.com is allowed until 11-27 10:15." {
		t.Errorf("count label = %q", got)
	}
}

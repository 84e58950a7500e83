package gui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/greengate/greengate/agent/admin/client"
)

// TestBarChartGolden pins the chart's drawing: stacked segments in category
// colour order, to scale, with day labels.
func TestBarChartGolden(t *testing.T) {
	test.NewTempApp(t)
	c := newBarChart()
	c.label = func(day string) string { return day[5:] }
	c.setData(chartDays(testNow, 7), []string{"adult", "gambling"}, []client.DayCount{
		{Day: "2026-11-27", Category: "adult", Count: 4},
		{Day: "2026-11-27", Category: "gambling", Count: 2},
		{Day: "2026-11-24", Category: "adult", Count: 1},
		{Day: "2026-11-22", Category: "phishing", Count: 3},
	})
	w := test.NewTempWindow(t, c)
	w.Resize(fyne.NewSize(420, 160))
	test.AssertRendersToMarkup(t, "chart_week.xml", w.Canvas())
}

func TestChartDays(t *testing.T) {
	t.Parallel()
	got := chartDays(testNow, 3)
	if len(got) != 3 || got[0] != "2026-11-25" || got[2] != "2026-11-27" {
		t.Errorf("chartDays = %v", got)
	}
	// Across a month end and a DST change (Europe/Berlin, 2026-10-25).
	loc, err := loadBerlin()
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	days := chartDays(testNow.In(loc).AddDate(0, 0, -32), 5)
	want := []string{"2026-10-22", "2026-10-23", "2026-10-24", "2026-10-25", "2026-10-26"}
	for i := range want {
		if days[i] != want[i] {
			t.Fatalf("chartDays over DST = %v, want %v", days, want)
		}
	}
}

func loadBerlin() (*time.Location, error) { return time.LoadLocation("Europe/Berlin") }

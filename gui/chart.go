package gui

import (
	"image/color"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// chartPalette colours categories in the order the agent lists them. Fixed
// colours, not theme ones, so a category keeps its colour in light and dark
// themes and between the chart and its legend.
var chartPalette = [...]color.NRGBA{
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

func categoryColor(i int) color.Color { return chartPalette[i%len(chartPalette)] }

// barChart draws blocks per day as stacked bars, one colour per category,
// from canvas rectangles: no chart library, nothing to go wrong headless.
type barChart struct {
	widget.BaseWidget
	days  []string         // YYYY-MM-DD, oldest first, one bar each
	cats  []string         // category IDs in colour order
	count map[string][]int // day -> count per cats index
	label func(day string) string
}

func newBarChart() *barChart {
	c := &barChart{count: map[string][]int{}, label: func(d string) string { return d }}
	c.ExtendBaseWidget(c)
	return c
}

// chartDays lists the n local days ending with the day of now.
func chartDays(now time.Time, n int) []string {
	days := make([]string, n)
	y, m, d := now.Date()
	for i := range n {
		days[i] = time.Date(y, m, d-(n-1-i), 12, 0, 0, 0, now.Location()).Format(time.DateOnly)
	}
	return days
}

// setData replaces what the chart shows. Counts for categories not in cats
// are added to the last colour rather than dropped, so totals stay right.
func (c *barChart) setData(days, cats []string, counts []client.DayCount) {
	c.days, c.cats = days, cats
	c.count = map[string][]int{}
	for _, d := range days {
		c.count[d] = make([]int, len(cats)+1)
	}
	for _, dc := range counts {
		row, ok := c.count[dc.Day]
		if !ok {
			continue
		}
		i := len(cats)
		for j, id := range cats {
			if id == dc.Category {
				i = j
				break
			}
		}
		row[i] += dc.Count
	}
	c.Refresh()
}

// total is the day's count over all categories.
func (c *barChart) total(day string) int {
	n := 0
	for _, v := range c.count[day] {
		n += v
	}
	return n
}

func (c *barChart) CreateRenderer() fyne.WidgetRenderer {
	r := &barChartRenderer{chart: c}
	r.Refresh()
	return r
}

type barChartRenderer struct {
	chart   *barChart
	objects []fyne.CanvasObject
	bars    [][]*canvas.Rectangle // per day, per category segment
	labels  []*canvas.Text        // per day; only some are shown
	max     *canvas.Text
	axis    *canvas.Line
}

const chartLabelHeight = 18

func (r *barChartRenderer) Layout(size fyne.Size) {
	n := len(r.chart.days)
	if n == 0 {
		return
	}
	peak := 1
	for _, d := range r.chart.days {
		peak = max(peak, r.chart.total(d))
	}
	plotH := size.Height - chartLabelHeight
	slot := size.Width / float32(n)
	gap := slot * 0.2
	labelEvery := max(1, n/7)
	for i, d := range r.chart.days {
		x := float32(i)*slot + gap/2
		y := plotH
		for j, rect := range r.bars[i] {
			h := plotH * float32(r.chart.count[d][j]) / float32(peak)
			y -= h
			rect.Move(fyne.NewPos(x, y))
			rect.Resize(fyne.NewSize(slot-gap, h))
		}
		l := r.labels[i]
		l.Hidden = (n-1-i)%labelEvery != 0
		ls := l.MinSize()
		l.Move(fyne.NewPos(x+(slot-gap-ls.Width)/2, plotH+2))
		l.Resize(ls)
	}
	r.axis.Position1 = fyne.NewPos(0, plotH)
	r.axis.Position2 = fyne.NewPos(size.Width, plotH)
	r.max.Text = strconv.Itoa(peak)
	r.max.Move(fyne.NewPos(0, 0))
	r.max.Resize(r.max.MinSize())
}

func (r *barChartRenderer) MinSize() fyne.Size {
	return fyne.NewSize(float32(len(r.chart.days))*6, 120)
}

func (r *barChartRenderer) Refresh() {
	c := r.chart
	r.bars = make([][]*canvas.Rectangle, len(c.days))
	r.labels = make([]*canvas.Text, len(c.days))
	r.objects = r.objects[:0]
	for i, d := range c.days {
		r.bars[i] = make([]*canvas.Rectangle, len(c.cats)+1)
		for j := range r.bars[i] {
			rect := canvas.NewRectangle(categoryColor(j))
			if j == len(c.cats) {
				rect.FillColor = theme.Color(theme.ColorNameDisabled)
			}
			r.bars[i][j] = rect
			r.objects = append(r.objects, rect)
		}
		t := canvas.NewText(c.label(d), theme.Color(theme.ColorNameForeground))
		t.TextSize = theme.CaptionTextSize()
		r.labels[i] = t
		r.objects = append(r.objects, t)
	}
	r.axis = canvas.NewLine(theme.Color(theme.ColorNameForeground))
	r.max = canvas.NewText("", theme.Color(theme.ColorNamePlaceHolder))
	r.max.TextSize = theme.CaptionTextSize()
	r.objects = append(r.objects, r.axis, r.max)
	r.Layout(c.Size())
	canvas.Refresh(c)
}

func (r *barChartRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *barChartRenderer) Destroy()                     {}

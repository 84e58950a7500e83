package gui

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
)

// testNow is the clock of every screen test: a Friday morning in Beijing
// time, so "today" and the chart's days do not depend on the machine's zone.
var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// newTestUI builds a UI on the test driver with calls to the agent run at
// once, so each screen is settled when the call that changed it returns.
// Fyne's test app is process-wide, so these tests do not run in parallel.
func newTestUI(t *testing.T, c Client, language string, saveCSV func(fyne.Window, func(io.Writer) error)) *UI {
	t.Helper()
	a := test.NewTempApp(t)
	a.Preferences().SetString(PrefLanguage, language)
	if saveCSV == nil {
		saveCSV = func(fyne.Window, func(io.Writer) error) { t.Error("unexpected CSV export") }
	}
	return New(Config{App: a, Client: c, Now: func() time.Time { return testNow }, Go: func(f func()) { f() }, SaveCSV: saveCSV, Version: "test"})
}

// texts is every piece of text drawn inside o, in tree order, skipping
// anything hidden (a hidden button's label is not on screen).
func texts(o fyne.CanvasObject) []string {
	if o == nil || !o.Visible() {
		return nil
	}
	switch x := o.(type) {
	case *canvas.Text:
		if x.Text != "" {
			return []string{x.Text}
		}
	case *fyne.Container:
		var out []string
		for _, c := range x.Objects {
			out = append(out, texts(c)...)
		}
		return out
	case fyne.Widget:
		var out []string
		for _, c := range test.WidgetRenderer(x).Objects() {
			out = append(out, texts(c)...)
		}
		return out
	}
	return nil
}

// windowTexts is the text drawn in a window, overlays (dialogs) included.
func windowTexts(w fyne.Window) []string {
	out := texts(w.Content())
	for _, o := range w.Canvas().Overlays().List() {
		out = append(out, texts(o)...)
	}
	return out
}

func hasText(all []string, want string) bool {
	for _, s := range all {
		if s == want {
			return true
		}
	}
	return false
}

var rawKey = regexp.MustCompile(`^([a-z]+)(\.[a-z0-9-]+)+$`)

// assertTranslated fails on any text that looks like a translation key (a
// key the files lack comes back as itself): dotted lowercase words starting
// with one of the files' key prefixes, which no host in the tests does.
func assertTranslated(t *testing.T, all []string) {
	t.Helper()
	prefixes := map[string]bool{}
	for k := range mustLoad(LangEnglish) {
		p, _, _ := strings.Cut(k, ".")
		prefixes[p] = true
	}
	for _, s := range all {
		if m := rawKey.FindStringSubmatch(s); m != nil && prefixes[m[1]] {
			t.Errorf("untranslated key on screen: %q", s)
		}
	}
}

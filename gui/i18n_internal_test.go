package gui

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"fyne.io/fyne/v2"
)

func TestPickLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pref   string
		system fyne.Locale
		want   string
	}{
		{"system English", "", "en-US", LangEnglish},
		{"system Simplified Chinese", "", "zh-CN", LangChinese},
		{"system zh with script", "", "zh-Hans-CN", LangChinese},
		{"system Traditional gets Simplified", "", "zh-TW", LangChinese},
		{"system other language", "", "fr-FR", LangEnglish},
		{"system C locale", "", "C", LangEnglish},
		{"pref overrides system", LangEnglish, "zh-CN", LangEnglish},
		{"pref Chinese on English system", LangChinese, "en-GB", LangChinese},
		{"unknown pref falls back to system", "de", "zh-CN", LangChinese},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := PickLanguage(tt.pref, tt.system); got != tt.want {
				t.Errorf("PickLanguage(%q, %q) = %q, want %q", tt.pref, tt.system, got, tt.want)
			}
		})
	}
}

// TestTranslationsComplete: both files have the same keys, every template
// parses and uses only fields the code fills, and every key the code names
// literally exists.
func TestTranslationsComplete(t *testing.T) {
	t.Parallel()
	en, zh := mustLoad(LangEnglish), mustLoad(LangChinese)
	if a, b := slices.Sorted(maps.Keys(en)), slices.Sorted(maps.Keys(zh)); !slices.Equal(a, b) {
		for _, k := range a {
			if _, ok := zh[k]; !ok {
				t.Errorf("zh-Hans lacks %q", k)
			}
		}
		for _, k := range b {
			if _, ok := en[k]; !ok {
				t.Errorf("en lacks %q", k)
			}
		}
	}
	field := regexp.MustCompile(`\{\{\.(\w+)\}\}`)
	for k, v := range en {
		if _, err := template.New(k).Parse(zh[k]); err != nil {
			t.Errorf("zh %q: %v", k, err)
		}
		// The same fields in both languages, so neither shows "<no value>".
		fe, fz := field.FindAllStringSubmatch(v, -1), field.FindAllStringSubmatch(zh[k], -1)
		names := func(ms [][]string) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m[1])
			}
			slices.Sort(out)
			return out
		}
		if !slices.Equal(names(fe), names(fz)) {
			t.Errorf("%q: en fields %v, zh fields %v", k, names(fe), names(fz))
		}
	}

	srcs, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`(?:T|bold|heading)\("([a-z][a-z0-9.-]*[a-z0-9])"`)
	for _, f := range srcs {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s names key %q, which en.json lacks", f, m[1])
			}
		}
	}
}

func TestTranslatorFillsTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang, key string
		data      map[string]any
		want      string
	}{
		{LangEnglish, "status.blockedtoday", map[string]any{"Count": 3}, "Blocked today: 3"},
		{LangChinese, "status.blockedtoday", map[string]any{"Count": 3}, "今日拦截：3"},
		{LangChinese, "login.wait", map[string]any{"Seconds": 30, "Until": "10:00:30"}, "密码错误次数过多。请在 30 秒后（10:00:30）再试。"},
		{LangEnglish, "no.such.key", nil, "no.such.key"},
		// Data a child typed is data, not a template.
		{LangEnglish, "error.agent", map[string]any{"Err": "{{.Err}}"}, "The GreenGate agent said: {{.Err}}"},
	}
	for _, tt := range tests {
		if got := NewTranslator(tt.lang).T(tt.key, tt.data); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
	tr := NewTranslator(LangChinese)
	if got := tr.Category("adult"); got != "成人内容" {
		t.Errorf("Category(adult) = %q", got)
	}
	if got := tr.Category("knitting"); got != "knitting" {
		t.Errorf("unknown category shown as %q, want its id", got)
	}
}

// TestLanguageSwitchRendersChinese: the setting in the settings window
// rebuilds the open windows and the tray in Chinese, and is remembered.
func TestLanguageSwitchRendersChinese(t *testing.T) {
	f := newFake(t, "Status", "Settings")
	f.password = "secret1"
	u := newTestUI(t, f, "", nil) // the test machine's locale: C, so English
	var menus []*fyne.Menu
	u.SetTray(func(m *fyne.Menu, _ fyne.Resource) { menus = append(menus, m) })
	u.ShowStatus()
	s := u.showSettingsWith("secret1")
	if st := windowTexts(u.windows[winStatus]); !hasText(st, "Filtering is on") {
		t.Fatalf("status not in English first: %q", st)
	}

	s.language.SetSelected("中文（简体）")

	if got := u.cfg.App.Preferences().String(PrefLanguage); got != LangChinese {
		t.Errorf("pref = %q, want %q", got, LangChinese)
	}
	for _, want := range []struct{ win, text string }{
		{winStatus, "过滤已开启"},
		{winStatus, "今日拦截：0"},
		{winStatus, "成人内容"},
		{winSettings, "保存"},
		{winSettings, "拦截的类别"},
		{winSettings, "色情、性内容和成人视频直播。"},
	} {
		all := windowTexts(u.windows[want.win])
		assertTranslated(t, all)
		if !hasText(all, want.text) {
			t.Errorf("%s window lacks %q; has %q", want.win, want.text, all)
		}
	}
	if title := u.windows[winSettings].Title(); title != "GreenGate – 设置" {
		t.Errorf("settings title = %q", title)
	}
	m := menus[len(menus)-1]
	if m.Items[0].Label != "过滤已开启" || m.Items[0].Action != nil {
		t.Errorf("tray state item = %+v", m.Items[0])
	}

	// A new UI on the same preferences starts in Chinese.
	u2 := New(Config{App: u.cfg.App, Client: f, Now: u.cfg.Now, Go: u.cfg.Go})
	if u2.Translator().Language() != LangChinese {
		t.Errorf("new UI language = %q", u2.Translator().Language())
	}
}

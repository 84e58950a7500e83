package gui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
)

// Languages the tray speaks, as BCP 47 tags (the translation file names).
const (
	LangEnglish = "en"
	LangChinese = "zh-Hans"
)

// Languages lists the supported languages in the order the setting offers them.
var languages = [...]string{LangEnglish, LangChinese}

//go:embed translations/*.json
var translationFS embed.FS

// Translator looks words up in one language. The files are go-i18n JSON
// (the format fyne.io/fyne/v2/lang reads), but the lookup is ours: lang picks
// its language from the system locale once per process and has no way to
// override it, and a parent in a café needs the setting. Values may be
// text/template strings ("{{.Count}}").
type Translator struct {
	lang string
	msgs map[string]string
}

// NewTranslator loads the embedded translations for language (LangEnglish or
// LangChinese; anything else is English).
func NewTranslator(language string) *Translator {
	if language != LangChinese {
		language = LangEnglish
	}
	return &Translator{lang: language, msgs: mustLoad(language)}
}

// mustLoad panics only if the embedded files are broken, which a test catches.
func mustLoad(language string) map[string]string {
	data, err := translationFS.ReadFile("translations/" + language + ".json")
	if err != nil {
		panic(fmt.Sprintf("reading embedded translations for %s: %v", language, err))
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		panic(fmt.Sprintf("decoding embedded translations for %s: %v", language, err))
	}
	return m
}

// Language is the Translator's language tag.
func (t *Translator) Language() string { return t.lang }

// T returns the text for key, filled from data (one map) if it is a template.
// A missing key comes back as itself, which the tests look for.
func (t *Translator) T(key string, data ...map[string]any) string {
	s, ok := t.msgs[key]
	if !ok {
		return key
	}
	if len(data) == 0 || !strings.Contains(s, "{{") {
		return s
	}
	tpl, err := template.New(key).Option("missingkey=error").Parse(s)
	if err != nil {
		return s
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, data[0]); err != nil {
		return s
	}
	return b.String()
}

// Category is a category id's name in the translator's language, or the id
// itself when the translations do not know it.
func (t *Translator) Category(id string) string {
	if s, ok := t.msgs["category."+id]; ok {
		return s
	}
	return id
}

// CategoryHelp is a category id's one-line description, or "".
func (t *Translator) CategoryHelp(id string) string { return t.msgs["category."+id+".help"] }

// PickLanguage chooses the language: the preference if it names a supported
// language, else Chinese for any zh system locale, else English. Traditional
// Chinese locales get Simplified, which is closer than English.
func PickLanguage(pref string, system fyne.Locale) string {
	for _, l := range languages {
		if pref == l {
			return l
		}
	}
	base, _, _ := strings.Cut(strings.ReplaceAll(string(system), "_", "-"), "-")
	if strings.EqualFold(base, "zh") {
		return LangChinese
	}
	return LangEnglish
}

func systemLocale() fyne.Locale { return lang.SystemLocale() }

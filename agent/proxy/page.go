package proxy

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
)

// The pages are html/template: every value (host, URL, list entry, rule
// source, category name) is escaped for the context it lands in, and the
// Content-Security-Policy forbids scripts outright, so a hostile list or URL
// cannot run anything in the child's browser.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"

const blockTmpl = `<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.Title}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}
h1{color:#2e7d32}dt{font-weight:bold;margin-top:.6em}dd{margin-left:0;word-break:break-all}
a.ask{display:inline-block;margin-top:1.5em;padding:.6em 1.2em;background:#2e7d32;color:#fff;border-radius:4px;text-decoration:none}</style>
</head><body>
<h1>{{.T.Title}}</h1>
<p>{{.T.Intro}}</p>
<dl>
<dt>{{.T.Site}}</dt><dd>{{.Host}}</dd>
{{if .URL}}<dt>{{.T.Address}}</dt><dd>{{.URL}}</dd>{{end}}
<dt>{{.T.Why}}</dt><dd>{{.Why}}</dd>
{{if .Entry}}<dt>{{.T.Entry}}</dt><dd>{{.Entry}}</dd>{{end}}
{{if .Source}}<dt>{{.T.Source}}</dt><dd>{{.Source}}</dd>{{end}}
</dl>
<a class="ask" href="/greengate/request?host={{.Host}}">{{.T.Ask}}</a>
</body></html>
`

const requestTmpl = `<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.RequestTitle}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}h1{color:#2e7d32}</style>
</head><body>
<h1>{{.T.RequestTitle}}</h1>
<p>{{.T.RequestNoted}} <strong>{{.Host}}</strong></p>
<p>{{.T.RequestNext}}</p>
</body></html>
`

type words struct {
	Title, Intro, Site, Address, Why, Entry, Source, Ask string
	RequestTitle, RequestNoted, RequestNext              string
	Reasons                                              map[policy.Reason]string
}

var english = words{
	Title:        "This page is blocked",
	Intro:        "GreenGate, the filter on this computer, did not open this page.",
	Site:         "Site",
	Address:      "Address",
	Why:          "Why",
	Entry:        "Rule",
	Source:       "Rule list",
	Ask:          "Ask a parent to allow this site",
	RequestTitle: "Your request was sent",
	RequestNoted: "A parent will see that you asked to open",
	RequestNext:  "If they allow it, the site will open next time you try.",
	Reasons: map[policy.Reason]string{
		policy.ReasonCustomBlock:    "A parent blocked this site.",
		policy.ReasonAllowListOnly:  "Only sites a parent allowed can be opened.",
		policy.ReasonOutsideHours:   "It is outside the allowed hours.",
		policy.ReasonUnknownProfile: "This computer's filter settings are incomplete.",
		policy.ReasonNoName:         "A connection to a bare address that does not say which site it is for.",
		policy.ReasonDefault:        "The filter refused this connection.",
	},
}

var chinese = words{
	Title:        "此网页已被拦截",
	Intro:        "本电脑上的 GreenGate 过滤器没有打开此网页。",
	Site:         "网站",
	Address:      "网址",
	Why:          "原因",
	Entry:        "规则",
	Source:       "规则列表",
	Ask:          "请家长允许访问此网站",
	RequestTitle: "你的请求已发送",
	RequestNoted: "家长会看到你请求打开",
	RequestNext:  "如果家长同意，下次访问时即可打开。",
	Reasons: map[policy.Reason]string{
		policy.ReasonCustomBlock:    "家长拦截了此网站。",
		policy.ReasonAllowListOnly:  "只能打开家长允许的网站。",
		policy.ReasonOutsideHours:   "现在不在允许上网的时间内。",
		policy.ReasonUnknownProfile: "本电脑的过滤设置不完整。",
		policy.ReasonNoName:         "连接到一个没有说明网站名称的地址。",
		policy.ReasonDefault:        "过滤器拒绝了此连接。",
	},
}

type pages struct {
	block, request *template.Template
}

func newPages() (*pages, error) {
	b, err := template.New("block").Parse(blockTmpl)
	if err != nil {
		return nil, fmt.Errorf("parsing block page template: %w", err)
	}
	r, err := template.New("request").Parse(requestTmpl)
	if err != nil {
		return nil, fmt.Errorf("parsing request page template: %w", err)
	}
	return &pages{block: b, request: r}, nil
}

type pageData struct {
	Lang           string
	T              *words
	Host, URL, Why string
	Entry, Source  string
}

// categoryName is a category's display name in the page's language, its id
// when the engine does not know it.
func categoryName(eng *policy.Engine, id string, zh bool) string {
	for _, c := range eng.Categories() {
		if c.ID != id {
			continue
		}
		if zh && c.Name.ZH != "" {
			return c.Name.ZH
		}
		if c.Name.EN != "" {
			return c.Name.EN
		}
		break
	}
	return id
}

// chinese decides a page's language: the browser's own first choice when
// it is Chinese or English, else the parent's setting.
func (p *Proxy) chinese(r *http.Request) bool {
	switch preferred(r.Header.Get("Accept-Language")) {
	case "zh":
		return true
	case "en":
		return false
	}
	return p.cfg.Language != nil && p.cfg.Language() == "zh"
}

func (p *Proxy) blockResponse(r *http.Request, eng *policy.Engine, v policy.Verdict, host string) *http.Response {
	zh := p.chinese(r)
	data := pageData{Lang: "en", T: &english, Host: host, URL: redactedURL(r.URL), Entry: v.Entry, Source: v.Source}
	if zh {
		data.Lang, data.T = "zh-CN", &chinese
	}
	switch {
	case v.Category != "":
		data.Why = categoryName(eng, v.Category, zh)
	case data.T.Reasons[v.Reason] != "":
		data.Why = data.T.Reasons[v.Reason]
	default:
		data.Why = data.T.Reasons[policy.ReasonDefault]
	}
	return p.render(r, http.StatusForbidden, p.pages.block, &data)
}

// requestResponse answers the "ask a parent" link: it records the child's
// request and says so. The host comes from the query and is only recorded,
// never acted on; a parent decides.
func (p *Proxy) requestResponse(r *http.Request, d *decision) *http.Response {
	host, err := hostname.NormalizeRequest(r.URL.Query().Get("host"))
	if err != nil {
		return p.textResponse(r, http.StatusBadRequest, "GreenGate: no valid site named in the request")
	}
	zh := p.chinese(r)
	data := pageData{Lang: "en", T: &english, Host: host}
	if zh {
		data.Lang, data.T = "zh-CN", &chinese
	}
	if !p.recent.had(d.asker(), host, d.now) {
		return p.textResponse(r, http.StatusForbidden, "GreenGate: you can ask a parent only about a site that was just blocked here")
	}
	if wait, ok := p.cfg.Asks.Allow(p.askKey(r, d)); !ok {
		resp := p.textResponse(r, http.StatusTooManyRequests, "GreenGate: one request at a time; try again in a few seconds")
		resp.Header.Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		return resp
	}
	v := d.decide(host, "")
	p.record(d, v, blocklog.ActionRequest, host, "", "asked a parent to allow")
	return p.render(r, http.StatusOK, p.pages.request, &data)
}

// askKey names the client to the ask limiter as the admin API names its
// callers ("uid:1000" by Config.ClientKey), so asking through the tray and
// through the block page share one limit; else by address.
func (p *Proxy) askKey(r *http.Request, d *decision) string {
	if p.cfg.ClientKey != nil {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && local != nil {
			if k := p.cfg.ClientKey(net.TCPAddrFromAddrPort(ap), local); k != "" {
				return k
			}
		}
	}
	return "addr:" + d.client
}

func (p *Proxy) render(r *http.Request, code int, t *template.Template, data *pageData) *http.Response {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		p.log.Error("proxy: rendering page", "err", err)
		return p.textResponse(r, code, "GreenGate: "+http.StatusText(code))
	}
	resp := &http.Response{
		Request:       r,
		StatusCode:    code,
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{},
		ContentLength: int64(buf.Len()),
		Body:          io.NopCloser(&buf),
	}
	h := resp.Header
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Language")
	return resp
}

func copyBody(w io.Writer, resp *http.Response) (int64, error) {
	return io.Copy(w, resp.Body)
}

// maxAcceptLanguage bounds the header bytes looked at; browsers send well
// under 200.
const maxAcceptLanguage = 1024

// PrefersChinese reports whether an Accept-Language header puts Chinese
// ("zh", "zh-CN", "zh-Hant-TW", ...) first: the range with the highest
// q-value wins, the earliest on a tie, and q=0 ranges are refused ones.
// Malformed ranges and q-values are skipped; only the first 1 KiB is read.
func PrefersChinese(al string) bool { return preferred(al) == "zh" }

// preferred is the primary language of the header's first choice, lower
// case ("zh", "en", "fr", ...), or "" when it names none.
func preferred(al string) string {
	if len(al) > maxAcceptLanguage {
		al = al[:maxAcceptLanguage]
	}
	best, bestQ := "", -1
	for item := range strings.SplitSeq(al, ",") {
		tag, params, _ := strings.Cut(item, ";")
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		q := 1000
		for param := range strings.SplitSeq(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				q = parseQ(strings.TrimSpace(val))
			}
		}
		if q > bestQ && q > 0 {
			best, bestQ = tag, q
		}
	}
	primary, _, _ := strings.Cut(strings.ReplaceAll(best, "_", "-"), "-")
	return strings.ToLower(primary)
}

// parseQ reads an RFC 9110 qvalue ("1", "0.8", "0.125") in thousandths; a
// malformed one counts as 0 (refused), never as preferred.
func parseQ(s string) int {
	if s == "" || len(s) > 5 {
		return 0
	}
	switch s[0] {
	case '1':
		if strings.Trim(s[1:], ".0") == "" {
			return 1000
		}
		return 0
	case '0':
	default:
		return 0
	}
	if len(s) == 1 {
		return 0
	}
	if s[1] != '.' {
		return 0
	}
	n, scale := 0, 100
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return n
}

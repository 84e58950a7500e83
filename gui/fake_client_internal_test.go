package gui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
)

var _ Client = (*fakeClient)(nil)

// fakeClient is an agent in memory. It keeps a password, settings, a block
// log and requests, answers like the admin API does (the same *client.Error
// codes), and records every call. A call the test did not allow fails the
// test: a screen that talks to the agent more than it should is a bug.
type fakeClient struct {
	t       testing.TB
	allowed map[string]bool

	mu        sync.Mutex
	calls     []string
	password  string // "" until set
	notAdmin  bool   // the tray runs as a plain user: the first SetPassword is refused
	wrong     int    // wrong passwords in a row
	limitAt   int    // wrong passwords before rate limiting; 0 never
	retry     time.Duration
	status    client.Status
	statusErr error // Status answers this when set: the agent is down
	settings  client.Settings
	saveErr   error
	saved     []client.Settings
	events    []client.Event
	filters   []client.EventFilter
	stats     []client.DayCount
	requests  []client.Request
	grants    []grantCall
	asked     []client.Request
	askEvery  bool // refuse a second Ask like the agent's per-caller limit
	pauses    []time.Duration
	csvHeader string
	notices   []client.Notice
	afters    []time.Time // the "after" of each Notices call
}

type grantCall struct {
	Password, Host, Profile string
	D                       time.Duration
}

func newFake(t testing.TB, allowed ...string) *fakeClient {
	f := &fakeClient{t: t, allowed: map[string]bool{}, retry: 30 * time.Second, csvHeader: "time,profile,host,category,entry\n"}
	for _, m := range allowed {
		f.allowed[m] = true
	}
	f.status = client.Status{Running: true, Version: "test", ProxyAddr: "127.0.0.1:8899", PasswordSet: true,
		RuleCounts: map[string]int{"adult": 120, "gambling": 40, "proxy": 12}}
	f.settings = client.Settings{Version: 1, DefaultProfile: "child", Profiles: []client.Profile{
		{Name: "child", Block: []string{"adult", "gambling"}, SafeSearch: true, YouTube: "strict"},
		{Name: "teen", Block: []string{"adult"}, SafeSearch: true, YouTube: "moderate"},
	}, Users: map[string]string{"mia": "teen"}}
	return f
}

// call records m and fails the test if m was not allowed.
func (f *fakeClient) call(m string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, m)
	if !f.allowed[m] {
		f.t.Errorf("unexpected call to the agent: %s", m)
	}
}

func (f *fakeClient) count(m string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == m {
			n++
		}
	}
	return n
}

// checkPassword is the agent's check, rate limit included.
func (f *fakeClient) checkPassword(pw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.password == "" {
		return &client.Error{Code: client.CodeNoPassword}
	}
	if f.limitAt > 0 && f.wrong >= f.limitAt {
		return &client.Error{Code: client.CodeRateLimited, RetryAfter: f.retry}
	}
	if pw != f.password {
		f.wrong++
		return &client.Error{Code: client.CodeWrongPassword}
	}
	f.wrong = 0
	return nil
}

func (f *fakeClient) Status(context.Context) (client.Status, error) {
	f.call("Status")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statusErr != nil {
		return client.Status{}, f.statusErr
	}
	st := wire(f.t, f.status)
	st.PasswordSet = f.password != ""
	return st, nil
}

func (f *fakeClient) Login(_ context.Context, pw string) error {
	f.call("Login")
	return f.checkPassword(pw)
}

func (f *fakeClient) CheckPassword(_ context.Context, pw string) error {
	f.call("CheckPassword")
	return f.checkPassword(pw)
}

func (f *fakeClient) SetPassword(_ context.Context, old, pw string) error {
	f.call("SetPassword")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.password == "" && f.notAdmin {
		return &client.Error{Code: client.CodeAdminRequired, Message: "the first parent password can only be set by an administrator"}
	}
	if old != f.password {
		return &client.Error{Code: client.CodeWrongPassword}
	}
	if len(pw) < 6 {
		return &client.Error{Code: client.CodeInvalid, Problems: []string{"password: at least 6 characters"}}
	}
	f.password = pw
	return nil
}

// wire copies v through JSON, as the socket does: the screen must not
// share slices or maps with the agent's copy.
func wire[T any](t testing.TB, v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decoding %T: %v", v, err)
	}
	return out
}

func (f *fakeClient) Settings(context.Context) (client.Settings, error) {
	f.call("Settings")
	f.mu.Lock()
	defer f.mu.Unlock()
	return wire(f.t, f.settings), nil
}

func (f *fakeClient) SaveSettings(_ context.Context, pw string, s client.Settings) error {
	f.call("SaveSettings")
	if err := f.checkPassword(pw); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s = wire(f.t, s)
	f.saved = append(f.saved, s)
	if f.saveErr != nil {
		return f.saveErr
	}
	f.settings = s
	return nil
}

// match is the agent's filter over the log, field by field.
func match(e client.Event, f client.EventFilter) bool {
	switch {
	case !f.From.IsZero() && e.Time.Before(f.From),
		!f.To.IsZero() && !e.Time.Before(f.To),
		f.Category != "" && e.Category != f.Category,
		f.Action != "" && e.Action != f.Action,
		f.Profile != "" && e.Profile != f.Profile,
		f.HostContains != "" && !strings.Contains(strings.ToLower(e.Host), strings.ToLower(f.HostContains)):
		return false
	}
	return true
}

func (f *fakeClient) Events(_ context.Context, flt client.EventFilter) ([]client.Event, error) {
	f.call("Events")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	var out []client.Event
	for _, e := range f.events {
		if match(e, flt) && (flt.Limit == 0 || len(out) < flt.Limit) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeClient) ExportCSV(_ context.Context, flt client.EventFilter, w io.Writer) error {
	f.call("ExportCSV")
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := io.WriteString(w, f.csvHeader); err != nil {
		return fmt.Errorf("writing csv header: %w", err)
	}
	for _, e := range f.events {
		if match(e, flt) {
			fmt.Fprintf(w, "%s,%s,%s,%s,%s\n", e.Time.UTC().Format(time.RFC3339), e.Profile, e.Host, e.Category, e.Entry)
		}
	}
	return nil
}

func (f *fakeClient) Stats(_ context.Context, from, to time.Time) ([]client.DayCount, error) {
	f.call("Stats")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.stats), nil
}

func (f *fakeClient) Requests(context.Context) ([]client.Request, error) {
	f.call("Requests")
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests), nil
}

func (f *fakeClient) Notices(_ context.Context, after time.Time) ([]client.Notice, error) {
	f.call("Notices")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afters = append(f.afters, after)
	var out []client.Notice
	for _, n := range f.notices {
		if n.Time.After(after) {
			out = append(out, n)
		}
	}
	return out, nil
}

func (f *fakeClient) Ask(_ context.Context, host, note string) error {
	f.call("Ask")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.askEvery && len(f.asked) > 0 {
		return &client.Error{Code: client.CodeRateLimited, RetryAfter: 9 * time.Second}
	}
	f.asked = append(f.asked, client.Request{Host: host, Note: note})
	return nil
}

func (f *fakeClient) Grant(_ context.Context, pw, host, profile string, d time.Duration) (client.Grant, error) {
	f.call("Grant")
	if err := f.checkPassword(pw); err != nil {
		return client.Grant{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = append(f.grants, grantCall{pw, host, profile, d})
	g := client.Grant{Host: host, Profile: profile, Until: testNow.Add(d)}
	f.status.Grants = append(f.status.Grants, g)
	return g, nil
}

func (f *fakeClient) Revoke(_ context.Context, pw, host string) error {
	f.call("Revoke")
	if err := f.checkPassword(pw); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Grants = slices.DeleteFunc(f.status.Grants, func(g client.Grant) bool { return g.Host == host })
	return nil
}

func (f *fakeClient) Pause(_ context.Context, pw string, d time.Duration) (client.Grant, error) {
	f.call("Pause")
	if err := f.checkPassword(pw); err != nil {
		return client.Grant{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, d)
	f.status.Paused, f.status.PausedUntil = true, testNow.Add(d)
	return client.Grant{Until: testNow.Add(d)}, nil
}

func (f *fakeClient) Resume(_ context.Context, pw string) error {
	f.call("Resume")
	if err := f.checkPassword(pw); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Paused, f.status.PausedUntil = false, time.Time{}
	return nil
}

func (f *fakeClient) UpdateNow(_ context.Context, pw string) error {
	f.call("UpdateNow")
	return f.checkPassword(pw)
}

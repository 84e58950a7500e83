package admin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/settings"
	"github.com/greengate/greengate/rules/hostname"
)

// Handler is the API's HTTP handler (Serve uses it; tests may too).
func (s *Server) Handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET "+client.PathStatus, s.status)
	m.HandleFunc("POST "+client.PathLogin, s.login)
	m.HandleFunc("POST "+client.PathLogout, s.logout)
	m.HandleFunc("POST "+client.PathPassword, s.setPassword)
	m.HandleFunc("GET "+client.PathSettings, s.read(s.getSettings))
	m.HandleFunc("PUT "+client.PathSettings, s.change(s.putSettings))
	m.HandleFunc("GET "+client.PathEvents, s.read(s.events))
	m.HandleFunc("GET "+client.PathCSV, s.read(s.csv))
	m.HandleFunc("GET "+client.PathStats, s.read(s.stats))
	m.HandleFunc("GET "+client.PathRequests, s.read(s.requests))
	m.HandleFunc("POST "+client.PathRequests, s.ask)
	m.HandleFunc("GET "+client.PathNotices, s.notices)
	m.HandleFunc("POST "+client.PathGrant, s.change(s.grant))
	m.HandleFunc("DELETE "+client.PathGrant, s.change(s.revoke))
	m.HandleFunc("POST "+client.PathPause, s.change(s.pause))
	m.HandleFunc("POST "+client.PathResume, s.change(s.resume))
	m.HandleFunc("POST "+client.PathUpdate, s.change(s.update))
	return m
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, e client.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

func invalid(w http.ResponseWriter, err error) {
	e := client.Error{Code: client.CodeInvalid, Message: "refused"}
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		e.Problems = append(e.Problems, err.Error())
	}
	walk(err)
	fail(w, http.StatusBadRequest, e)
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.Error("admin request", "path", r.URL.Path, "err", err)
	fail(w, http.StatusInternalServerError, client.Error{Code: client.CodeInternal, Message: err.Error()})
}

// record writes an admin-side event to the block log, if there is one.
func (s *Server) record(r *http.Request, ev blocklog.Event) {
	if s.cfg.Log == nil {
		return
	}
	ev.Time = s.cfg.Clock()
	ev.Client = callerOf(r.Context()).String()
	s.cfg.Log.Record(ev)
}

// checkPassword answers the request and returns false unless the
// Authorization header carries the parent password.
func (s *Server) checkPassword(w http.ResponseWriter, r *http.Request) bool {
	scheme, val, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme != client.SchemePassword {
		fail(w, http.StatusUnauthorized, client.Error{Code: client.CodeLoginRequired, Message: "the parent password is required"})
		return false
	}
	pw, err := base64.StdEncoding.DecodeString(val)
	if err != nil {
		fail(w, http.StatusBadRequest, client.Error{Code: client.CodeInvalid, Message: "malformed password header"})
		return false
	}
	return s.verify(w, r, string(pw))
}

// verify checks pw under the rate limit; on failure it answers.
func (s *Server) verify(w http.ResponseWriter, r *http.Request, pw string) bool {
	key := callerOf(r.Context()).Key()
	// One check at a time, and the limiter consulted inside: parallel
	// guesses queue up instead of all passing Wait before any Fail.
	s.pwMu.Lock()
	defer s.pwMu.Unlock()
	if d := s.cfg.Limiter.Wait(key); d > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(d.Seconds()+0.999)))
		fail(w, http.StatusTooManyRequests, client.Error{Code: client.CodeRateLimited, Message: "too many wrong passwords", RetryAfter: d})
		return false
	}
	err := s.cfg.Store.CheckPassword(pw)
	switch {
	case err == nil:
		s.cfg.Limiter.Succeed(key)
		return true
	case errors.Is(err, settings.ErrNoPassword):
		fail(w, http.StatusConflict, client.Error{Code: client.CodeNoPassword, Message: "set a parent password first"})
	case errors.Is(err, settings.ErrWrongPassword):
		d := s.cfg.Limiter.Fail(key)
		s.record(r, blocklog.Event{Action: blocklog.ActionAdmin, Reason: "wrong parent password for " + r.URL.Path})
		fail(w, http.StatusUnauthorized, client.Error{Code: client.CodeWrongPassword, Message: "wrong parent password", RetryAfter: d})
	default:
		// A damaged hash file refuses everyone (fail-closed).
		s.internal(w, r, err)
	}
	return false
}

// change wraps a handler that needs the password itself.
func (s *Server) change(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.checkPassword(w, r) {
			h(w, r)
		}
	}
}

// read wraps a handler that needs a session or the password.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, val, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if scheme == client.SchemeSession {
			if s.sessionOK(val, callerOf(r.Context())) {
				h(w, r)
				return
			}
			fail(w, http.StatusUnauthorized, client.Error{Code: client.CodeLoginRequired, Message: "session expired; log in again"})
			return
		}
		if s.checkPassword(w, r) {
			h(w, r)
		}
	}
}

func (s *Server) sessionOK(tok string, c Caller) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[tok]
	if !ok {
		return false
	}
	// A token only works for the user it was issued to.
	if ss.key != c.Key() || !s.cfg.Clock().Before(ss.expires) {
		delete(s.sessions, tok)
		return false
	}
	return true
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := client.Status{Running: true}
	if s.cfg.Status != nil {
		st = s.cfg.Status()
	}
	st.PasswordSet = s.cfg.Store.PasswordSet()
	st.Paused, st.PausedUntil = s.cfg.Overrides.Paused()
	st.Grants = nil
	for _, g := range s.cfg.Overrides.Active() {
		if g.Host != "" {
			st.Grants = append(st.Grants, g)
		}
	}
	if s.cfg.Log != nil {
		now := s.cfg.Clock().In(s.cfg.Location)
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.cfg.Location)
		if n, err := s.cfg.Log.CountSince(r.Context(), midnight, blocklog.ActionBlock); err == nil {
			st.BlockedToday = n
		}
		if n, err := s.cfg.Log.AttemptsSince(r.Context(), midnight, blocklog.ActionBlock); err == nil {
			st.BlockedAttemptsToday = n
		}
		ls := s.cfg.Log.Stats()
		st.BlockLog = &client.BlockLogStatus{Bytes: ls.DiskBytes, MaxBytes: ls.MaxBytes, Dropped: ls.Dropped,
			Pruned: ls.Pruned, PrunedForSize: ls.PrunedForSize, Collapsed: ls.Collapsed}
		if ls.LastError != nil {
			st.BlockLog.LastError = ls.LastError.Error()
		}
	}
	reply(w, st)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.checkPassword(w, r) {
		return
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		s.internal(w, r, err)
		return
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	exp := s.cfg.Clock().Add(s.cfg.SessionTTL)
	s.mu.Lock()
	now := s.cfg.Clock()
	for k, ss := range s.sessions {
		if !now.Before(ss.expires) {
			delete(s.sessions, k)
		}
	}
	if len(s.sessions) >= maxSessions {
		clear(s.sessions) // everyone logs in again; better than unbounded
	}
	s.sessions[tok] = session{key: callerOf(r.Context()).Key(), expires: exp}
	s.mu.Unlock()
	reply(w, client.Login{Token: tok, Expires: exp})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	scheme, val, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scheme == client.SchemeSession {
		s.mu.Lock()
		delete(s.sessions, val)
		s.mu.Unlock()
	}
	reply(w, struct{}{})
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding request: %w", err)
	}
	return nil
}

func (s *Server) setPassword(w http.ResponseWriter, r *http.Request) {
	var pc client.PasswordChange
	if err := decodeBody(r, &pc); err != nil {
		invalid(w, err)
		return
	}
	first := !s.cfg.Store.PasswordSet()
	if first && !callerOf(r.Context()).Admin {
		// Fail-closed: whoever sets the first password owns the filter,
		// and the socket is open to every local user (the child's tray).
		// The kernel's word on the caller decides, not anything sent.
		s.record(r, blocklog.Event{Action: blocklog.ActionAdmin, Reason: "first parent password refused: caller is not an administrator"})
		fail(w, http.StatusForbidden, client.Error{Code: client.CodeAdminRequired, Message: firstPasswordHint()})
		return
	}
	if !first && !s.verify(w, r, pc.Old) {
		return
	}
	if first && pc.Old != "" {
		fail(w, http.StatusConflict, client.Error{Code: client.CodeNoPassword, Message: "no password is set yet; leave the old one empty"})
		return
	}
	// SetPassword checks old again under its own lock, so two first-run
	// calls racing cannot both win.
	err := s.cfg.Store.SetPassword(pc.Old, pc.New)
	switch {
	case errors.Is(err, settings.ErrWeakPassword):
		invalid(w, err)
		return
	case errors.Is(err, settings.ErrWrongPassword):
		fail(w, http.StatusUnauthorized, client.Error{Code: client.CodeWrongPassword, Message: "password changed meanwhile"})
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	// Sessions of the old password end with it.
	s.mu.Lock()
	clear(s.sessions)
	s.mu.Unlock()
	what := "parent password changed"
	if first {
		what = "parent password set"
	}
	s.record(r, blocklog.Event{Action: blocklog.ActionAdmin, Reason: what})
	reply(w, struct{}{})
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Store.Load()
	if err != nil && st.Profiles == nil {
		s.internal(w, r, err)
		return
	}
	reply(w, st)
}

func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		invalid(w, err)
		return
	}
	// The same strict decoder as the file: unknown keys are refused.
	st, err := settings.DecodeBytes(b)
	if err != nil {
		invalid(w, err)
		return
	}
	var known []string
	if s.cfg.Known != nil {
		known = s.cfg.Known()
	}
	if err := s.cfg.Store.Save(st, known); err != nil {
		if errors.Is(err, settings.ErrInvalid) {
			invalid(w, err)
			return
		}
		s.internal(w, r, err)
		return
	}
	s.record(r, blocklog.Event{Action: blocklog.ActionAdmin, Reason: "settings saved"})
	if s.cfg.OnSettings != nil {
		s.cfg.OnSettings(st)
	}
	reply(w, struct{}{})
}

func (s *Server) filter(w http.ResponseWriter, r *http.Request) (blocklog.Filter, bool) {
	if s.cfg.Log == nil {
		fail(w, http.StatusServiceUnavailable, client.Error{Code: client.CodeUnavailable, Message: "no block log"})
		return blocklog.Filter{}, false
	}
	f, err := client.ParseEventFilter(r.URL.Query())
	if err != nil {
		invalid(w, err)
		return blocklog.Filter{}, false
	}
	switch blocklog.Action(f.Action) {
	case "", blocklog.ActionBlock, blocklog.ActionGrant, blocklog.ActionPause, blocklog.ActionRequest, blocklog.ActionAdmin:
	default:
		invalid(w, fmt.Errorf("action: unknown %q", f.Action))
		return blocklog.Filter{}, false
	}
	return blocklog.Filter{From: f.From, To: f.To, Category: f.Category, Action: blocklog.Action(f.Action),
		Profile: f.Profile, HostContains: f.HostContains, Limit: f.Limit, Offset: f.Offset}, true
}

func (s *Server) logErr(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, blocklog.ErrInvalidFilter) {
		invalid(w, err)
		return
	}
	s.internal(w, r, err)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	f, ok := s.filter(w, r)
	if !ok {
		return
	}
	evs, err := s.cfg.Log.Query(r.Context(), f)
	if err != nil {
		s.logErr(w, r, err)
		return
	}
	out := make([]client.Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, client.Event{Time: e.Time, Profile: e.Profile, Client: e.Client, Host: e.Host, URL: e.URL,
			Category: e.Category, Entry: e.Entry, Source: e.Source, Action: string(e.Action), Reason: e.Reason,
			Count: e.Count, Last: e.Last})
	}
	reply(w, out)
}

func (s *Server) csv(w http.ResponseWriter, r *http.Request) {
	f, ok := s.filter(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	if err := s.cfg.Log.ExportCSV(r.Context(), f, w); err != nil {
		// Headers may be gone already; the client sees a cut stream.
		s.cfg.Logger.Error("exporting CSV", "err", err)
	}
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Log == nil {
		fail(w, http.StatusServiceUnavailable, client.Error{Code: client.CodeUnavailable, Message: "no block log"})
		return
	}
	from, err1 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("from"))
	to, err2 := time.Parse(time.RFC3339Nano, r.URL.Query().Get("to"))
	if err := errors.Join(err1, err2); err != nil {
		invalid(w, fmt.Errorf("stats range: %w", err))
		return
	}
	dc, err := s.cfg.Log.CountsByDayCategory(r.Context(), from, to, s.cfg.Location)
	if err != nil {
		s.logErr(w, r, err)
		return
	}
	out := make([]client.DayCount, 0, len(dc))
	for _, d := range dc {
		out = append(out, client.DayCount{Day: d.Day, Category: d.Category, Count: d.Count})
	}
	reply(w, out)
}

func (s *Server) requests(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Log == nil {
		fail(w, http.StatusServiceUnavailable, client.Error{Code: client.CodeUnavailable, Message: "no block log"})
		return
	}
	evs, err := s.cfg.Log.Query(r.Context(), blocklog.Filter{Action: blocklog.ActionRequest, Limit: 200})
	if err != nil {
		s.logErr(w, r, err)
		return
	}
	out := make([]client.Request, 0, len(evs))
	for _, e := range evs {
		out = append(out, client.Request{Time: e.Time, Client: e.Client, Host: e.Host, Note: e.Reason})
	}
	reply(w, out)
}

// notices answers the caller's own recent HTTPS blocks; no password: they
// are the caller's, and say no more than the browser's address bar did.
func (s *Server) notices(w http.ResponseWriter, r *http.Request) {
	var after time.Time
	if a := r.URL.Query().Get("after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil {
			invalid(w, fmt.Errorf("after: %w", err))
			return
		}
		after = t
	}
	ns := []client.Notice{}
	if s.cfg.Notices != nil {
		ns = append(ns, s.cfg.Notices(callerOf(r.Context()), after)...)
	}
	reply(w, ns)
}

// ask records a child's request; no password, but at most one per
// AskEvery per caller so the parent's list cannot be flooded.
func (s *Server) ask(w http.ResponseWriter, r *http.Request) {
	var req client.Request
	if err := decodeBody(r, &req); err != nil {
		invalid(w, err)
		return
	}
	h, err := hostname.Normalize(req.Host)
	if err != nil {
		invalid(w, fmt.Errorf("host: %w", err))
		return
	}
	if len(req.Note) > 500 {
		req.Note = req.Note[:500]
	}
	if d, ok := s.cfg.Asks.Allow(callerOf(r.Context()).Key()); !ok {
		fail(w, http.StatusTooManyRequests, client.Error{Code: client.CodeRateLimited, Message: "one request at a time", RetryAfter: d})
		return
	}
	if s.cfg.Log == nil {
		fail(w, http.StatusServiceUnavailable, client.Error{Code: client.CodeUnavailable, Message: "no block log"})
		return
	}
	s.record(r, blocklog.Event{Action: blocklog.ActionRequest, Host: h, Reason: req.Note})
	reply(w, struct{}{})
}

func (s *Server) grant(w http.ResponseWriter, r *http.Request) {
	var req client.GrantRequest
	if err := decodeBody(r, &req); err != nil {
		invalid(w, err)
		return
	}
	g, err := s.cfg.Overrides.Grant(req.Host, req.Profile, time.Duration(req.Duration))
	if err != nil {
		if errors.Is(err, settings.ErrBadGrant) {
			invalid(w, err)
			return
		}
		s.internal(w, r, err)
		return
	}
	s.overridden(r, blocklog.Event{Action: blocklog.ActionGrant, Host: g.Host, Profile: g.Profile,
		Reason: fmt.Sprintf("allowed for %s, until %s", time.Duration(req.Duration), g.Until.Format(time.RFC3339))})
	reply(w, g)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	h, err := hostname.Normalize(r.URL.Query().Get("host"))
	if err != nil {
		invalid(w, fmt.Errorf("host: %w", err))
		return
	}
	if err := s.cfg.Overrides.Revoke(h); err != nil {
		s.internal(w, r, err)
		return
	}
	s.overridden(r, blocklog.Event{Action: blocklog.ActionGrant, Host: h, Reason: "grant revoked"})
	reply(w, struct{}{})
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	var req client.PauseRequest
	if err := decodeBody(r, &req); err != nil {
		invalid(w, err)
		return
	}
	g, err := s.cfg.Overrides.Pause(time.Duration(req.Duration))
	if err != nil {
		if errors.Is(err, settings.ErrBadGrant) {
			invalid(w, err)
			return
		}
		s.internal(w, r, err)
		return
	}
	s.overridden(r, blocklog.Event{Action: blocklog.ActionPause,
		Reason: fmt.Sprintf("filtering paused for %s, until %s", time.Duration(req.Duration), g.Until.Format(time.RFC3339))})
	reply(w, g)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	was, err := s.cfg.Overrides.Resume()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if was {
		s.overridden(r, blocklog.Event{Action: blocklog.ActionPause, Reason: "filtering resumed"})
	}
	reply(w, struct{}{})
}

// overridden records a change to grants or pauses and has the engine
// rebuilt with it.
func (s *Server) overridden(r *http.Request, ev blocklog.Event) {
	s.record(r, ev)
	if s.cfg.OnOverrides != nil {
		s.cfg.OnOverrides()
	}
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	if s.cfg.UpdateNow == nil {
		fail(w, http.StatusServiceUnavailable, client.Error{Code: client.CodeUnavailable, Message: "no updater configured"})
		return
	}
	s.record(r, blocklog.Event{Action: blocklog.ActionAdmin, Reason: "rule update requested"})
	if err := s.cfg.UpdateNow(r.Context()); err != nil {
		s.internal(w, r, fmt.Errorf("updating rules: %w", err))
		return
	}
	reply(w, struct{}{})
}

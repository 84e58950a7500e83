// Package client talks to a running GreenGate agent's local admin API. It is
// the only agent package the tray app (gui) imports, and it holds the wire
// types both sides share, so it depends on nothing but the standard library
// (and go-winio on Windows).
//
// # Transport
//
// HTTP/1.1 over a Unix socket (DefaultSocket: /run/greengate/admin.sock on
// Linux and macOS) or a named pipe on Windows (\\.\pipe\greengate-admin).
// Not TCP, on purpose: the filtering proxy dials only TCP, so no browser,
// web page or proxied request can ever reach this API. The socket is
// world-connectable so the tray in a child's session can show status; the
// parent password is what protects every change.
//
// # Who may do what
//
//   - Status and Ask need nothing: the tray icon and a child's "ask a parent".
//   - Notices need nothing either: the HTTPS sites just blocked for the
//     caller's own OS user (the agent tells users apart where the OS says
//     who owns a connection), so the tray can say what the browser could
//     not.
//   - Reads of the settings, block log, statistics and requests need a
//     session from Login (or the password per call with the *WithPassword
//     forms): the log says where the family browsed.
//   - Every change — SaveSettings, SetPassword, Grant, Revoke, Pause,
//     Resume, UpdateNow — needs the password itself, every time. A session token
//     left in a tray a child sits down at cannot change anything.
//   - The first parent password (none set yet) can only be set by an
//     administrator: root, or an elevated token on Windows (`sudo greengate
//     settings password`, the package's install step, the tray run as
//     administrator). Anyone else gets ErrAdminRequired: otherwise the
//     first child to open the tray would own the filter.
//
// Wrong passwords are slowed down per caller with growing delays
// (ErrRateLimited carries how long to wait); every change is recorded in the
// block log as an admin, grant or pause event.
//
// # Use
//
//	c := client.New(client.Config{})                  // default socket
//	st, err := c.Status(ctx)                          // errors.Is(err, client.ErrAgentNotRunning)
//	if !st.PasswordSet { err = c.SetPassword(ctx, "", "new secret") } // administrators only
//	err = c.Login(ctx, "secret")                       // for reads
//	evs, err := c.Events(ctx, client.EventFilter{Action: "block", Limit: 50})
//	g, err := c.Grant(ctx, "secret", "scratch.mit.edu", "child", time.Hour)
//	err = c.SaveSettings(ctx, "secret", s)            // errors.Is(err, client.ErrInvalid): see (*Error).Problems
//
// Errors the agent returns are *Error values that match the sentinels
// (ErrWrongPassword, ErrRateLimited, ErrNoPassword, ErrAdminRequired,
// ErrLoginRequired, ErrInvalid, ErrUnavailable) with errors.Is.
//
// # Concurrency
//
// A Client is safe for concurrent use. Every call has a deadline:
// Config.Timeout unless the context's is sooner.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API paths, shared with agent/admin.
const (
	PathStatus   = "/v1/status"
	PathLogin    = "/v1/login"
	PathLogout   = "/v1/logout"
	PathPassword = "/v1/password"
	PathSettings = "/v1/settings"
	PathEvents   = "/v1/events"
	PathCSV      = "/v1/events.csv"
	PathStats    = "/v1/stats"
	PathGrant    = "/v1/grant"
	PathPause    = "/v1/pause"
	PathResume   = "/v1/resume"
	PathUpdate   = "/v1/update"
	PathRequests = "/v1/requests"
	PathNotices  = "/v1/notices"
)

// Authorization header schemes: "Password <base64 of the password>" or
// "Session <token>". Base64 so any password survives an HTTP header.
const (
	SchemePassword = "Password"
	SchemeSession  = "Session"
)

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxReply caps how much of a reply is read (CSV export excepted).
const maxReply = 64 << 20

// Config configures New.
type Config struct {
	// Socket is the Unix socket path or Windows pipe name. "" means
	// DefaultSocket.
	Socket string
	// Timeout bounds each call. Zero means DefaultTimeout.
	Timeout time.Duration
}

// Client is a connection to the agent's admin API.
type Client struct {
	socket  string
	timeout time.Duration
	hc      *http.Client

	mu      sync.Mutex
	session string
}

// New returns a client; it does not connect until the first call.
func New(cfg Config) *Client {
	if cfg.Socket == "" {
		cfg.Socket = DefaultSocket
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	sock := cfg.Socket
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dial(ctx, sock)
		},
		MaxIdleConns:          2,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	return &Client{socket: sock, timeout: cfg.Timeout, hc: &http.Client{Transport: tr}}
}

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Status reports the agent's state; no password needed.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, "", nil, &st)
	return st, err
}

// Login checks the password and keeps a session for reads. A wrong
// password returns ErrWrongPassword (or ErrRateLimited) and drops any
// previous session.
func (c *Client) Login(ctx context.Context, password string) error {
	var l Login
	err := c.do(ctx, http.MethodPost, PathLogin, nil, passwordAuth(password), nil, &l)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.session = ""
		return err
	}
	c.session = l.Token
	return nil
}

// CheckPassword reports whether password is the parent password (nil) or
// not (ErrWrongPassword), without keeping a session.
func (c *Client) CheckPassword(ctx context.Context, password string) error {
	var l Login
	if err := c.do(ctx, http.MethodPost, PathLogin, nil, passwordAuth(password), nil, &l); err != nil {
		return err
	}
	// Ending the session at once leaves nothing behind.
	return c.do(ctx, http.MethodPost, PathLogout, nil, SchemeSession+" "+l.Token, nil, nil)
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context) error {
	c.mu.Lock()
	s := c.session
	c.session = ""
	c.mu.Unlock()
	if s == "" {
		return nil
	}
	return c.do(ctx, http.MethodPost, PathLogout, nil, SchemeSession+" "+s, nil, nil)
}

// LoggedIn reports whether the client holds a session (it may have expired
// on the agent's side).
func (c *Client) LoggedIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session != ""
}

// SetPassword sets the parent password. On first run (Status.PasswordSet
// false) old must be "" and the caller an administrator (else
// ErrAdminRequired). The new password must be at least 6 characters.
func (c *Client) SetPassword(ctx context.Context, old, new string) error {
	return c.do(ctx, http.MethodPost, PathPassword, nil, "", PasswordChange{Old: old, New: new}, nil)
}

// Settings returns the settings in force; needs Login.
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	var s Settings
	err := c.do(ctx, http.MethodGet, PathSettings, nil, c.sessionAuth(), nil, &s)
	return s, err
}

// SaveSettings validates and stores s as the new settings. An invalid
// document is refused whole with ErrInvalid and every problem in
// (*Error).Problems; the settings in force do not change.
func (c *Client) SaveSettings(ctx context.Context, password string, s Settings) error {
	return c.do(ctx, http.MethodPut, PathSettings, nil, passwordAuth(password), s, nil)
}

// Events returns block-log events, newest first; needs Login.
func (c *Client) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	var evs []Event
	err := c.do(ctx, http.MethodGet, PathEvents, f.query(), c.sessionAuth(), nil, &evs)
	return evs, err
}

// ExportCSV writes the events matching f to w as CSV; needs Login.
func (c *Client) ExportCSV(ctx context.Context, f EventFilter, w io.Writer) error {
	return c.doStream(ctx, PathCSV, f.query(), c.sessionAuth(), w)
}

// Stats counts block-log events per local day and category in [from, to);
// needs Login. Days are in the agent's time zone; admin, pause and request
// events have no category and count under "".
func (c *Client) Stats(ctx context.Context, from, to time.Time) ([]DayCount, error) {
	q := url.Values{}
	q.Set("from", from.Format(time.RFC3339Nano))
	q.Set("to", to.Format(time.RFC3339Nano))
	var dc []DayCount
	err := c.do(ctx, http.MethodGet, PathStats, q, c.sessionAuth(), nil, &dc)
	return dc, err
}

// Grant allows host for d in profile ("" = every profile). The grant
// survives an agent restart and expires by itself.
func (c *Client) Grant(ctx context.Context, password, host, profile string, d time.Duration) (Grant, error) {
	var g Grant
	err := c.do(ctx, http.MethodPost, PathGrant, nil, passwordAuth(password),
		GrantRequest{Host: host, Profile: profile, Duration: Duration(d)}, &g)
	return g, err
}

// Revoke ends every grant for host at once (any profile).
func (c *Client) Revoke(ctx context.Context, password, host string) error {
	q := url.Values{}
	q.Set("host", host)
	return c.do(ctx, http.MethodDelete, PathGrant, q, passwordAuth(password), nil, nil)
}

// Pause stops filtering for d; it resumes by itself.
func (c *Client) Pause(ctx context.Context, password string, d time.Duration) (Grant, error) {
	var g Grant
	err := c.do(ctx, http.MethodPost, PathPause, nil, passwordAuth(password), PauseRequest{Duration: Duration(d)}, &g)
	return g, err
}

// Resume ends a pause at once.
func (c *Client) Resume(ctx context.Context, password string) error {
	return c.do(ctx, http.MethodPost, PathResume, nil, passwordAuth(password), nil, nil)
}

// UpdateNow asks the agent to check for rule bundles now.
func (c *Client) UpdateNow(ctx context.Context, password string) error {
	return c.do(ctx, http.MethodPost, PathUpdate, nil, passwordAuth(password), nil, nil)
}

// Ask records a child's request to allow host; no password needed. The
// agent fills in the time and who asked.
func (c *Client) Ask(ctx context.Context, host, note string) error {
	return c.do(ctx, http.MethodPost, PathRequests, nil, "", Request{Host: host, Note: note}, nil)
}

// Requests lists the children's requests, newest first; needs Login.
func (c *Client) Requests(ctx context.Context) ([]Request, error) {
	var rs []Request
	err := c.do(ctx, http.MethodGet, PathRequests, nil, c.sessionAuth(), nil, &rs)
	return rs, err
}

// Notices returns the blocks of HTTPS sites after the given time (zero: the
// last few minutes) that the tray should tell its user about, oldest first.
func (c *Client) Notices(ctx context.Context, after time.Time) ([]Notice, error) {
	q := url.Values{}
	if !after.IsZero() {
		q.Set("after", after.UTC().Format(time.RFC3339Nano))
	}
	var ns []Notice
	err := c.do(ctx, http.MethodGet, PathNotices, q, "", nil, &ns)
	return ns, err
}

func passwordAuth(pw string) string {
	return SchemePassword + " " + base64.StdEncoding.EncodeToString([]byte(pw))
}

func (c *Client) sessionAuth() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == "" {
		return ""
	}
	return SchemeSession + " " + c.session
}

func (f EventFilter) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.From.IsZero() {
		q.Set("from", f.From.Format(time.RFC3339Nano))
	}
	if !f.To.IsZero() {
		q.Set("to", f.To.Format(time.RFC3339Nano))
	}
	set("category", f.Category)
	set("action", f.Action)
	set("profile", f.Profile)
	set("host", f.HostContains)
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset != 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	return q
}

// ParseEventFilter is the agent's side of EventFilter's query encoding.
func ParseEventFilter(q url.Values) (EventFilter, error) {
	var f EventFilter
	var errs []error
	tm := func(k string) time.Time {
		v := q.Get(k)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
		return t
	}
	num := func(k string) int {
		v := q.Get(k)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: not a count: %q", k, v))
		}
		return n
	}
	f.From, f.To = tm("from"), tm("to")
	f.Category, f.Action, f.Profile, f.HostContains = q.Get("category"), q.Get("action"), q.Get("profile"), q.Get("host")
	f.Limit, f.Offset = num("limit"), num("offset")
	return f, errors.Join(errs...)
}

func (c *Client) request(ctx context.Context, method, path string, q url.Values, auth string, body any) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			cancel()
			return nil, nil, fmt.Errorf("encoding %s request: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := "http://greengate" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("building %s request: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		if isNotRunning(err) {
			return nil, nil, fmt.Errorf("calling %s on %s: %w: %w", path, c.socket, ErrAgentNotRunning, err)
		}
		return nil, nil, fmt.Errorf("calling %s on %s: %w", path, c.socket, err)
	}
	if resp.StatusCode/100 != 2 {
		defer cancel()
		defer resp.Body.Close()
		return nil, nil, decodeError(resp)
	}
	return resp, cancel, nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, auth string, body, out any) error {
	resp, cancel, err := c.request(ctx, method, path, q, auth, body)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReply)).Decode(out); err != nil {
		return fmt.Errorf("decoding %s reply: %w", path, err)
	}
	return nil
}

func (c *Client) doStream(ctx context.Context, path string, q url.Values, auth string, w io.Writer) error {
	resp, cancel, err := c.request(ctx, http.MethodGet, path, q, auth, nil)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("reading %s reply: %w", path, err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	var e Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
		return &Error{Code: CodeInternal, Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))}
	}
	return &e
}

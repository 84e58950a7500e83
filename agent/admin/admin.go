// Package admin serves the agent's local admin API: what the tray app and
// the `greengate` CLI use to read status and, with the parent password,
// change settings, grant sites, pause filtering and read the block log.
// The wire format and the Go client are in agent/admin/client; its package
// doc lists who may do what.
//
// # Transport and why
//
// A Unix socket (Linux, macOS) or a named pipe (Windows), never TCP. The
// filtering proxy only dials TCP, so nothing a browser or web page sends
// can reach this API; the same-machine check is done by the kernel, not by
// address filtering. Listen makes the socket's directory 0755 root and the
// socket 0666: the tray runs in the child's own session and must be able to
// show status and send "ask a parent". Write permission on the socket gives
// no power by itself: every change needs the parent password, and reading
// the settings or the log needs it too (or a session from it), because the
// log shows where the family browsed. The Windows pipe grants SYSTEM and
// Administrators full access and authenticated users read/write, for the
// same reason.
//
// # Callers
//
// On Linux the kernel tells who is calling (SO_PEERCRED; LOCAL_PEERCRED on
// macOS). The uid names the caller in the block log and keys the password
// rate limit, so a child cannot reset its delay by reconnecting and one
// user's guesses do not lock out another. Password checks run one at a
// time: argon2id takes 64 MiB, and parallel guesses must neither exhaust
// memory nor slip past the limiter. On Windows the pipe client's process
// is asked for its user SID (GetNamedPipeClientProcessId, the process
// token), which plays the uid's part.
//
// # First password
//
// Until a parent password exists nothing can be changed, and only an
// administrator may set the first one (Caller.Admin: uid 0, or an elevated
// token or LocalSystem on Windows). The socket is open to every local user,
// so otherwise the first child to open the tray would set the password and
// pause the filter. Administrators set it with `sudo greengate settings
// password`, in the package's install step or from a tray run as
// administrator; everyone else gets client.ErrAdminRequired with those words.
//
// # Recording
//
// Every change, and every wrong password, is recorded in the block log
// (admin, grant and pause events) with the caller. Passwords are never
// logged or returned, not even as a hash.
//
// # Concurrency
//
// A Server is safe for concurrent use; Shutdown stops it within its
// context's deadline.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/settings"
)

// Defaults for zero Config fields.
const (
	DefaultSessionTTL = 15 * time.Minute
	DefaultAskEvery   = 10 * time.Second
	maxSessions       = 64
	maxBody           = settings.MaxFileSize
)

// Config configures New. Zero values take the stated defaults.
type Config struct {
	// Store holds the settings and the password. Required.
	Store *settings.Store
	// Overrides holds grants and pauses. Required.
	Overrides *settings.Overrides
	// Log is the block log. Nil makes log reads answer ErrUnavailable and
	// changes go unrecorded (only for tests and first-run tools).
	Log *blocklog.Log
	// Limiter slows down password guessing. Nil means
	// settings.NewLimiter with its defaults and Clock.
	Limiter *settings.Limiter
	// Status supplies what only the agent knows: running, version, proxy
	// address, bundles, rule counts, settings error. Nil reports Running
	// with nothing else; the server adds password, pause, grants and
	// blocked-today itself.
	Status func() client.Status
	// Known lists the category ids the rules provide, for validating saved
	// settings. Nil checks ids for form only.
	Known func() []string
	// OnSettings is called after settings were saved (the agent's watcher
	// would see the file too; applying twice is harmless). May be nil.
	OnSettings func(client.Settings)
	// OnOverrides is called after a grant, pause or resume. May be nil.
	OnOverrides func()
	// Notices returns the caller's HTTPS blocks after a time (see
	// client.Notice); the callee decides whose are whose. Nil answers
	// none.
	Notices func(c Caller, after time.Time) []client.Notice
	// UpdateNow checks for bundles now. Nil answers ErrUnavailable.
	UpdateNow func(context.Context) error
	// SessionTTL is how long a login lasts. Zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// AskEvery is the least time between two "ask a parent" from one
	// caller. Zero means DefaultAskEvery.
	AskEvery time.Duration
	// Asks limits "ask a parent"; the agent shares it with the proxy's
	// block page. Nil means settings.NewAskLimiter(AskEvery, Clock).
	Asks *settings.AskLimiter
	// Location is where days are counted for stats. Nil means time.Local.
	Location *time.Location
	// Logger receives request errors (never passwords). Nil discards.
	Logger *slog.Logger
	// Clock is the time source. Nil means time.Now.
	Clock func() time.Time
}

// Server is the admin API.
type Server struct {
	cfg  Config
	srv  *http.Server
	pwMu sync.Mutex // one password check at a time

	mu       sync.Mutex
	sessions map[string]session
}

type session struct {
	key     string // Caller.Key of the user who logged in
	expires time.Time
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Overrides == nil {
		return nil, errors.New("admin: Store and Overrides are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Limiter == nil {
		cfg.Limiter = settings.NewLimiter(settings.LimiterConfig{Clock: cfg.Clock})
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.AskEvery <= 0 {
		cfg.AskEvery = DefaultAskEvery
	}
	if cfg.Asks == nil {
		cfg.Asks = settings.NewAskLimiter(cfg.AskEvery, cfg.Clock)
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, sessions: map[string]session{}}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a large CSV export
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ConnContext:       withPeer,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Serve answers on ln until Shutdown; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	return s.srv.Serve(ln)
}

// Shutdown stops accepting, waits for requests in flight until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
		return fmt.Errorf("shutting down admin API: %w", err)
	}
	return nil
}

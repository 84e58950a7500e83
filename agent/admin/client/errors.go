package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinels for the agent's refusals; match them with errors.Is.
var (
	// ErrAgentNotRunning: nothing answers on the socket or pipe.
	ErrAgentNotRunning = errors.New("greengate agent is not running")
	// ErrWrongPassword: the parent password (or session) did not match.
	ErrWrongPassword = errors.New("wrong parent password")
	// ErrRateLimited: too many wrong passwords from this caller; see
	// Error.RetryAfter.
	ErrRateLimited = errors.New("too many wrong passwords, wait")
	// ErrNoPassword: no parent password is set yet (first run); an
	// administrator calls SetPassword with an empty old password.
	ErrNoPassword = errors.New("no parent password set yet")
	// ErrAdminRequired: only an administrator (root, an elevated Windows
	// token) may set the first parent password; the message says how.
	ErrAdminRequired = errors.New("an administrator must do this")
	// ErrLoginRequired: a read that needs a session or the password.
	ErrLoginRequired = errors.New("parent login required")
	// ErrInvalid: the request or settings were refused; Error.Problems
	// lists every problem with its key path.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the agent cannot do this now (e.g. no updater).
	ErrUnavailable = errors.New("not available")
)

// Wire error codes, one per sentinel.
const (
	CodeWrongPassword = "wrong_password"
	CodeRateLimited   = "rate_limited"
	CodeNoPassword    = "no_password"
	CodeAdminRequired = "admin_required"
	CodeLoginRequired = "login_required"
	CodeInvalid       = "invalid"
	CodeUnavailable   = "unavailable"
	CodeInternal      = "internal"
)

var codeErrs = map[string]error{
	CodeWrongPassword: ErrWrongPassword,
	CodeRateLimited:   ErrRateLimited,
	CodeNoPassword:    ErrNoPassword,
	CodeAdminRequired: ErrAdminRequired,
	CodeLoginRequired: ErrLoginRequired,
	CodeInvalid:       ErrInvalid,
	CodeUnavailable:   ErrUnavailable,
}

// Error is a refusal from the agent, as sent on the wire.
type Error struct {
	Code       string        `json:"error"`
	Message    string        `json:"message,omitempty"`
	Problems   []string      `json:"problems,omitempty"`    // each "key.path: what is wrong"
	RetryAfter time.Duration `json:"retry_after,omitempty"` // for rate_limited
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("greengate agent: ")
	if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString(e.Code)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry in %s)", e.RetryAfter.Round(time.Second))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrWrongPassword) and friends work.
func (e *Error) Is(target error) bool {
	s, ok := codeErrs[e.Code]
	return ok && s == target
}

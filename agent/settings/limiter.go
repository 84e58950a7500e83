package settings

import (
	"sync"
	"time"
)

// LimiterConfig configures NewLimiter. Zero values take the stated
// defaults.
type LimiterConfig struct {
	// Free is how many wrong passwords in a row cost nothing extra (typos).
	// Zero means 2; negative means none.
	Free int
	// Base is the wait after the first failure past Free; each further
	// failure doubles it. Zero means 1 s.
	Base time.Duration
	// Max caps the wait. Zero means 5 minutes.
	Max time.Duration
	// Forget drops a caller's record this long after its last failure.
	// Zero means 1 hour.
	Forget time.Duration
	// MaxKeys bounds the callers remembered; the stalest is forgotten
	// first. Zero means 4096.
	MaxKeys int
	// Clock is the time source. Nil means time.Now.
	Clock func() time.Time
}

// Limiter slows down password guessing per caller ("uid:1000", a pipe
// client's SID, ...). It lives in memory: a restart forgets it, which only
// a root user can cause. A caller that must wait is refused without the
// password being checked at all, so waiting out the delay is the only way
// to make another guess.
type Limiter struct {
	cfg LimiterConfig
	mu  sync.Mutex
	m   map[string]*attempts
}

type attempts struct {
	fails int
	last  time.Time // last failure
	until time.Time // no tries before this
}

// NewLimiter returns a Limiter.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.Free == 0 {
		cfg.Free = 2
	} else if cfg.Free < 0 {
		cfg.Free = 0
	}
	if cfg.Base <= 0 {
		cfg.Base = time.Second
	}
	if cfg.Max <= 0 {
		cfg.Max = 5 * time.Minute
	}
	if cfg.Forget <= 0 {
		cfg.Forget = time.Hour
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 4096
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Limiter{cfg: cfg, m: map[string]*attempts{}}
}

// Wait reports how long key must wait before its next try; 0 means now.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock()
	a := l.get(key, now)
	if a == nil || !now.Before(a.until) {
		return 0
	}
	return a.until.Sub(now)
}

// Fail records a wrong password and returns the wait before the next try.
func (l *Limiter) Fail(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Clock()
	a := l.get(key, now)
	if a == nil {
		if len(l.m) >= l.cfg.MaxKeys {
			l.evict()
		}
		a = &attempts{}
		l.m[key] = a
	}
	a.fails++
	a.last = now
	n := a.fails - l.cfg.Free
	if n <= 0 {
		a.until = now
		return 0
	}
	d := l.cfg.Base
	for i := 1; i < n && d < l.cfg.Max; i++ {
		d *= 2
	}
	d = min(d, l.cfg.Max)
	a.until = now.Add(d)
	return d
}

// Succeed forgets key's failures.
func (l *Limiter) Succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

func (l *Limiter) get(key string, now time.Time) *attempts {
	a := l.m[key]
	if a != nil && now.Sub(a.last) > l.cfg.Forget && !now.Before(a.until) {
		delete(l.m, key)
		return nil
	}
	return a
}

func (l *Limiter) evict() {
	var oldest string
	var t time.Time
	for k, a := range l.m {
		if oldest == "" || a.last.Before(t) {
			oldest, t = k, a.last
		}
	}
	delete(l.m, oldest)
}

// AskLimiter lets each caller ask a parent for a site at most once per
// interval, so the parent's list of requests cannot be flooded. The admin
// API's "ask" route and the block page's "ask a parent" link share one,
// so neither is a way around the other's limit. It remembers at most
// 4096 callers (then starts afresh: an attacker gains one ask each).
type AskLimiter struct {
	every time.Duration
	clock func() time.Time
	mu    sync.Mutex
	last  map[string]time.Time
}

// maxAskers bounds the callers an AskLimiter remembers.
const maxAskers = 4096

// NewAskLimiter returns an AskLimiter allowing one ask per every (at
// least a second) per caller; clock nil means time.Now.
func NewAskLimiter(every time.Duration, clock func() time.Time) *AskLimiter {
	if clock == nil {
		clock = time.Now
	}
	return &AskLimiter{every: max(every, time.Second), clock: clock, last: map[string]time.Time{}}
}

// Allow reports whether key may ask now, and records the ask if so;
// otherwise it says how long until key may.
func (a *AskLimiter) Allow(key string) (wait time.Duration, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock()
	if last, seen := a.last[key]; seen && now.Sub(last) < a.every {
		return a.every - now.Sub(last), false
	}
	if len(a.last) >= maxAskers {
		clear(a.last)
	}
	a.last[key] = now
	return 0, true
}

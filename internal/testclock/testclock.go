// Package testclock is a settable clock for tests of code that takes its
// time from a func() time.Time (Config.Clock throughout the agent). It is
// safe for concurrent use: the code under test reads it on its own
// goroutines while the test moves it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock; pass its Now as the Clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

package update

import (
	"testing"
	"time"
)

// TestWait pins the schedule: Interval after a success, MinBackoff
// doubling per failure up to MaxBackoff, jitter only ever added and
// below Jitter.
func TestWait(t *testing.T) {
	t.Parallel()
	u := &Updater{cfg: withDefaults(Config{Interval: time.Hour, MinBackoff: time.Minute, MaxBackoff: 10 * time.Minute, Jitter: -1})}
	tests := []struct {
		name     string
		failures int
		want     time.Duration
	}{
		{"success", 0, time.Hour},
		{"first failure", 1, time.Minute},
		{"second", 2, 2 * time.Minute},
		{"third", 3, 4 * time.Minute},
		{"fourth", 4, 8 * time.Minute},
		{"capped", 5, 10 * time.Minute},
		{"many, no overflow", 200, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := u.wait(tt.failures); got != tt.want {
				t.Errorf("wait(%d) = %v, want %v", tt.failures, got, tt.want)
			}
		})
	}
	t.Run("jitter", func(t *testing.T) {
		t.Parallel()
		j := &Updater{cfg: withDefaults(Config{Interval: time.Hour})} // Jitter defaults to Interval/10
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := j.wait(0)
			if d < time.Hour || d >= time.Hour+6*time.Minute {
				t.Fatalf("wait(0) = %v, outside [1h, 1h6m)", d)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("only %d distinct waits in 200: jitter is not spreading polls", len(seen))
		}
	})
}

//go:build !linux && !windows && !darwin

package sysproxy

import "context"

// Apply uses the Linux files (the BSDs' desktops read the same ones).
func (s System) Apply(ctx context.Context, t Target) error { return s.applyLinux(ctx, t) }

// Remove undoes Apply.
func (s System) Remove(ctx context.Context) error { return s.removeLinux(ctx) }

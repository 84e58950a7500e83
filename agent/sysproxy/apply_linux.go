package sysproxy

import "context"

// Apply points this machine's browsers at t.
func (s System) Apply(ctx context.Context, t Target) error { return s.applyLinux(ctx, t) }

// Remove undoes Apply.
func (s System) Remove(ctx context.Context) error { return s.removeLinux(ctx) }

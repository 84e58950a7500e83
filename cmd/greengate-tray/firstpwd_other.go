//go:build cgo && !linux

package main

import "context"

// firstPasswordSetter: no pkexec here. On Windows setup asks for the
// password as administrator; the wizard names the command otherwise.
func firstPasswordSetter() func(ctx context.Context, pw string) error { return nil }

//go:build !linux

package transparent

import (
	"context"
	"net"
)

// Listener is not available on this system.
type Listener struct{}

// New returns ErrUnsupported.
func New(Config) (*Listener, error) { return nil, ErrUnsupported }

// ListenAndServe returns ErrUnsupported.
func (*Listener) ListenAndServe(context.Context, func(net.Addr)) error { return ErrUnsupported }

// Serve returns ErrUnsupported.
func (*Listener) Serve(context.Context, net.Listener) error { return ErrUnsupported }

// Enable returns ErrUnsupported.
func Enable(context.Context, RulesetOptions) error { return ErrUnsupported }

// Disable returns ErrUnsupported.
func Disable(context.Context, string) error { return ErrUnsupported }

package bundle_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/greengate/greengate/rules/bundle"
)

func TestFailedCheck(t *testing.T) {
	t.Parallel()
	seen := map[string]error{}
	for _, err := range []error{bundle.ErrTooLarge, bundle.ErrMalformed, bundle.ErrUnknownKey, bundle.ErrBadSignature,
		bundle.ErrCertExpired, bundle.ErrPublisherMismatch, bundle.ErrNotYetValid, bundle.ErrExpired, bundle.ErrRollback} {
		name := bundle.FailedCheck(fmt.Errorf("opening x: %w", err))
		if name == "" {
			t.Errorf("%v has no check name", err)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("%v and %v share the name %q", prev, err, name)
		}
		seen[name] = err
	}
	if got := bundle.FailedCheck(errors.New("disk on fire")); got != "" {
		t.Errorf("unrelated error named %q", got)
	}
	if got := bundle.FailedCheck(nil); got != "" {
		t.Errorf("nil named %q", got)
	}
}

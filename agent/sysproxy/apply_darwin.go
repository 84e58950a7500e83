package sysproxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
)

func macServices(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "networksetup", "-listallnetworkservices").Output()
	if err != nil {
		return nil, fmt.Errorf("listing network services: %w", err)
	}
	return MacServices(string(out)), nil
}

// Apply points this machine's browsers at t, on every network service.
func (s System) Apply(ctx context.Context, t Target) error {
	svcs, err := macServices(ctx)
	if err != nil {
		return err
	}
	cmds, err := MacCommands(svcs, t)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cmds {
		errs = append(errs, s.run(ctx, c))
	}
	return errors.Join(errs...)
}

// Remove undoes Apply.
func (s System) Remove(ctx context.Context) error {
	svcs, err := macServices(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range MacRemoveCommands(svcs) {
		errs = append(errs, s.run(ctx, c))
	}
	return errors.Join(errs...)
}

package sysproxy

import (
	"context"
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
	return s.runAll(ctx, cmds)
}

// Remove undoes Apply.
func (s System) Remove(ctx context.Context) error {
	svcs, err := macServices(ctx)
	if err != nil {
		return err
	}
	return s.runAll(ctx, MacRemoveCommands(svcs))
}

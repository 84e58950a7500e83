package sysproxy

import "context"

// Apply points this machine's browsers at t.
func (s System) Apply(ctx context.Context, t Target) error {
	cmds, err := WindowsCommands(t)
	if err != nil {
		return err
	}
	return s.runAll(ctx, cmds)
}

// Remove undoes Apply; values already gone are not an error.
func (s System) Remove(ctx context.Context) error {
	for _, c := range WindowsRemoveCommands() {
		_ = s.run(ctx, c)
	}
	return nil
}

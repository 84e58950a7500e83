package sysproxy

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// System applies the steps of the OS it runs on.
type System struct {
	// Root is prefixed to the files Linux steps write. "" means "/".
	Root string
	// Run runs one command line. Nil runs it with a 30 s deadline,
	// skipping commands whose program is not installed.
	Run func(ctx context.Context, cmd []string) error
}

func (s System) root() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}

// runAll runs every command, on past failures; errors are joined.
func (s System) runAll(ctx context.Context, cmds [][]string) error {
	var errs []error
	for _, c := range cmds {
		errs = append(errs, s.run(ctx, c))
	}
	return errors.Join(errs...)
}

func (s System) run(ctx context.Context, cmd []string) error {
	if s.Run != nil {
		return s.Run(ctx, cmd)
	}
	if _, err := exec.LookPath(cmd[0]); err != nil {
		return nil // e.g. no dconf on a machine without GNOME
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cmd[0], cmd[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("running %s: %w: %s", strings.Join(cmd, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// applyLinux runs every Linux step; all are tried, errors are joined.
func (s System) applyLinux(ctx context.Context, t Target) error {
	return s.eachLinux(ctx, func(st Step) error { return st.Apply(s.root(), t) })
}

func (s System) removeLinux(ctx context.Context) error {
	return s.eachLinux(ctx, func(st Step) error { return st.Remove(s.root()) })
}

// eachLinux does change for every Linux step, then the commands that
// make it take effect; all are tried, errors are joined.
func (s System) eachLinux(ctx context.Context, change func(Step) error) error {
	var errs []error
	for _, st := range LinuxSteps() {
		if err := change(st); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.Name, err))
			continue
		}
		for _, c := range st.After {
			if err := s.run(ctx, c); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", st.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

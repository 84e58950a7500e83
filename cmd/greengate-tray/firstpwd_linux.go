//go:build cgo && linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// greengateCLI is the agent's command line, from the greengate package the
// tray package depends on.
const greengateCLI = "/usr/bin/greengate"

// firstPasswordSetter sets the first parent password as an administrator:
// pkexec asks for the administrator's password through the session's
// polkit agent and runs `greengate settings password` as root, which only
// an administrator may do. Nil when polkit's pkexec is not installed: the
// wizard then names the terminal command instead.
func firstPasswordSetter() func(ctx context.Context, pw string) error {
	pkexec, err := exec.LookPath("pkexec")
	if err != nil {
		return nil
	}
	return func(ctx context.Context, pw string) error {
		// The password goes in on stdin, never on the command line
		// (other users can read a process's arguments).
		cmd := exec.CommandContext(ctx, pkexec, greengateCLI, "settings", "password", "--password-stdin")
		cmd.Stdin = strings.NewReader(pw + "\n" + pw + "\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			// pkexec exits 126 when the administrator cancels or fails
			// to authenticate, 127 when not authorised.
			return fmt.Errorf("pkexec greengate settings password: %w: %s", err, strings.TrimSpace(out.String()))
		}
		return nil
	}
}

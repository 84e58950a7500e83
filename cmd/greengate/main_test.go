package main

import (
	"strings"
	"testing"
)

// --help after any command or subcommand prints that command's usage and
// exits 0, and runs nothing: "lists stats --help" once tried to open a
// file named --help, and "service --help" was an unknown action.
func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	for name := range commands {
		for _, args := range [][]string{{name, "--help"}, {name, "x", "-h"}} {
			code, out, errs := runCmd(t, "", args...)
			if code != 0 || !strings.Contains(strings.ToLower(out), "usage") || strings.Contains(out, "unknown") {
				t.Errorf("%v: exit %d\nstdout: %.200s\nstderr: %.200s", args, code, out, errs)
			}
		}
	}
	if code, _, _ := runCmd(t, "", "lists", "stats", "--help"); code != 0 {
		t.Error("lists stats --help")
	}
}

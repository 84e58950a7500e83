package main

import (
	"context"
	"fmt"
	"runtime"
)

// cmdVersion prints the version the binary was stamped with (`make build`,
// `make package`: installer/version.sh, from `git describe`), so an admin
// and a bug report can tell which build a machine runs.
func cmdVersion(_ context.Context, e *env, args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(e.stderr, "usage: greengate version")
		return 2
	}
	fmt.Fprintf(e.stdout, "greengate %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
)

// version is stamped by release builds with the same flag as greengate's
// and the tray's (-ldflags "-X main.version=...", installer/version.sh).
var version = "dev"

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: greengate-publisher version")
		return exitUsage
	}
	fmt.Fprintf(stdout, "greengate-publisher %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

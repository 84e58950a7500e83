//go:build !cgo

// The tray draws through OpenGL with cgo (Fyne's GL driver); built without
// cgo there is no tray, and the binary says so instead of failing to build,
// so that CGO_ENABLED=0 go vet ./... and go build ./... cover the module.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "greengate-tray: built without cgo; the tray needs it (a C compiler and CGO_ENABLED=1: make tray)")
	os.Exit(2)
}

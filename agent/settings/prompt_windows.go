package settings

import (
	"os"

	"golang.org/x/sys/windows"
)

// noEcho turns console echo off on f and returns how to turn it back on,
// so a parent typing the password at an elevated prompt does not show it.
func noEcho(f *os.File) (func(), error) {
	h := windows.Handle(f.Fd())
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return nil, err
	}
	if err := windows.SetConsoleMode(h, mode&^windows.ENABLE_ECHO_INPUT); err != nil {
		return nil, err
	}
	return func() { windows.SetConsoleMode(h, mode) }, nil
}

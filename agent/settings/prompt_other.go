//go:build !linux && !darwin

package settings

import (
	"errors"
	"os"
)

// noEcho is not implemented here (Windows consoles need SetConsoleMode);
// the password is read with echo on. Use --password-stdin from a script.
func noEcho(*os.File) (func(), error) { return nil, errors.New("no echo control on this OS") }

//go:build !linux && !darwin && !windows

package settings

import (
	"errors"
	"os"
)

// noEcho has no terminal to control on this OS;
// the password is read with echo on. Use --password-stdin from a script.
func noEcho(*os.File) (func(), error) { return nil, errors.New("no echo control on this OS") }

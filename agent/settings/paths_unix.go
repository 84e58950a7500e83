//go:build !windows

package settings

import "os"

// Default locations: root-owned configuration and state.
const (
	DefaultDir      = "/etc/greengate"
	DefaultStateDir = "/var/lib/greengate"
)

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

//go:build !windows

package settings

// Default locations: root-owned configuration and state.
const (
	DefaultDir      = "/etc/greengate"
	DefaultStateDir = "/var/lib/greengate"
)

//go:build windows

package settings

// Default locations under ProgramData, which only administrators and
// SYSTEM may write (the installer sets the ACLs).
const (
	DefaultDir      = `C:\ProgramData\GreenGate`
	DefaultStateDir = `C:\ProgramData\GreenGate\state`
)

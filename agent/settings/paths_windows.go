//go:build windows

package settings

// Default locations under ProgramData, which only administrators and
// SYSTEM may write (the installer sets the ACLs).
const (
	DefaultDir      = `C:\ProgramData\GreenGate`
	DefaultStateDir = `C:\ProgramData\GreenGate\state`
)

// syncDir is a no-op: Windows cannot open a directory for FlushFileBuffers
// without backup semantics, and NTFS journals the rename itself.
func syncDir(string) error { return nil }

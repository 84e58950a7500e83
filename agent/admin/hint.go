package admin

import "runtime"

// firstPasswordHint tells a non-administrator who may set the first parent
// password, and how, in this OS's words.
func firstPasswordHint() string {
	const base = "the first parent password can only be set by an administrator: "
	if runtime.GOOS == "windows" {
		return base + "run `greengate settings password` in a terminal opened with \"Run as administrator\", or open the tray app as administrator"
	}
	return base + "run `sudo greengate settings password`"
}

package main

// privateUmask: Windows has no umask; the data directory's ACL, inherited
// from ProgramData and set by the installer, decides.
func privateUmask() {}

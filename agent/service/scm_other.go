//go:build !windows

package service

import ks "github.com/kardianos/service"

// wrapSCM is Windows-only (scm_windows.go).
func wrapSCM(s ks.Service, _ string) ks.Service { return s }

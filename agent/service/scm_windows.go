package service

import (
	"errors"

	ks "github.com/kardianos/service"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
)

// scmService makes Run ask the service manager itself whether this
// process is a service. kardianos decides once, at init, from a guess:
// the parent is services.exe in session 0. Under Wine 8 services.exe runs
// in session 1 (measured: scripts/windows-test.sh), so kardianos ran the
// agent as a console program that never answered the SCM, and `sc start`
// failed with "Service request timeout". StartServiceCtrlDispatcher is the
// authority: it connects when the SCM started us and fails at once with
// ERROR_FAILED_SERVICE_CONTROLLER_CONNECT otherwise (a console run).
type scmService struct {
	ks.Service
	name string
}

func wrapSCM(s ks.Service, name string) ks.Service {
	if _, ok := s.(svc.Handler); !ok || !ks.Interactive() {
		return s // kardianos already runs it under the SCM
	}
	return scmService{Service: s, name: name}
}

// Run runs under the SCM with kardianos's own handler (Execute: start,
// stop and shutdown as on Windows proper), else as a console program.
func (s scmService) Run() error {
	err := svc.Run(s.name, s.Service.(svc.Handler))
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
		return s.Service.Run()
	}
	return err
}

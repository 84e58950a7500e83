// Package service runs the GreenGate agent as an OS service with
// github.com/kardianos/service: systemd, System V init, launchd or the
// Windows service manager, whichever the machine has.
//
// It is thin glue. Program adapts a run function to kardianos: Start
// returns at once (the agent runs in a goroutine), Stop cancels it and
// waits at most Config.StopTimeout. A run that fails is restarted in
// process with a growing delay, so a crash of the agent's loop heals even
// under System V init, which has no restart of its own; the managers that
// can also restart the process (systemd Restart=on-failure, Windows
// OnFailure=restart, launchd KeepAlive) are told to.
//
// Manager wraps install, uninstall, start, stop and status, and smooths the
// quirks measured on Debian without systemd as PID 1 (kardianos then picks
// unix-systemv): Status reports "unknown, exit status 1" for a stopped
// service, and Uninstall leaves the /etc/rc?.d links behind. Checking the
// parent password before stop and uninstall is the caller's job
// (cmd/greengate); only root can manage services at all.
//
// RunAgent is what the service runs (`greengate service run`): the agent
// (package agent) with the parental settings and grants fed into its
// engine, the settings watcher, and the admin API on its socket.
//
// The systemd unit is this package's SystemdUnit template, not kardianos's
// (which restarts after 120 s); installer/ ships the same unit for the
// .deb, and a test keeps the two identical.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ks "github.com/kardianos/service"
)

// Defaults.
const (
	DefaultName        = "greengate"
	DefaultStopTimeout = 10 * time.Second
	// DefaultExecutable is where the packages install the binary.
	DefaultExecutable = "/usr/bin/greengate"
)

// DefaultArguments make the service manager run `greengate service run`.
var DefaultArguments = []string{"service", "run"}

// SystemdUnit is the unit template in kardianos's own mini template syntax
// (not text/template). Restart=on-failure with a 5 s delay; StartLimit*
// stops a crash loop from spinning; TimeoutStopSec leaves Stop its 10 s.
// After=network.target, not network-online.target: the agent serves on
// loopback and retries its own listener, so it must not wait for a
// network. Under a real systemd with no link up, Wants=network-online
// held `systemctl start` (and so dpkg's postinst, and boot) for the 120 s
// of systemd-networkd-wait-online (installer/systemd-test.sh).
//
// Hardening: the agent writes only its settings directory (/etc/greengate:
// settings.json, the password hash), its state directory (/var/lib: grants,
// block log, bundles; 0700) and the admin socket's directory (/run, 0755:
// the tray in a user's session must reach the socket); everything else is
// read-only (ProtectSystem=strict), home directories are out of sight (the
// proxy-on steps that write browser policies run as their own command, not
// in the service), and UMask=0077 keeps what it writes to root. It stays
// root: transparent mode sets SO_MARK (CAP_NET_ADMIN) and the proxy reads
// /proc/net/tcp for the connecting user.
const SystemdUnit = `[Unit]
Description={{Description}}
Documentation=man:greengate(8)
ConditionFileIsExecutable={{Path | cmdEscape}}
After=network.target
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
Restart=on-failure
RestartSec=5
TimeoutStopSec=15
EnvironmentFile=-/etc/default/{{Name}}
UMask=0077
RuntimeDirectory={{Name}}
RuntimeDirectoryMode=0755
StateDirectory={{Name}}
StateDirectoryMode=0700
ConfigurationDirectory={{Name}}
ConfigurationDirectoryMode=0755
ProtectSystem=strict
ReadWritePaths=/etc/{{Name}}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
`

// Errors.
var (
	ErrStopTimeout  = errors.New("agent did not stop in time")
	ErrNotInstalled = ks.ErrNotInstalled
)

// Config configures New. Zero values take the stated defaults.
type Config struct {
	// Name of the service. "" means DefaultName.
	Name string
	// Executable the manager starts. "" means the running binary.
	Executable string
	// Arguments for it. Nil means DefaultArguments.
	Arguments []string
	// Run is the agent: it serves until ctx ends and returns nil then.
	// Required for running; not needed to install or control.
	Run func(ctx context.Context) error
	// StopTimeout bounds Stop. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// RestartDelay is the first wait before a failed run is restarted in
	// process; it doubles up to a minute. Zero means 1 s.
	RestartDelay time.Duration
	// Options are extra kardianos options (tests set RunWait and
	// UserService); they override this package's.
	Options ks.KeyValue
	// System picks a service system; nil means the detected one.
	System ks.System
	// Root is prefixed to /etc paths the quirk fixes touch. "" means "/".
	Root string
	// Logger receives run errors and restarts. Nil discards.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Arguments == nil {
		c.Arguments = DefaultArguments
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.RestartDelay <= 0 {
		c.RestartDelay = time.Second
	}
	if c.Root == "" {
		c.Root = "/"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// KardianosConfig is the service definition handed to kardianos.
func KardianosConfig(cfg Config) *ks.Config {
	cfg.defaults()
	opts := ks.KeyValue{
		"SystemdScript": SystemdUnit,
		"Restart":       "on-failure",
		// Windows: restart 5 s after a crash; forget crashes after a day.
		"OnFailure":              "restart",
		"OnFailureDelayDuration": "5s",
		"OnFailureResetPeriod":   86400,
		"StartType":              "automatic",
		// launchd: start at boot and restart whenever it exits.
		"RunAtLoad": true,
		"KeepAlive": true,
	}
	for k, v := range cfg.Options {
		opts[k] = v
	}
	return &ks.Config{
		Name:        cfg.Name,
		DisplayName: "GreenGate web filter",
		Description: "GreenGate green-browsing web filter (local proxy)",
		Executable:  cfg.Executable,
		Arguments:   cfg.Arguments,
		Option:      opts,
	}
}

// Program is the kardianos.Interface around a run function.
type Program struct {
	cfg Config

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the last run error
}

var _ ks.Interface = (*Program)(nil)

// NewProgram returns a Program for cfg.Run.
func NewProgram(cfg Config) *Program {
	cfg.defaults()
	return &Program{cfg: cfg}
}

// Start begins running in the background and returns at once, as service
// managers require. Errors of the run itself are logged and the run is
// restarted; Start fails only when there is nothing to run or it is
// already running.
func (p *Program) Start(ks.Service) error {
	if p.cfg.Run == nil {
		return errors.New("starting service: no run function")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return errors.New("starting service: already running")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(ctx, p.done)
	return nil
}

func (p *Program) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	delay := p.cfg.RestartDelay
	for {
		start := time.Now()
		err := p.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("agent returned without being stopped")
		}
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		// A run that lasted a while was healthy: start the backoff over.
		if time.Since(start) > time.Minute {
			delay = p.cfg.RestartDelay
		}
		p.cfg.Logger.Error("service: agent failed; restarting", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Minute)
	}
}

// runOnce turns a panic in the run into an error, so it is restarted.
func (p *Program) runOnce(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("agent panicked: %v", r)
		}
	}()
	return p.cfg.Run(ctx)
}

// Stop cancels the run and waits at most StopTimeout for it to end.
func (p *Program) Stop(ks.Service) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-time.After(p.cfg.StopTimeout):
		return fmt.Errorf("stopping service after %s: %w", p.cfg.StopTimeout, ErrStopTimeout)
	}
}

// LastError is the most recent run failure, nil if none.
func (p *Program) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// New returns the kardianos service for cfg and its Program.
func New(cfg Config) (ks.Service, *Program, error) {
	cfg.defaults()
	p := NewProgram(cfg)
	kc := KardianosConfig(cfg)
	var s ks.Service
	var err error
	if cfg.System != nil {
		s, err = cfg.System.New(p, kc)
	} else {
		s, err = ks.New(p, kc)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("configuring service %s: %w", cfg.Name, err)
	}
	return wrapSCM(s, cfg.Name), p, nil
}

// State is a service's state as the CLI reports it.
type State string

// States.
const (
	StateRunning      State = "running"
	StateStopped      State = "stopped"
	StateNotInstalled State = "not installed"
	StateUnknown      State = "unknown"
)

// Manager installs and controls the service.
type Manager struct {
	cfg Config
	svc ks.Service
}

// NewManager returns a Manager for cfg (Run is not needed).
func NewManager(cfg Config) (*Manager, error) {
	cfg.defaults()
	s, _, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, svc: s}, nil
}

// Platform names the service system in use, e.g. "unix-systemv".
func (m *Manager) Platform() string { return m.svc.Platform() }

func (m *Manager) sysv() bool { return m.svc.Platform() == "unix-systemv" }

func (m *Manager) initScript() string {
	return filepath.Join(m.cfg.Root, "etc", "init.d", m.cfg.Name)
}

// Install registers the service to start at boot.
func (m *Manager) Install() error {
	if m.sysv() {
		// Links left by an earlier uninstall would make kardianos's
		// Symlink calls fail silently and keep stale targets.
		RemoveSysvLinks(m.cfg.Root, m.cfg.Name)
	}
	if err := m.svc.Install(); err != nil {
		return fmt.Errorf("installing service %s: %w", m.cfg.Name, err)
	}
	return nil
}

// Uninstall stops the service if it runs and removes it.
func (m *Manager) Uninstall() error {
	if st, _ := m.Status(); st == StateRunning {
		if err := m.Stop(); err != nil {
			return err
		}
	}
	err := m.svc.Uninstall()
	if m.sysv() {
		RemoveSysvLinks(m.cfg.Root, m.cfg.Name)
	}
	if err != nil {
		return fmt.Errorf("uninstalling service %s: %w", m.cfg.Name, err)
	}
	return nil
}

// Start starts the installed service.
func (m *Manager) Start() error {
	if err := m.svc.Start(); err != nil {
		return fmt.Errorf("starting service %s: %w", m.cfg.Name, err)
	}
	return nil
}

// Stop stops the service.
func (m *Manager) Stop() error {
	if err := m.svc.Stop(); err != nil {
		return fmt.Errorf("stopping service %s: %w", m.cfg.Name, err)
	}
	return nil
}

// Status reports the state, smoothing sysv's quirks: its status command
// exits 1 for "Stopped", which kardianos reports as an unknown state.
func (m *Manager) Status() (State, error) {
	if m.sysv() {
		if _, err := os.Stat(m.initScript()); errors.Is(err, os.ErrNotExist) {
			return StateNotInstalled, nil
		}
	}
	st, err := m.svc.Status()
	switch {
	case errors.Is(err, ks.ErrNotInstalled):
		return StateNotInstalled, nil
	case err != nil && m.sysv() && isExit(err, 1):
		return StateStopped, nil
	case err != nil:
		return StateUnknown, fmt.Errorf("asking %s for the state of %s: %w", m.Platform(), m.cfg.Name, err)
	}
	switch st {
	case ks.StatusRunning:
		return StateRunning, nil
	case ks.StatusStopped:
		return StateStopped, nil
	}
	return StateUnknown, nil
}

func isExit(err error, code int) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode() == code
	}
	// kardianos wraps the exit error's text, not the error itself.
	return strings.Contains(err.Error(), fmt.Sprintf("exit status %d", code))
}

// RemoveSysvLinks removes /etc/rc?.d/[SK]NN<name> links that point at
// /etc/init.d/<name>; kardianos's sysv Uninstall leaves them. Other files
// are left alone.
func RemoveSysvLinks(root, name string) []string {
	var removed []string
	matches, _ := filepath.Glob(filepath.Join(root, "etc", "rc[0-6S].d", "[SK][0-9][0-9]"+name))
	target := "/etc/init.d/" + name
	for _, l := range matches {
		dst, err := os.Readlink(l)
		if err != nil || (dst != target && dst != "../init.d/"+name) {
			continue
		}
		if os.Remove(l) == nil {
			removed = append(removed, l)
		}
	}
	return removed
}

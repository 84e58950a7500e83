// Package gui is the GreenGate tray app's screens: parent login, first-run
// wizard, settings, block log, status and children's requests, in English and
// Simplified Chinese.
//
// # What it is
//
// A thin client. Every screen takes a Client — the few calls it makes on the
// agent's local admin API — and shows what the agent answers. Nothing here
// decides, stores or checks anything that matters: the agent validates
// settings, checks the password, rate-limits attempts and keeps the log.
// The little validation done here (a host typed into a list) only makes
// mistakes visible while typing; the agent's verdict on save is what counts
// and is shown next to the field it names.
//
// # What it is not
//
// It does not import fyne.io/fyne/v2/app, so it builds and tests without cgo,
// GL or a display (the test driver in fyne.io/fyne/v2/test). The app object,
// the tray icon and the connection to the agent are made in
// cmd/greengate-tray, which is the only cgo binary.
//
// # Using it
//
//	ui := gui.New(gui.Config{App: a, Client: c})
//	ui.SetTray(func(m *fyne.Menu, icon fyne.Resource) { ... }) // if there is a tray
//	ui.Start()        // first run: opens the wizard
//	ui.ShowStatus()   // or ShowSettings, ShowBlockLog, ShowRequests, ShowAbout
//	ui.RefreshStatus() // from a ticker, through fyne.Do: updates the tray
//
// # The password
//
// Status needs no password: a child may see that filtering is on. Settings,
// block log and requests open on a login (Client.Login, which also opens the
// agent session their reads need); the window keeps the password for its
// changes (save, allow a site, grant a request) until it is closed, which
// drops its content and the password with it. Pause and "update now" from
// the status window or the tray ask for it each time (Client.CheckPassword)
// and pass it to that one call. The agent checks it on every change anyway.
//
// # Language
//
// English or Simplified Chinese: the PrefLanguage preference if set, else
// the system locale (any zh locale gets Simplified Chinese). The words live
// in translations/*.json, go-i18n files as fyne.io/fyne/v2/lang reads them;
// the lookup is a small Translator rather than lang itself because lang
// takes its language from the system locale with no public way to override
// it, and the setting must switch the open windows at once.
//
// # Concurrency
//
// Screens are built and changed on the Fyne main goroutine. Calls to the
// agent run on Config.Go (a new goroutine by default) and their results come
// back through fyne.Do, so a slow or dead agent never freezes a window.
// Tests set Config.Go to run the call at once, which makes every screen
// deterministic under the test driver.
package gui

import (
	"context"
	"errors"
	"io"
	"time"

	"fyne.io/fyne/v2"

	"github.com/greengate/greengate/agent/admin/client"
)

// Client is what the screens ask of the agent's admin API. It is the subset
// of agent/admin/client.Client the tray uses; cmd/greengate-tray asserts that
// the real client satisfies it.
type Client interface {
	Status(ctx context.Context) (client.Status, error)
	// Login checks the password and keeps a session for the reads below.
	Login(ctx context.Context, password string) error
	CheckPassword(ctx context.Context, password string) error
	SetPassword(ctx context.Context, oldPassword, newPassword string) error
	Settings(ctx context.Context) (client.Settings, error)
	SaveSettings(ctx context.Context, password string, s client.Settings) error
	Events(ctx context.Context, f client.EventFilter) ([]client.Event, error)
	ExportCSV(ctx context.Context, f client.EventFilter, w io.Writer) error
	Stats(ctx context.Context, from, to time.Time) ([]client.DayCount, error)
	Requests(ctx context.Context) ([]client.Request, error)
	// Ask is a child's "please allow this site"; no password.
	Ask(ctx context.Context, host, note string) error
	Grant(ctx context.Context, password, host, profile string, d time.Duration) (client.Grant, error)
	Revoke(ctx context.Context, password, host string) error
	Pause(ctx context.Context, password string, d time.Duration) (client.Grant, error)
	Resume(ctx context.Context, password string) error
	UpdateNow(ctx context.Context, password string) error
	// Notices are the HTTPS sites just blocked for this user; no password.
	Notices(ctx context.Context, after time.Time) ([]client.Notice, error)
}

// Preference keys, stored in the app's fyne.Preferences.
const (
	// PrefLanguage overrides the system locale: "", "en" or "zh-Hans".
	PrefLanguage = "language"
	// PrefLogDays is the chart's span on the block log: 7 or 30.
	PrefLogDays = "blocklog.days"
)

// CallTimeout bounds every call to the agent. The agent is on the same
// machine, so anything slower than this is a hung agent, and the screen says
// so instead of waiting forever.
const CallTimeout = 10 * time.Second

// Config is what New needs. App is required; the rest have defaults.
type Config struct {
	App    fyne.App
	Client Client
	// Now is the clock for "today" and the chart's days; time.Now if nil.
	Now func() time.Time
	// Go runs a call to the agent off the UI goroutine; `go f()` if nil.
	Go func(f func())
	// SaveCSV asks where to write an exported log; a file-save dialog on the
	// given window if nil. Tests give a buffer.
	SaveCSV func(w fyne.Window, write func(io.Writer) error)
	// QuitOnClose makes closing a window close it for good, for when there
	// is no tray to reopen it from; otherwise closing hides it.
	QuitOnClose bool
	// Version is shown in the About window.
	Version string
	// Notify shows a desktop notification; App.SendNotification if nil.
	Notify func(*fyne.Notification)
	// SetFirstPassword sets the first parent password as an administrator
	// (on Linux: pkexec greengate settings password), for the first-run
	// wizard: only an administrator may set it. Nil asks the agent
	// directly, which refuses a non-administrator's account; the wizard
	// then says how an administrator sets it.
	SetFirstPassword func(ctx context.Context, password string) error
}

// UI owns the tray app's windows. One UI per app; not safe for use from
// goroutines other than Fyne's main one.
type UI struct {
	cfg     Config
	tr      *Translator
	windows map[string]fyne.Window
	reopen  map[string]func() // open windows: how to rebuild each one

	status      client.Status
	statusErr   error
	tray        func(*fyne.Menu, fyne.Resource)
	startWizard bool
	noticeAfter time.Time            // the newest notice shown
	noticed     map[string]time.Time // host: when it was last shown
}

// New builds the UI. The language comes from the PrefLanguage preference,
// else the system locale.
func New(cfg Config) *UI {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Go == nil {
		cfg.Go = func(f func()) { go f() }
	}
	if cfg.SaveCSV == nil {
		cfg.SaveCSV = SaveCSVDialog
	}
	if cfg.Notify == nil {
		cfg.Notify = cfg.App.SendNotification
	}
	u := &UI{cfg: cfg, windows: map[string]fyne.Window{}, reopen: map[string]func(){}, statusErr: errNoStatusYet,
		noticed: map[string]time.Time{}, noticeAfter: cfg.Now()} // news from now on, not a backlog at login
	u.tr = NewTranslator(PickLanguage(cfg.App.Preferences().String(PrefLanguage), systemLocale()))
	return u
}

// errNoStatusYet stands for the agent's status before the first answer.
var errNoStatusYet = errors.New("no status from the agent yet")

// Translator returns the UI's current language.
func (u *UI) Translator() *Translator { return u.tr }

// env is what every screen gets: the client, the words, the clock and the way
// to call the agent without blocking the UI.
type env struct {
	client   Client
	tr       *Translator
	now      func() time.Time
	goFn     func(func())
	prefs    fyne.Preferences
	firstPwd func(ctx context.Context, password string) error
}

func (u *UI) env() env {
	return env{client: u.cfg.Client, tr: u.tr, now: u.cfg.Now, goFn: u.cfg.Go, prefs: u.cfg.App.Preferences(),
		firstPwd: u.cfg.SetFirstPassword}
}

// call runs work against the agent with CallTimeout off the UI goroutine and
// hands its result to done on the UI goroutine.
func call[T any](e env, work func(ctx context.Context) (T, error), done func(T, error)) {
	e.goFn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), CallTimeout)
		defer cancel()
		v, err := work(ctx)
		fyne.Do(func() { done(v, err) })
	})
}

package gui

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// Window keys, one window each: showing a screen again reuses its window.
const (
	winStatus   = "status"
	winSettings = "settings"
	winLog      = "blocklog"
	winRequests = "requests"
	winWizard   = "wizard"
	winAbout    = "about"
	winAsk      = "ask"
)

// openWindow shows the window for key with fresh content from build. Content
// is rebuilt on every show so a reopened window shows the agent's current
// state and the current language. Closing hides the window and drops its
// content — and with it any password a screen was holding — unless
// Config.QuitOnClose, where closing really closes (no tray to come back from).
func (u *UI) openWindow(key, titleKey string, size fyne.Size, build func(w fyne.Window) fyne.CanvasObject) fyne.Window {
	w, ok := u.windows[key]
	if !ok {
		w = u.cfg.App.NewWindow("")
		w.Resize(size)
		if u.cfg.QuitOnClose {
			w.SetOnClosed(func() { delete(u.windows, key); delete(u.reopen, key) })
		} else {
			w.SetCloseIntercept(func() { u.closeWindow(key) })
		}
		u.windows[key] = w
	}
	w.SetTitle("GreenGate – " + u.tr.T(titleKey))
	w.SetContent(build(w))
	w.Show()
	w.RequestFocus()
	return w
}

// closeWindow hides the window for key and drops its content; with
// Config.QuitOnClose it closes it, since a hidden window would keep a
// tray-less app running with nothing on screen.
func (u *UI) closeWindow(key string) {
	w := u.windows[key]
	delete(u.reopen, key)
	if w == nil {
		return
	}
	if u.cfg.QuitOnClose {
		w.Close() // its OnClosed forgets it
		return
	}
	w.SetContent(widget.NewLabel(""))
	w.Hide()
}

// ShowStatus opens the status window.
func (u *UI) ShowStatus() *statusScreen {
	var s *statusScreen
	u.reopen[winStatus] = func() { u.ShowStatus() }
	u.openWindow(winStatus, "window.status", fyne.NewSize(720, 600), func(w fyne.Window) fyne.CanvasObject {
		s = newStatusScreen(u.env(), w, u.setStatus)
		return s.content
	})
	s.load()
	return s
}

// openProtected shows a login in the window for key; once the agent accepts
// the password (Client.Login, which also opens the session these windows'
// reads need), it shows the screen built with that password.
func (u *UI) openProtected(key, titleKey, purposeKey string, size fyne.Size) *loginScreen {
	var l *loginScreen
	u.reopen[key] = func() { u.openProtected(key, titleKey, purposeKey, size) }
	w := u.openWindow(key, titleKey, size, func(fyne.Window) fyne.CanvasObject {
		l = newLoginScreen(u.env(), u.tr.T(purposeKey), u.cfg.Client.Login, func(pw string) {
			switch key {
			case winSettings:
				u.showSettingsWith(pw)
			case winLog:
				u.showBlockLogWith(pw)
			case winRequests:
				u.showRequestsWith(pw)
			}
		})
		return container.NewCenter(container.NewGridWrap(fyne.NewSize(360, 260), l.content))
	})
	// The parent opened this to type the password: put the cursor there.
	w.Canvas().Focus(l.password)
	return l
}

// ShowSettings opens the settings window, which asks for the password first.
func (u *UI) ShowSettings() *loginScreen {
	return u.openProtected(winSettings, "window.settings", "login.settings", settingsSize)
}

// ShowBlockLog opens the block log, which asks for the password first.
func (u *UI) ShowBlockLog() *loginScreen {
	return u.openProtected(winLog, "window.blocklog", "login.log", logSize)
}

// ShowRequests opens the children's requests, after the password.
func (u *UI) ShowRequests() *loginScreen {
	return u.openProtected(winRequests, "window.requests", "login.requests", requestsSize)
}

// Window sizes: big enough for the longest Chinese or English line.
var (
	settingsSize = fyne.NewSize(980, 640) // the hours grid: 24 ticks a row, one screen on a 1024x768 lab PC
	logSize      = fyne.NewSize(860, 640)
	requestsSize = fyne.NewSize(560, 480)
)

func (u *UI) showSettingsWith(password string) *settingsScreen {
	var s *settingsScreen
	u.reopen[winSettings] = func() { u.showSettingsWith(password) }
	u.openWindow(winSettings, "window.settings", settingsSize, func(fyne.Window) fyne.CanvasObject {
		s = newSettingsScreen(u.env(), password, u.SetLanguage)
		return s.content
	})
	s.load()
	return s
}

func (u *UI) showBlockLogWith(password string) *blockLogScreen {
	var s *blockLogScreen
	u.reopen[winLog] = func() { u.showBlockLogWith(password) }
	u.openWindow(winLog, "window.blocklog", logSize, func(w fyne.Window) fyne.CanvasObject {
		s = newBlockLogScreen(u.env(), w, password, u.cfg.SaveCSV)
		return s.content
	})
	s.load()
	return s
}

func (u *UI) showRequestsWith(password string) *requestsScreen {
	var s *requestsScreen
	u.reopen[winRequests] = func() { u.showRequestsWith(password) }
	u.openWindow(winRequests, "window.requests", requestsSize, func(fyne.Window) fyne.CanvasObject {
		s = newRequestsScreen(u.env(), password)
		return s.content
	})
	s.load()
	return s
}

// ShowWizard opens the first-run wizard; when it is done the settings window
// opens with the new password, so the parent can go on from the template.
func (u *UI) ShowWizard() *wizardScreen {
	var s *wizardScreen
	u.reopen[winWizard] = func() { u.ShowWizard() }
	u.openWindow(winWizard, "window.wizard", fyne.NewSize(520, 560), func(fyne.Window) fyne.CanvasObject {
		s = newWizardScreen(u.env(), func(pw string) {
			u.closeWindow(winWizard)
			u.RefreshStatus()
			u.showSettingsWith(pw)
		})
		return container.NewVScroll(container.NewPadded(s.content))
	})
	return s
}

// ShowAsk opens the child's "ask a parent" window.
func (u *UI) ShowAsk() *askScreen {
	var s *askScreen
	u.reopen[winAsk] = func() { u.ShowAsk() }
	w := u.openWindow(winAsk, "window.ask", fyne.NewSize(420, 360), func(fyne.Window) fyne.CanvasObject {
		s = newAskScreen(u.env())
		return container.NewPadded(s.content)
	})
	w.Canvas().Focus(s.host)
	return s
}

// ShowAbout opens a short window saying what this is.
func (u *UI) ShowAbout() {
	u.reopen[winAbout] = func() { u.ShowAbout() }
	u.openWindow(winAbout, "window.about", fyne.NewSize(420, 220), func(fyne.Window) fyne.CanvasObject {
		l := widget.NewLabel(u.tr.T("about.text", map[string]any{"Version": u.cfg.Version}))
		l.Wrapping = fyne.TextWrapWord
		return container.NewPadded(l)
	})
}

// SetLanguage switches the UI to language ("" for the system's) and rebuilds
// every open window and the tray menu in it.
func (u *UI) SetLanguage(language string) {
	u.tr = NewTranslator(PickLanguage(language, systemLocale()))
	for _, f := range u.reopen {
		f()
	}
	u.updateTray()
}

// SetTray gives the UI the function that installs a tray menu and icon. The
// UI calls it whenever the status or language changes. Without it there is no
// tray and nothing is called.
func (u *UI) SetTray(set func(menu *fyne.Menu, icon fyne.Resource)) {
	u.tray = set
	u.updateTray()
}

func (u *UI) updateTray() {
	if u.tray != nil {
		u.tray(u.TrayMenu(), TrayIcon(u.trayState()))
	}
}

// Start asks the agent for its status; when no parent password is set yet,
// it opens the first-run wizard.
func (u *UI) Start() {
	u.startWizard = true
	u.RefreshStatus()
}

// RefreshStatus asks the agent for its status and updates the tray. Call it
// on the UI goroutine (from a ticker, through fyne.Do).
func (u *UI) RefreshStatus() {
	call(u.env(), func(ctx context.Context) (client.Status, error) { return u.cfg.Client.Status(ctx) }, u.setStatus)
}

func (u *UI) setStatus(st client.Status, err error) {
	u.status, u.statusErr = st, err
	u.updateTray()
	if u.startWizard && err == nil && !st.PasswordSet {
		u.startWizard = false
		u.ShowWizard()
	}
}

// SaveCSVDialog is the default Config.SaveCSV: a file-save dialog on w, then
// the export is written to the chosen file. The export goes to memory first
// so a failed export never leaves half a file behind.
func SaveCSVDialog(w fyne.Window, write func(io.Writer) error) {
	d := dialog.NewFileSave(func(uc fyne.URIWriteCloser, err error) {
		if err != nil || uc == nil {
			if err != nil {
				dialog.ShowError(err, w)
			}
			return
		}
		go func() {
			var buf bytes.Buffer
			err := write(&buf)
			if err == nil {
				_, err = uc.Write(buf.Bytes())
			}
			if cerr := uc.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				err = fmt.Errorf("exporting the block log to %s: %w", uc.URI().Name(), err)
				fyne.Do(func() { dialog.ShowError(err, w) })
			}
		}()
	}, w)
	d.SetFileName("greengate-blocklog.csv")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv"}))
	d.Show()
}

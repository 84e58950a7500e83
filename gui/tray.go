package gui

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"fyne.io/fyne/v2"
)

// Tray icon colours: green for filtering, amber for paused, red for a problem
// or an unreachable agent. Colour alone is not the message — the menu's first
// line says the state in words.
var (
	iconFiltering = color.NRGBA{R: 0x2e, G: 0x9e, B: 0x44, A: 0xff}
	iconPaused    = color.NRGBA{R: 0xf0, G: 0xa0, B: 0x20, A: 0xff}
	iconProblem   = color.NRGBA{R: 0xd0, G: 0x30, B: 0x30, A: 0xff}
)

// trayIconSize is in pixels; tray hosts scale it down.
const trayIconSize = 64

// TrayIcon is a PNG disc in the state's colour with a white ring. PNG,
// not SVG, because fyne.io/systray hands the bytes to the tray host as they
// are on Linux and decodes them as an image on Windows.
func TrayIcon(state string) fyne.Resource {
	c := iconProblem
	switch state {
	case StateFiltering:
		c = iconFiltering
	case StatePaused:
		c = iconPaused
	}
	img := image.NewNRGBA(image.Rect(0, 0, trayIconSize, trayIconSize))
	const r = trayIconSize / 2
	for y := range trayIconSize {
		for x := range trayIconSize {
			dx, dy := x-r, y-r
			d2 := dx*dx + dy*dy
			switch {
			case d2 < (r-10)*(r-10):
				img.SetNRGBA(x, y, c)
			case d2 < (r-6)*(r-6):
				img.SetNRGBA(x, y, color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff})
			case d2 < (r-1)*(r-1):
				img.SetNRGBA(x, y, c)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		// png.Encode only fails on its writer, and a bytes.Buffer does not.
		panic(fmt.Sprintf("encoding tray icon: %v", err))
	}
	return fyne.NewStaticResource("greengate-"+state+".png", b.Bytes())
}

// TrayMenu is the tray's menu for the last status the UI saw. The first item
// states the state and does nothing; pausing asks for the password in the
// status window.
func (u *UI) TrayMenu() *fyne.Menu {
	tr := u.tr
	stateLine := tr.T("state.unreachable")
	if u.statusErr == nil {
		stateLine = stateText(tr, u.status, u.cfg.Now().Location())
	}
	state := fyne.NewMenuItem(stateLine, nil)
	state.Disabled = true

	items := []*fyne.MenuItem{state, fyne.NewMenuItemSeparator()}
	if u.statusErr == nil && u.status.Paused {
		items = append(items, fyne.NewMenuItem(tr.T("tray.resume"), func() { u.ShowStatus().doResume() }))
	} else {
		items = append(items,
			fyne.NewMenuItem(tr.T("tray.pause15"), func() { u.ShowStatus().pause(PauseShort) }),
			fyne.NewMenuItem(tr.T("tray.pause1h"), func() { u.ShowStatus().pause(PauseLong) }))
	}
	items = append(items,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem(tr.T("tray.settings"), func() { u.ShowSettings() }),
		fyne.NewMenuItem(tr.T("tray.blocklog"), func() { u.ShowBlockLog() }),
		fyne.NewMenuItem(tr.T("tray.requests"), func() { u.ShowRequests() }),
		fyne.NewMenuItem(tr.T("tray.ask"), func() { u.ShowAsk() }),
		fyne.NewMenuItem(tr.T("tray.status"), func() { u.ShowStatus() }),
		fyne.NewMenuItem(tr.T("tray.update"), func() { u.ShowStatus().updateNow() }),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem(tr.T("tray.about"), func() { u.ShowAbout() }),
	)
	return fyne.NewMenu("GreenGate", items...)
}

// trayState is the icon's state: the agent's, or a problem when it cannot be
// reached.
func (u *UI) trayState() string {
	if u.statusErr != nil {
		return StateProblem
	}
	return agentState(u.status)
}

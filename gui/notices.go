package gui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"

	"github.com/greengate/greengate/agent/admin/client"
)

// noticeRepeat is the least time between two notices for one site: a page
// retrying a blocked host must not bury the desktop in notifications.
const noticeRepeat = time.Minute

// CheckNotices asks the agent for HTTPS sites it just blocked for this
// user and shows a desktop notification for each: where HTTPS leaves the
// browser no room for a block page, the tray says what happened and where
// to ask a parent. Call it on the UI goroutine, from a ticker like
// RefreshStatus.
func (u *UI) CheckNotices() {
	after := u.noticeAfter
	call(u.env(), func(ctx context.Context) ([]client.Notice, error) {
		return u.cfg.Client.Notices(ctx, after)
	}, func(ns []client.Notice, err error) {
		if err != nil {
			return // the status line says when the agent is away
		}
		for _, n := range ns {
			if n.Time.After(u.noticeAfter) {
				u.noticeAfter = n.Time
			}
			if last, ok := u.noticed[n.Host]; ok && n.Time.Sub(last) < noticeRepeat {
				continue
			}
			if len(u.noticed) > 256 {
				clear(u.noticed)
			}
			u.noticed[n.Host] = n.Time
			u.cfg.Notify(u.notification(n))
		}
	})
}

func (u *UI) notification(n client.Notice) *fyne.Notification {
	why := u.tr.Category(n.Category)
	if n.Category == "" {
		why = u.tr.T("notice.listed")
	}
	return fyne.NewNotification(
		u.tr.T("notice.title", map[string]any{"Host": n.Host}),
		u.tr.T("notice.body", map[string]any{"Why": why, "Entry": n.Entry}),
	)
}

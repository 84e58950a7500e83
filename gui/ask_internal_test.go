package gui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/greengate/greengate/agent/admin/client"
)

func TestAskAParent(t *testing.T) {
	f := newFake(t, "Ask")
	f.askEvery = true
	u := newTestUI(t, f, LangEnglish, nil)
	s := u.ShowAsk()
	if got := u.windows[winAsk].Canvas().Focused(); got != s.host {
		t.Errorf("focus on %v, want the site entry", got)
	}
	assertTranslated(t, texts(s.content))

	steps := []struct {
		name, host, note string
		want             string
		sent             int // Ask calls that reached the agent so far
	}{
		{"a URL is explained, not sent", "https://discord.com/app", "", "leave out http:// or https://", 0},
		{"empty site", "", "please", "write a whole site name such as example.com", 0},
		{"too long a note", "discord.com", strings.Repeat("字", 167), "The note is too long; make it shorter.", 0},
		{"sent", "discord.com", "class group", "Sent. A parent will see your request for discord.com.", 1},
		{"again too soon", "scratch.mit.edu", "", "You just asked. Wait 9 s before asking again.", 2},
	}
	for _, st := range steps {
		s.host.SetText("")
		s.note.SetText("")
		test.Type(s.host, st.host)
		test.Type(s.note, st.note)
		test.Tap(s.send)
		if s.message.Text != st.want {
			t.Errorf("%s: message = %q, want %q", st.name, s.message.Text, st.want)
		}
		if n := f.count("Ask"); n != st.sent {
			t.Errorf("%s: Ask calls = %d, want %d", st.name, n, st.sent)
		}
	}
	if want := []client.Request{{Host: "discord.com", Note: "class group"}}; !slices.Equal(f.asked, want) {
		t.Errorf("asked = %+v", f.asked)
	}
}

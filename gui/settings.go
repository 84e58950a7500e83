package gui

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/greengate/greengate/agent/admin/client"
)

// Field names the settings screen can show an agent complaint next to. The
// agent names a field by a dotted path, "profiles.<i>.<field>[.<j>]" or
// "users.<os user>"; fieldKey maps it to one of these.
const (
	fieldName       = "name"
	fieldCategories = "block"
	fieldAllow      = "allow"
	fieldDeny       = "deny"
	fieldYouTube    = "youtube"
	fieldHours      = "hours"
	fieldUsers      = "users"
	fieldGeneral    = ""
)

// settingsScreen edits a copy of the agent's settings and saves it whole.
// Until Save is pressed nothing changes on the agent; a refused save keeps
// the edits on screen with the agent's reasons next to the fields.
type settingsScreen struct {
	env      env
	password string
	content  *fyne.Container // the loading label, then the form

	st  client.Settings
	cur int // index of the profile shown

	profile        *widget.Select
	newName        *widget.Entry
	addProfile     *widget.Button
	delProfile     *widget.Button
	categories     map[string]*widget.Check // by category ID
	allow          *widget.Entry
	deny           *widget.Entry
	safeSearch     *widget.Check
	allowOnly      *widget.Check // AllowListOnly: a lab that may visit only its list
	youtube        *widget.Select
	hours          [7][24]*widget.Check // [time.Weekday][hour]
	users          *fyne.Container      // one row per OS user
	lan            *fyne.Container      // one row per LAN network (lab, café)
	defaultProfile *widget.Select
	language       *widget.Select
	save           *widget.Button
	errs           map[string]*widget.Label // by field
	saved          *widget.Label

	// fieldErrs holds the agent's last complaints per profile index and
	// field, so switching profiles shows the right ones.
	fieldErrs map[int]map[string]string
	loading   bool // true while show() fills widgets, so their callbacks do not write back
	onLang    func(language string)
}

func newSettingsScreen(e env, password string, onLang func(string)) *settingsScreen {
	s := &settingsScreen{env: e, password: password, onLang: onLang, fieldErrs: map[int]map[string]string{}}
	s.content = container.NewStack(widget.NewLabel(e.tr.T("loading")))
	return s
}

// load asks the agent for the settings and builds the form around them.
func (s *settingsScreen) load() {
	type loaded struct {
		settings client.Settings
		cats     []string
	}
	call(s.env, func(ctx context.Context) (loaded, error) {
		st, err := s.env.client.Settings(ctx)
		if err != nil {
			return loaded{}, fmt.Errorf("reading settings: %w", err)
		}
		// Status says which categories the agent has rules for. Without it
		// the screen still offers the categories the profiles name.
		status, _ := s.env.client.Status(ctx)
		return loaded{st, categoryIDs(status, st)}, nil
	}, func(l loaded, err error) {
		if err != nil {
			s.content.Objects = []fyne.CanvasObject{errorLabel(agentError(s.env.tr, err))}
			s.content.Refresh()
			return
		}
		s.build(l.settings, l.cats)
	})
}

func errorLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	return l
}

func (s *settingsScreen) build(st client.Settings, catIDs []string) {
	tr := s.env.tr
	s.st = st
	if s.st.Users == nil {
		s.st.Users = map[string]string{}
	}
	s.errs = map[string]*widget.Label{}
	for _, f := range []string{fieldName, fieldCategories, fieldAllow, fieldDeny, fieldYouTube, fieldHours, fieldUsers, fieldGeneral} {
		s.errs[f] = errorLabel("")
		s.errs[f].Hide()
	}

	s.profile = widget.NewSelect(s.profileNames(), func(name string) {
		if i := s.profileIndex(name); i >= 0 && i != s.cur {
			s.show(i)
		}
	})

	// Categories: a check and a description each.
	s.categories = map[string]*widget.Check{}
	cats := container.NewVBox()
	for _, id := range catIDs {
		ch := widget.NewCheck(tr.Category(id), func(on bool) {
			if s.loading {
				return
			}
			p := &s.st.Profiles[s.cur]
			p.Block = slices.DeleteFunc(p.Block, func(x string) bool { return x == id })
			if on {
				p.Block = append(p.Block, id)
			}
		})
		if alwaysBlocked(id) {
			ch.Disable() // show() ticks it
		}
		s.categories[id] = ch
		item := container.NewVBox(ch)
		if help := tr.CategoryHelp(id); help != "" {
			desc := widget.NewLabel(help)
			desc.Wrapping = fyne.TextWrapWord
			desc.SizeName = theme.SizeNameCaptionText
			item.Add(desc)
		}
		cats.Add(item)
	}

	s.allow = s.listEntry(fieldAllow, func(p *client.Profile, lines []string) { p.Allow = lines })
	s.deny = s.listEntry(fieldDeny, func(p *client.Profile, lines []string) { p.Deny = lines })

	s.allowOnly = widget.NewCheck(tr.T("settings.allowonly"), func(on bool) {
		if !s.loading {
			s.st.Profiles[s.cur].AllowListOnly = on
		}
	})
	s.safeSearch = widget.NewCheck(tr.T("settings.safesearch"), func(on bool) {
		if !s.loading {
			s.st.Profiles[s.cur].SafeSearch = on
		}
	})
	ytModes := []string{YouTubeStrict, YouTubeModerate}
	ytLabels := make([]string, len(ytModes))
	for i, m := range ytModes {
		ytLabels[i] = tr.T("youtube." + m)
	}
	s.youtube = widget.NewSelect(ytLabels, func(label string) {
		if s.loading {
			return
		}
		if i := slices.Index(ytLabels, label); i >= 0 {
			s.st.Profiles[s.cur].YouTube = ytModes[i]
		}
	})

	s.defaultProfile = widget.NewSelect(s.profileNames(), func(name string) {
		if !s.loading {
			s.st.DefaultProfile = name
		}
	})
	s.users = container.NewVBox()
	addUser := widget.NewButton(tr.T("settings.users.add"), func() { s.addUserRow("", "") })
	for _, u := range slices.Sorted(maps.Keys(s.st.Users)) {
		s.addUserRow(u, s.st.Users[u])
	}
	s.lan = container.NewVBox()
	addLAN := widget.NewButton(tr.T("settings.lan.add"), func() { s.addLANRow("", "") })
	for _, n := range slices.Sorted(maps.Keys(s.st.LANProfiles)) {
		s.addLANRow(n, s.st.LANProfiles[n])
	}

	langLabels := []string{tr.T("language.system"), "English", "中文（简体）"}
	langValues := []string{"", LangEnglish, LangChinese}
	s.language = widget.NewSelect(langLabels, func(label string) {
		if i := slices.Index(langLabels, label); i >= 0 && !s.loading {
			s.env.prefs.SetString(PrefLanguage, langValues[i])
			if s.onLang != nil {
				s.onLang(langValues[i])
			}
		}
	})
	s.loading = true
	s.defaultProfile.SetSelected(s.st.DefaultProfile)
	if s.st.DefaultProfile == "" && len(s.st.Profiles) > 0 {
		s.defaultProfile.SetSelected(s.st.Profiles[0].Name)
	}
	s.language.SetSelectedIndex(max(0, slices.Index(langValues, s.env.prefs.String(PrefLanguage))))
	s.loading = false

	s.save = widget.NewButton(tr.T("settings.save"), s.doSave)
	s.save.Importance = widget.HighImportance
	s.saved = widget.NewLabel("")

	heading := func(key string) *widget.Label {
		return widget.NewLabelWithStyle(tr.T(key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	filterTab := container.NewVBox(
		heading("settings.categories"), cats, s.errs[fieldCategories],
		widget.NewSeparator(),
		s.safeSearch,
		container.NewBorder(nil, nil, widget.NewLabel(tr.T("settings.youtube")), nil, s.youtube), s.errs[fieldYouTube],
	)
	listsTab := container.NewVBox(
		heading("settings.allow"), widget.NewLabel(tr.T("settings.list.help")), s.allow, s.allowOnly, s.errs[fieldAllow],
		heading("settings.deny"), s.deny, s.errs[fieldDeny],
	)
	hoursTab := container.NewVBox(widget.NewLabel(tr.T("settings.hours.help")), s.hoursGrid(), s.errs[fieldHours])
	usersTab := container.NewVBox(widget.NewLabel(tr.T("settings.users.help")), s.users, addUser,
		widget.NewLabel(tr.T("settings.lan.help")), s.lan, addLAN,
		container.NewBorder(nil, nil, widget.NewLabel(tr.T("settings.default")), nil, s.defaultProfile), s.errs[fieldUsers],
		widget.NewSeparator(), container.NewBorder(nil, nil, widget.NewLabel(tr.T("settings.language")), nil, s.language))

	tabs := container.NewAppTabs(
		container.NewTabItem(tr.T("settings.tab.filter"), container.NewVScroll(filterTab)),
		container.NewTabItem(tr.T("settings.tab.lists"), container.NewVScroll(listsTab)),
		container.NewTabItem(tr.T("settings.tab.hours"), container.NewScroll(hoursTab)),
		container.NewTabItem(tr.T("settings.tab.users"), container.NewVScroll(usersTab)),
	)
	s.newName = widget.NewEntry()
	s.newName.SetPlaceHolder(tr.T("settings.profile.newname"))
	s.addProfile = widget.NewButton(tr.T("settings.profile.add"), func() {
		if err := s.doAddProfile(s.newName.Text); err != "" {
			s.setErr(fieldName, err)
			return
		}
		s.newName.SetText("")
	})
	s.delProfile = widget.NewButton(tr.T("settings.profile.delete"), func() {
		if err := s.doDeleteProfile(); err != "" {
			s.setErr(fieldName, err)
		}
	})
	top := container.NewVBox(
		container.NewBorder(nil, nil, widget.NewLabel(tr.T("settings.profile")),
			container.NewHBox(s.delProfile, container.NewGridWrap(fyne.NewSize(160, s.newName.MinSize().Height), s.newName), s.addProfile),
			s.profile),
		s.errs[fieldName])
	bottom := container.NewVBox(s.errs[fieldGeneral], container.NewBorder(nil, nil, nil, s.save, s.saved))
	s.content.Objects = []fyne.CanvasObject{container.NewBorder(top, bottom, nil, nil, tabs)}
	s.content.Refresh()
	if len(s.st.Profiles) > 0 {
		s.show(0)
	} else {
		s.save.Disable()
	}
}

// listEntry is a multi-line entry for a custom list that checks each line
// as it is typed and shows the first problem under the field.
func (s *settingsScreen) listEntry(field string, set func(*client.Profile, []string)) *widget.Entry {
	e := widget.NewMultiLineEntry()
	e.SetMinRowsVisible(5)
	e.SetPlaceHolder("example.com\nexample.org/games")
	e.Validator = func(text string) error {
		if line, key := firstListError(text); key != "" {
			return fmt.Errorf("line %d: %s", line, key)
		}
		return nil
	}
	e.OnChanged = func(text string) {
		if line, key := firstListError(text); key != "" {
			s.setErr(field, s.env.tr.T("list.line", map[string]any{"Line": line, "Problem": s.env.tr.T(key)}))
		} else {
			s.setErr(field, "")
		}
		if !s.loading {
			set(&s.st.Profiles[s.cur], splitLines(text))
		}
	}
	return e
}

func (s *settingsScreen) setErr(field, text string) {
	l := s.errs[field]
	if l == nil {
		l = s.errs[fieldGeneral]
	}
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// hoursGrid is a weekday × hour grid of checks: ticked means allowed.
func (s *settingsScreen) hoursGrid() fyne.CanvasObject {
	tr := s.env.tr
	grid := container.NewGridWithColumns(25)
	grid.Add(widget.NewLabel(""))
	for h := range 24 {
		grid.Add(widget.NewLabelWithStyle(strconv.Itoa(h), fyne.TextAlignCenter, fyne.TextStyle{Monospace: true}))
	}
	// Monday first: parents read a week that way.
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		grid.Add(widget.NewLabel(tr.T("weekday." + strconv.Itoa(int(d)))))
		for h := range 24 {
			c := widget.NewCheck("", func(bool) {
				if !s.loading {
					s.writeHours(d)
				}
			})
			s.hours[d][h] = c
			grid.Add(c)
		}
	}
	return grid
}

// writeHours stores weekday d's ticked hours in the profile. The grid works
// in whole hours, so a span from the agent that starts mid-hour is saved back
// rounded to hours, but only if the parent edits that day.
func (s *settingsScreen) writeHours(d time.Weekday) {
	var allowed [24]bool
	for h := range allowed {
		allowed[h] = s.hours[d][h].Checked
	}
	p := &s.st.Profiles[s.cur]
	p.Hours = setDayHours(p.Hours, d, allowed)
}

// show fills the widgets from profile i.
func (s *settingsScreen) show(i int) {
	s.loading = true
	defer func() { s.loading = false }()
	s.cur = i
	p := s.st.Profiles[i]
	s.profile.SetSelected(p.Name)
	for id, ch := range s.categories {
		ch.SetChecked(slices.Contains(p.Block, id) || alwaysBlocked(id))
	}
	s.allow.SetText(strings.Join(p.Allow, "\n"))
	s.deny.SetText(strings.Join(p.Deny, "\n"))
	s.safeSearch.SetChecked(p.SafeSearch)
	s.allowOnly.SetChecked(p.AllowListOnly)
	yt := p.YouTube
	if yt == "" {
		yt = YouTubeStrict
	}
	s.youtube.SetSelected(s.env.tr.T("youtube." + yt))
	for d := time.Sunday; d <= time.Saturday; d++ {
		for h := range 24 {
			s.hours[d][h].SetChecked(hourAllowed(p.Hours, d, h))
		}
	}
	for _, f := range []string{fieldName, fieldCategories, fieldAllow, fieldDeny, fieldYouTube, fieldHours} {
		s.setErr(f, s.fieldErrs[i][f])
	}
}

// doAddProfile adds a profile named name, starting as a copy of the one
// shown without its own lists, and shows it. It returns a problem to show,
// or "". The agent checks the name's form on save; here only what would
// make the screen itself ambiguous is refused.
func (s *settingsScreen) doAddProfile(name string) string {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return s.env.tr.T("settings.profile.noname")
	case s.profileIndex(name) >= 0:
		return s.env.tr.T("settings.profile.exists", map[string]any{"Name": name})
	}
	p := s.st.Profiles[s.cur]
	p.Name = name
	p.Block = slices.Clone(p.Block)
	p.Allow, p.Deny = nil, nil
	p.Hours = maps.Clone(p.Hours)
	s.st.Profiles = append(s.st.Profiles, p)
	s.profilesChanged()
	s.show(len(s.st.Profiles) - 1)
	return ""
}

// doDeleteProfile removes the profile shown, unless it is the last one or
// still in use: the agent would refuse a settings file whose users or
// default point at a profile that is gone.
func (s *settingsScreen) doDeleteProfile() string {
	tr := s.env.tr
	name := s.st.Profiles[s.cur].Name
	switch {
	case len(s.st.Profiles) == 1:
		return tr.T("settings.profile.last")
	case s.defaultProfile.Selected == name:
		return tr.T("settings.profile.isdefault", map[string]any{"Name": name})
	}
	for _, m := range []map[string]string{s.userMap(), mappingOf(s.lan)} {
		for _, who := range slices.Sorted(maps.Keys(m)) {
			if m[who] == name {
				return tr.T("settings.profile.inuse", map[string]any{"Name": name, "User": who})
			}
		}
	}
	s.st.Profiles = slices.Delete(s.st.Profiles, s.cur, s.cur+1)
	s.fieldErrs = map[int]map[string]string{} // indices moved
	s.profilesChanged()
	s.show(0)
	return ""
}

// profilesChanged refreshes every list of profile names on the screen.
func (s *settingsScreen) profilesChanged() {
	names := s.profileNames()
	s.profile.SetOptions(names)
	s.defaultProfile.SetOptions(names)
	for _, o := range append(slices.Clone(s.users.Objects), s.lan.Objects...) {
		grid := o.(*fyne.Container).Objects[0].(*fyne.Container)
		grid.Objects[1].(*widget.Select).SetOptions(names)
	}
	s.save.Enable()
}

func (s *settingsScreen) profileNames() []string {
	names := make([]string, len(s.st.Profiles))
	for i, p := range s.st.Profiles {
		names[i] = p.Name
	}
	return names
}

func (s *settingsScreen) profileIndex(name string) int {
	return slices.IndexFunc(s.st.Profiles, func(p client.Profile) bool { return p.Name == name })
}

// addUserRow adds an "OS account → profile" row.
func (s *settingsScreen) addUserRow(user, profile string) {
	s.addMappingRow(s.users, "settings.users.name", user, profile)
}

// addLANRow adds a "LAN network → profile" row: a lab's or café's PCs
// that use this machine's proxy.
func (s *settingsScreen) addLANRow(network, profile string) {
	s.addMappingRow(s.lan, "settings.lan.network", network, profile)
}

// addMappingRow adds a "name → profile" row to box. The maps are rebuilt
// from the rows on save, so a half-typed row never reaches the agent's copy.
func (s *settingsScreen) addMappingRow(box *fyne.Container, placeholderKey, key, profile string) {
	name := widget.NewEntry()
	name.SetPlaceHolder(s.env.tr.T(placeholderKey))
	name.SetText(key)
	prof := widget.NewSelect(s.profileNames(), nil)
	prof.SetSelected(profile)
	var row *fyne.Container
	remove := widget.NewButton(s.env.tr.T("button.remove"), func() {
		box.Remove(row)
	})
	row = container.NewBorder(nil, nil, nil, remove, container.NewGridWithColumns(2, name, prof))
	box.Add(row)
}

// userMap reads the account rows; rows with no name are ignored.
func (s *settingsScreen) userMap() map[string]string { return mappingOf(s.users) }

// mappingOf reads a box of mapping rows; rows with no name are ignored.
func mappingOf(box *fyne.Container) map[string]string {
	m := map[string]string{}
	for _, o := range box.Objects {
		row := o.(*fyne.Container)
		grid := row.Objects[0].(*fyne.Container)
		name := strings.TrimSpace(grid.Objects[0].(*widget.Entry).Text)
		prof := grid.Objects[1].(*widget.Select).Selected
		if name != "" {
			m[name] = prof
		}
	}
	return m
}

// badNetwork is the first LAN network that is not CIDR, or "".
func badNetwork(m map[string]string) string {
	for _, n := range slices.Sorted(maps.Keys(m)) {
		if _, err := netip.ParsePrefix(n); err != nil {
			return n
		}
	}
	return ""
}

func (s *settingsScreen) doSave() {
	tr := s.env.tr
	// Local check first: a list with a bad line would only come back from
	// the agent with the same complaint.
	if line, key := firstListError(s.allow.Text); key != "" {
		s.setErr(fieldAllow, tr.T("list.line", map[string]any{"Line": line, "Problem": tr.T(key)}))
		return
	}
	if line, key := firstListError(s.deny.Text); key != "" {
		s.setErr(fieldDeny, tr.T("list.line", map[string]any{"Line": line, "Problem": tr.T(key)}))
		return
	}
	lan := mappingOf(s.lan)
	if n := badNetwork(lan); n != "" {
		s.setErr(fieldUsers, tr.T("settings.lan.bad", map[string]any{"Network": n}))
		return
	}
	s.st.Users = s.userMap()
	s.st.LANProfiles = lan
	if len(lan) == 0 {
		s.st.LANProfiles = nil
	}
	st := s.st
	s.save.Disable()
	s.saved.SetText("")
	call(s.env, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.env.client.SaveSettings(ctx, s.password, st)
	}, func(_ struct{}, err error) {
		s.save.Enable()
		s.fieldErrs = map[int]map[string]string{}
		for f := range s.errs {
			s.setErr(f, "")
		}
		probs := settingsProblems(err)
		switch {
		case err == nil:
			s.saved.SetText(tr.T("settings.saved"))
		case probs != nil:
			general := []string{tr.T("settings.invalid")}
			var users []string
			for _, p := range probs {
				switch {
				case p.Field == fieldGeneral:
					general = append(general, p.Message)
				case p.Profile < 0:
					users = append(users, p.Message)
				default:
					if s.fieldErrs[p.Profile] == nil {
						s.fieldErrs[p.Profile] = map[string]string{}
					}
					s.fieldErrs[p.Profile][p.Field] = strings.TrimPrefix(s.fieldErrs[p.Profile][p.Field]+"\n"+p.Message, "\n")
				}
			}
			s.setErr(fieldUsers, strings.Join(users, "\n"))
			s.setErr(fieldGeneral, strings.Join(general, "\n"))
			s.show(s.cur)
		default:
			s.setErr(fieldGeneral, agentError(tr, err))
		}
	})
}

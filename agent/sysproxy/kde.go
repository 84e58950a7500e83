package sysproxy

import "strings"

// KDE reads kioslaverc; the system-wide file in /etc/xdg supplies defaults
// and a group marked [$i] is immutable: users' own kioslaverc cannot
// override it.
const kdeFile = "etc/xdg/kioslaverc"

// ApplyKDE sets KDE's proxy to the PAC (ProxyType 2) in an immutable
// group, replacing any [Proxy Settings] group in the system file.
func ApplyKDE(root string, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	text, err := readFile(root, kdeFile)
	if err != nil {
		return err
	}
	text = dropGroup(text, "[Proxy Settings]")
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if text != "" && !strings.HasSuffix(text, "\n\n") {
		text += "\n"
	}
	text += "[Proxy Settings][$i]\n" + marker + "\nProxyType=2\nProxy Config Script=" + t.PAC + "\n"
	return writeFile(root, kdeFile, []byte(text))
}

// RemoveKDE drops the group if GreenGate wrote it.
func RemoveKDE(root string) error {
	text, err := readFile(root, kdeFile)
	if err != nil || text == "" || !(strings.Contains(text, marker) || strings.Contains(text, oldMarker)) {
		return err
	}
	rest := strings.TrimRight(dropGroup(text, "[Proxy Settings]"), "\n")
	if strings.TrimSpace(rest) == "" {
		// Nothing but GreenGate's group: the file was ours (KDE has no
		// system kioslaverc by default), so removing leaves none.
		return removeOwned(root, kdeFile)
	}
	return writeFile(root, kdeFile, []byte(rest+"\n"))
}

// dropGroup removes every group whose header starts with name (with any
// [$i]-style flags), header and keys, up to the next group.
func dropGroup(text, name string) string {
	var out []string
	skip := false
	for _, l := range strings.SplitAfter(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			skip = strings.HasPrefix(t, name)
		}
		if !skip && l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

package sysproxy

import (
	"encoding/json"
	"strings"
)

// Windows: make WinINET settings per-machine (only administrators can
// change them; they apply to every user, including a new child account),
// point them at the PAC, lock the Control Panel page, give WinHTTP the
// proxy for services, set Edge's and Chrome's ProxySettings policy, and
// Firefox's Proxy policy, locked (Firefox has its own proxy settings: a
// user could switch it to "No proxy"). The registry form of the Firefox
// policy is the one Mozilla's ADMX templates write, read by every
// Firefox since 60 wherever it is installed, unlike
// distribution\policies.json beside one firefox.exe.
const (
	winPolicies = `HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings`
	winInet     = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings`
	winIEPanel  = `HKLM\SOFTWARE\Policies\Microsoft\Internet Explorer\Control Panel`
	winEdge     = `HKLM\SOFTWARE\Policies\Microsoft\Edge`
	winChrome   = `HKLM\SOFTWARE\Policies\Google\Chrome`
	winFirefox  = `HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy`
	// WinHTTP's proxy (netsh winhttp) is this binary value.
	winHTTPKey   = `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`
	winHTTPValue = "WinHttpSettings"
)

// WindowsCommands are the command lines (run elevated, in order) that
// apply t on Windows.
func WindowsCommands(t Target) ([][]string, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	ps, _ := json.Marshal(map[string]any{"ProxyMode": "pac_script", "ProxyPacUrl": t.PAC, "ProxyPacMandatory": true})
	return [][]string{
		{"reg", "add", winPolicies, "/v", "ProxySettingsPerUser", "/t", "REG_DWORD", "/d", "0", "/f"},
		{"reg", "add", winInet, "/v", "AutoConfigURL", "/t", "REG_SZ", "/d", t.PAC, "/f"},
		{"reg", "add", winIEPanel, "/v", "Proxy", "/t", "REG_DWORD", "/d", "1", "/f"},
		{"reg", "add", winIEPanel, "/v", "AutoConfig", "/t", "REG_DWORD", "/d", "1", "/f"},
		{"netsh", "winhttp", "set", "proxy", "proxy-server=" + t.Proxy, "bypass-list=<local>"},
		{"reg", "add", winEdge, "/v", "ProxySettings", "/t", "REG_SZ", "/d", string(ps), "/f"},
		{"reg", "add", winEdge, "/v", "QuicAllowed", "/t", "REG_DWORD", "/d", "0", "/f"},
		{"reg", "add", winChrome, "/v", "ProxySettings", "/t", "REG_SZ", "/d", string(ps), "/f"},
		{"reg", "add", winChrome, "/v", "QuicAllowed", "/t", "REG_DWORD", "/d", "0", "/f"},
		{"reg", "add", winFirefox, "/v", "Mode", "/t", "REG_SZ", "/d", "autoConfig", "/f"},
		{"reg", "add", winFirefox, "/v", "AutoConfigURL", "/t", "REG_SZ", "/d", t.PAC, "/f"},
		{"reg", "add", winFirefox, "/v", "Locked", "/t", "REG_DWORD", "/d", "1", "/f"},
	}, nil
}

// WindowsRemoveCommands undo WindowsCommands. "reg delete" of a value
// that is not there fails; the caller ignores those failures.
func WindowsRemoveCommands() [][]string {
	return [][]string{
		{"reg", "delete", winPolicies, "/v", "ProxySettingsPerUser", "/f"},
		{"reg", "delete", winInet, "/v", "AutoConfigURL", "/f"},
		{"reg", "delete", winIEPanel, "/v", "Proxy", "/f"},
		{"reg", "delete", winIEPanel, "/v", "AutoConfig", "/f"},
		{"netsh", "winhttp", "reset", "proxy"},
		{"reg", "delete", winEdge, "/v", "ProxySettings", "/f"},
		{"reg", "delete", winEdge, "/v", "QuicAllowed", "/f"},
		{"reg", "delete", winChrome, "/v", "ProxySettings", "/f"},
		{"reg", "delete", winChrome, "/v", "QuicAllowed", "/f"},
		{"reg", "delete", winFirefox, "/v", "Mode", "/f"},
		{"reg", "delete", winFirefox, "/v", "AutoConfigURL", "/f"},
		{"reg", "delete", winFirefox, "/v", "Locked", "/f"},
	}
}

// RegValue names one registry value: Key is a full path from HKLM\.
type RegValue struct{ Key, Name string }

// WindowsOverwrittenValues are the values WindowsCommands set (WinHTTP's
// through netsh), so Apply can keep what was there before and Remove
// put it back: a school's own PAC or WinHTTP proxy survives an
// install and uninstall of GreenGate.
func WindowsOverwrittenValues() []RegValue {
	var out []RegValue
	for _, c := range WindowsRemoveCommands() {
		if c[0] == "reg" && c[1] == "delete" {
			out = append(out, RegValue{Key: c[2], Name: c[4]})
		}
	}
	return append(out, RegValue{Key: winHTTPKey, Name: winHTTPValue})
}

// MacServices parses `networksetup -listallnetworkservices`: the first
// line is a note, a leading '*' marks a disabled service (set it anyway:
// it may be enabled later).
func MacServices(out string) []string {
	var s []string
	for i, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*"))
		if i == 0 && strings.Contains(l, "asterisk") || l == "" {
			continue
		}
		s = append(s, l)
	}
	return s
}

// MacCommands are the command lines (run as root) that apply t to every
// network service on macOS. New services (a USB adapter) need them again;
// the agent re-applies at start.
func MacCommands(services []string, t Target) ([][]string, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	var out [][]string
	for _, s := range services {
		out = append(out,
			[]string{"networksetup", "-setautoproxyurl", s, t.PAC},
			[]string{"networksetup", "-setautoproxystate", s, "on"},
		)
	}
	return out, nil
}

// MacRemoveCommands turn the PAC off on every service.
func MacRemoveCommands(services []string) [][]string {
	var out [][]string
	for _, s := range services {
		out = append(out, []string{"networksetup", "-setautoproxystate", s, "off"})
	}
	return out
}

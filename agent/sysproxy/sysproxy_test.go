package sysproxy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/greengate/greengate/agent/sysproxy"
)

func TestPACNamesOnlyTheProxy(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"127.0.0.1:8899", "PROXY 127.0.0.1:8899"},
		{"[::1]:3128", "PROXY [::1]:3128"},
		{"gate.school.example:8080", "PROXY gate.school.example:8080"},
		{"", "PROXY 127.0.0.1:9"},
		{"127.0.0.1", "PROXY 127.0.0.1:9"},
		{`x"; return "DIRECT"; //:80`, "PROXY 127.0.0.1:9"},
		{"127.0.0.1:0", "PROXY 127.0.0.1:9"},
		{"127.0.0.1:08899", "PROXY 127.0.0.1:9"},
		{"Gate.Example:80", "PROXY 127.0.0.1:9"}, // not in normal form: refused, not guessed
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			p := sysproxy.PAC(tt.in)
			if !strings.Contains(p, `return "`+tt.want+`";`) || strings.Count(p, "PROXY") != 1 {
				t.Fatalf("PAC(%q):\n%s", tt.in, p)
			}
		})
	}
	if got := sysproxy.PACFor("0.0.0.0:8899", "192.168.1.10:8899"); !strings.Contains(got, "PROXY 192.168.1.10:8899") {
		t.Fatalf("LAN PAC:\n%s", got)
	}
	if got := sysproxy.PACFor("127.0.0.1:8899", "evil.example"); !strings.Contains(got, "PROXY 127.0.0.1:8899") {
		t.Fatalf("loopback PAC follows the Host header:\n%s", got)
	}
}

// pacHelpers are the PAC runtime functions the script uses, as browsers
// define them.
const pacHelpers = `
function isPlainHostName(h) { return h.indexOf(".") < 0 && h.indexOf(":") < 0; }
function shExpMatch(s, p) { return new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$").test(s); }
`

// TestPACRunsInNode evaluates the script with a real JavaScript engine.
func TestPACRunsInNode(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; the PAC is checked as text only")
	}
	script := pacHelpers + sysproxy.PAC("127.0.0.1:8899") + `
for (const [u, h] of [["https://pornhub.com/", "pornhub.com"], ["http://printer/", "printer"],
                      ["http://127.0.0.1:631/", "127.0.0.1"], ["https://localhost/", "localhost"],
                      ["https://192.168.1.1/", "192.168.1.1"]]) {
  console.log(h + " " + FindProxyForURL(u, h));
}`
	out, err := exec.Command(node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	want := "pornhub.com PROXY 127.0.0.1:8899\nprinter DIRECT\n127.0.0.1 DIRECT\nlocalhost DIRECT\n192.168.1.1 PROXY 127.0.0.1:8899\n"
	if string(out) != want {
		t.Fatalf("node says\n%s\nwant\n%s", out, want)
	}
}

func FuzzPAC(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8899", "[::1]:1", "a.example:80", `"`, "x:1\n", "[fe80::1%eth0]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		p := sysproxy.PAC(addr)
		i := strings.Index(p, `return "PROXY `)
		if i < 0 || strings.Count(p, "PROXY") != 1 {
			t.Fatalf("PAC(%q) has no single PROXY line:\n%s", addr, p)
		}
		rest := p[i+len(`return "PROXY `):]
		named := rest[:strings.IndexByte(rest, '"')]
		if strings.ContainsAny(named, "\"'\\\n\r ;") {
			t.Fatalf("PAC(%q) names %q", addr, named)
		}
		if !strings.HasSuffix(p, "\";\n}\n") || len(p) > 1024 {
			t.Fatalf("PAC(%q) shape changed:\n%s", addr, p)
		}
		if named != "127.0.0.1:9" && named != addr {
			t.Fatalf("PAC(%q) names %q: rewritten instead of refused", addr, named)
		}
	})
}

func write(t *testing.T, root, path, text string) {
	t.Helper()
	p := filepath.Join(root, path)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, root, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func TestLinuxStepsOnATempRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	// What a machine already has: others' settings that must survive.
	before := map[string]string{
		"etc/environment":                    "LANG=en_GB.UTF-8\nPATH=\"/usr/local/bin:/usr/bin\"\n",
		"etc/xdg/kioslaverc":                 "[General]\nfoo=bar\n\n[Proxy Settings]\nProxyType=0\n\n[Cache]\nsize=10\n",
		"etc/firefox/policies/policies.json": `{"policies": {"DisableTelemetry": true}}`,
		"etc/dconf/profile/user":             "user-db:user\n",
	}
	for p, s := range before {
		write(t, root, p, s)
	}
	tg, err := sysproxy.NewTarget("127.0.0.1:8899")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sysproxy.LinuxSteps() {
		if err := s.Apply(root, tg); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	snapshot := func() map[string]string {
		m := map[string]string{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				m[rel] = read(t, root, rel)
			}
			return nil
		})
		return m
	}
	applied := snapshot()
	checks := map[string][]string{
		"etc/dconf/db/local.d/00-greengate-proxy":        {"[system/proxy]\nmode='auto'\nautoconfig-url='http://127.0.0.1:8899/proxy.pac'\n"},
		"etc/dconf/db/local.d/locks/greengate-proxy":     {"/system/proxy/mode\n", "/system/proxy/autoconfig-url\n"},
		"etc/dconf/profile/user":                         {"user-db:user\nsystem-db:local\n"},
		"etc/xdg/kioslaverc":                             {"[General]\nfoo=bar\n", "[Cache]\nsize=10\n", "[Proxy Settings][$i]\n", "ProxyType=2\nProxy Config Script=http://127.0.0.1:8899/proxy.pac\n"},
		"etc/environment":                                {"LANG=en_GB.UTF-8\n", "https_proxy=http://127.0.0.1:8899\n", "no_proxy=localhost,127.0.0.1,::1\n", "`greengate service proxy-off` undoes this"},
		"etc/opt/chrome/policies/managed/greengate.json": {`"ProxyMode": "pac_script"`, `"ProxyPacMandatory": true`},
		"etc/chromium/policies/managed/greengate.json":   {`"ProxyPacUrl": "http://127.0.0.1:8899/proxy.pac"`},
	}
	for p, wants := range checks {
		for _, w := range wants {
			if !strings.Contains(applied[p], w) {
				t.Errorf("%s lacks %q:\n%s", p, w, applied[p])
			}
		}
	}
	if strings.Count(applied["etc/xdg/kioslaverc"], "[Proxy Settings]") != 1 {
		t.Errorf("the user's proxy group was not replaced:\n%s", applied["etc/xdg/kioslaverc"])
	}
	var ff struct{ Policies map[string]any }
	if err := json.Unmarshal([]byte(applied["etc/firefox/policies/policies.json"]), &ff); err != nil ||
		ff.Policies["DisableTelemetry"] != true || ff.Policies["Proxy"].(map[string]any)["Locked"] != true {
		t.Errorf("Firefox policies: %v %s", err, applied["etc/firefox/policies/policies.json"])
	}
	// Applying again changes nothing.
	for _, s := range sysproxy.LinuxSteps() {
		if err := s.Apply(root, tg); err != nil {
			t.Fatal(err)
		}
	}
	again := snapshot()
	for p, s := range applied {
		if again[p] != s {
			t.Errorf("second Apply changed %s:\n%s\n---\n%s", p, s, again[p])
		}
	}
	// Removing leaves the others' settings (KDE's old proxy group is gone:
	// it was replaced, and KDE then falls back to no proxy).
	for _, s := range sysproxy.LinuxSteps() {
		if err := s.Remove(root); err != nil {
			t.Fatalf("remove %s: %v", s.Name, err)
		}
	}
	after := snapshot()
	if after["etc/environment"] != before["etc/environment"] {
		t.Errorf("/etc/environment not restored:\n%q", after["etc/environment"])
	}
	if k := after["etc/xdg/kioslaverc"]; strings.Contains(k, "Proxy") || !strings.Contains(k, "[Cache]\nsize=10") {
		t.Errorf("kioslaverc after remove:\n%s", k)
	}
	if f := after["etc/firefox/policies/policies.json"]; strings.Contains(f, "Proxy") || !strings.Contains(f, "DisableTelemetry") {
		t.Errorf("Firefox policies after remove:\n%s", f)
	}
	for _, gone := range []string{"etc/dconf/db/local.d/00-greengate-proxy", "etc/chromium/policies/managed/greengate.json"} {
		if _, ok := after[gone]; ok {
			t.Errorf("%s left after remove", gone)
		}
	}
}

func TestStepsRefuseHostileTargets(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	bad := []sysproxy.Target{
		{Proxy: "127.0.0.1:8899", PAC: "http://127.0.0.1:8899/proxy.pac'\n[evil]"},
		{Proxy: "127.0.0.1:8899", PAC: "file:///etc/passwd"},
		{Proxy: "127.0.0.1:8899\nX=1", PAC: "http://127.0.0.1:8899/proxy.pac"},
	}
	for _, tg := range bad {
		for _, s := range sysproxy.LinuxSteps() {
			if err := s.Apply(root, tg); err == nil {
				t.Errorf("%s accepted %+v", s.Name, tg)
			}
		}
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("refused targets wrote files: %v", ents)
	}
	if _, err := sysproxy.NewTarget("0.0.0.0"); err == nil {
		t.Fatal("NewTarget without a port accepted")
	}
}

func TestWindowsCommands(t *testing.T) {
	t.Parallel()
	tg, _ := sysproxy.NewTarget("127.0.0.1:8899")
	cmds, err := sysproxy.WindowsCommands(tg)
	if err != nil {
		t.Fatal(err)
	}
	joined := make([]string, len(cmds))
	for i, c := range cmds {
		joined[i] = strings.Join(c, " ")
	}
	for _, want := range []string{
		`reg add HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings /v ProxySettingsPerUser /t REG_DWORD /d 0 /f`,
		`reg add HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings /v AutoConfigURL /t REG_SZ /d http://127.0.0.1:8899/proxy.pac /f`,
		`netsh winhttp set proxy proxy-server=127.0.0.1:8899 bypass-list=<local>`,
		`reg add HKLM\SOFTWARE\Policies\Microsoft\Edge /v ProxySettings /t REG_SZ /d {"ProxyMode":"pac_script","ProxyPacMandatory":true,"ProxyPacUrl":"http://127.0.0.1:8899/proxy.pac"} /f`,
	} {
		if !slices.Contains(joined, want) {
			t.Errorf("missing command:\n%s\nhave:\n%s", want, strings.Join(joined, "\n"))
		}
	}
	if len(sysproxy.WindowsRemoveCommands()) != len(cmds) {
		t.Error("every command needs its undo")
	}
	// Firefox keeps its own proxy settings: the policy sets and locks them.
	for _, want := range []string{
		`reg add HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy /v Mode /t REG_SZ /d autoConfig /f`,
		`reg add HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy /v AutoConfigURL /t REG_SZ /d http://127.0.0.1:8899/proxy.pac /f`,
		`reg add HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy /v Locked /t REG_DWORD /d 1 /f`,
	} {
		if !slices.Contains(joined, want) {
			t.Errorf("missing command:\n%s", want)
		}
	}
	// Every value a command sets is saved before and restored after.
	saved := sysproxy.WindowsOverwrittenValues()
	for _, c := range cmds {
		if c[0] != "reg" {
			continue
		}
		if !slices.Contains(saved, sysproxy.RegValue{Key: c[2], Name: c[4]}) {
			t.Errorf("%s\\%s is overwritten but not saved", c[2], c[4])
		}
	}
	winhttp := sysproxy.RegValue{Key: `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections`, Name: "WinHttpSettings"}
	if !slices.Contains(saved, winhttp) {
		t.Error("netsh winhttp's value is not saved")
	}
}

func TestMacCommands(t *testing.T) {
	t.Parallel()
	out := "An asterisk (*) denotes that a network service is disabled.\nWi-Fi\n*Thunderbolt Bridge\nUSB 10/100/1000 LAN\n\n"
	svcs := sysproxy.MacServices(out)
	if !slices.Equal(svcs, []string{"Wi-Fi", "Thunderbolt Bridge", "USB 10/100/1000 LAN"}) {
		t.Fatalf("services %q", svcs)
	}
	tg, _ := sysproxy.NewTarget("127.0.0.1:8899")
	cmds, err := sysproxy.MacCommands(svcs, tg)
	if err != nil || len(cmds) != 6 {
		t.Fatalf("%v %v", cmds, err)
	}
	if got := cmds[4]; !slices.Equal(got, []string{"networksetup", "-setautoproxyurl", "USB 10/100/1000 LAN", "http://127.0.0.1:8899/proxy.pac"}) {
		t.Fatalf("command %q", got)
	}
	if got := sysproxy.MacRemoveCommands(svcs)[0]; !slices.Equal(got, []string{"networksetup", "-setautoproxystate", "Wi-Fi", "off"}) {
		t.Fatalf("remove %q", got)
	}
}

// KDE's group is removed only when GreenGate's marker is in the file;
// versions before the marker was fixed wrote one naming a command that
// never existed, and their group must still go.
func TestRemoveKDEWithTheOldMarker(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write(t, root, "etc/xdg/kioslaverc", "[General]\nfoo=bar\n\n[Proxy Settings][$i]\n"+
		"# managed by GreenGate; `greengate proxy remove` undoes this\nProxyType=2\nProxy Config Script=http://127.0.0.1:8899/proxy.pac\n")
	if err := sysproxy.RemoveKDE(root); err != nil {
		t.Fatal(err)
	}
	if k := read(t, root, "etc/xdg/kioslaverc"); k != "[General]\nfoo=bar\n" {
		t.Errorf("kioslaverc after remove:\n%q", k)
	}
}

// On a machine that had neither a dconf profile nor a system kioslaverc,
// Remove leaves neither: a package's removal puts /etc back as it was.
func TestRemoveLeavesNoFileItMade(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tg, err := sysproxy.NewTarget("127.0.0.1:8899")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sysproxy.LinuxSteps() {
		if err := s.Apply(root, tg); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	if p := read(t, root, "etc/dconf/profile/user"); !strings.HasSuffix(p, "\nuser-db:user\nsystem-db:local\n") {
		t.Errorf("made profile:\n%s", p)
	}
	for _, s := range sysproxy.LinuxSteps() {
		if err := s.Remove(root); err != nil {
			t.Fatalf("remove %s: %v", s.Name, err)
		}
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if rel != "etc/environment" { // Debian ships it, empty
				t.Errorf("%s left after remove", rel)
			}
		}
		return nil
	})
}

package sysproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Target is where browsers are sent.
type Target struct {
	Proxy string // "127.0.0.1:8899"
	PAC   string // "http://127.0.0.1:8899/proxy.pac"
}

// NewTarget is the Target for a proxy at proxyAddr serving its own PAC.
func NewTarget(proxyAddr string) (Target, error) {
	addr, ok := cleanAddr(proxyAddr)
	if !ok {
		return Target{}, fmt.Errorf("proxy address %q: want host:port", proxyAddr)
	}
	return Target{Proxy: addr, PAC: "http://" + addr + PACPath}, nil
}

func (t Target) check() error {
	if a, ok := cleanAddr(t.Proxy); !ok || a != t.Proxy {
		return fmt.Errorf("proxy address %q: want host:port", t.Proxy)
	}
	return checkURL(t.PAC)
}

// Step is one way a Linux machine is told about the proxy.
type Step struct {
	Name   string
	Apply  func(root string, t Target) error
	Remove func(root string) error
	// After are commands to run once the files are written or removed on
	// a real system (not on a test root), e.g. "dconf update".
	After [][]string
}

// LinuxSteps are the Linux steps, in the order to apply them.
func LinuxSteps() []Step {
	return []Step{
		{Name: "gnome-dconf", Apply: ApplyGNOME, Remove: RemoveGNOME, After: [][]string{{"dconf", "update"}}},
		{Name: "kde-kioslaverc", Apply: ApplyKDE, Remove: RemoveKDE},
		{Name: "etc-environment", Apply: ApplyEnvironment, Remove: RemoveEnvironment},
		{Name: "firefox-policy", Apply: ApplyFirefox, Remove: RemoveFirefox},
		{Name: "chromium-policy", Apply: ApplyChromium, Remove: RemoveChromium},
	}
}

// marker starts every line or block GreenGate owns in a shared file. It
// names the command that really undoes it (removing the package does too).
const marker = "# managed by GreenGate; `greengate service proxy-off` undoes this"

// oldMarker is what versions before the fix wrote: it named a command that
// never existed. Remove steps still recognise it.
const oldMarker = "# managed by GreenGate; `greengate proxy remove` undoes this"

// writeFile writes an owned file (0644: browsers and sessions read it as
// the user) atomically, making its directory.
func writeFile(root, path string, b []byte) error {
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("making %s: %w", filepath.Dir(p), err)
	}
	tmp := p + ".greengate-tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// writeFiles writes the same owned content to each of paths (Chromium
// and Chrome read the same policy from two directories).
func writeFiles(root string, paths []string, b []byte) error {
	for _, p := range paths {
		if err := writeFile(root, p, b); err != nil {
			return err
		}
	}
	return nil
}

// removeFiles removes each of paths, as removeOwned does one.
func removeFiles(root string, paths []string) error {
	for _, p := range paths {
		if err := removeOwned(root, p); err != nil {
			return err
		}
	}
	return nil
}

// readFile reads a file that may not exist ("" then).
func readFile(root, path string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, path))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return string(b), nil
}

// removeOwned removes a file GreenGate wrote; a missing one is fine.
func removeOwned(root, path string) error {
	err := os.Remove(filepath.Join(root, path))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// replaceBlock puts block between BEGIN/END markers in text, replacing an
// earlier one; an empty block removes it. Lines outside are kept as they
// are.
func replaceBlock(text, block string) string {
	const begin, end = "# BEGIN GreenGate", "# END GreenGate"
	var out []string
	in := false
	for _, l := range strings.SplitAfter(text, "\n") {
		switch strings.TrimSpace(l) {
		case begin:
			in = true
			continue
		case end:
			if in {
				in = false
				continue
			}
		}
		if !in && l != "" {
			out = append(out, l)
		}
	}
	s := strings.Join(out, "")
	if block == "" {
		return s
	}
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s + begin + "\n" + marker + "\n" + block + end + "\n"
}

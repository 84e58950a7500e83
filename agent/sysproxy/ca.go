package sysproxy

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// The local CA (package localca) is trusted where each browser looks, and
// nowhere else. Measured on Debian 12 (shared notes, https-ca.md):
// Chromium ignores the system store for a fresh profile and takes the
// CACertificates managed policy; curl, wget, Go and Python read the
// system store; Firefox takes Certificates.Install in its policies.json.
const (
	caStoreFile = "usr/local/share/ca-certificates/greengate-local-ca.crt"
	caName      = "GreenGate block pages" // the CA's common name starts so
)

var chromiumCAFiles = []string{
	"etc/chromium/policies/managed/greengate-ca.json",
	"etc/opt/chrome/policies/managed/greengate-ca.json",
}

// CASteps are the Linux steps that make the machine trust the CA whose
// PEM certificate they are given, in the order to apply them. After
// commands run on a real system only.
func CASteps() []CAStep {
	return []CAStep{
		{Name: "system-store", Apply: applyCAStore, Remove: func(root string) error { return removeOwned(root, caStoreFile) },
			After: [][]string{{"update-ca-certificates", "--fresh"}}},
		{Name: "chromium-policy", Apply: applyCAChromium, Remove: removeCAChromium},
		{Name: "firefox-policy", Apply: applyCAFirefox, Remove: removeCAFirefox},
	}
}

// CAStep is one place a Linux machine is told to trust the CA.
type CAStep struct {
	Name   string
	Apply  func(root string, certPEM []byte) error
	Remove func(root string) error
	After  [][]string
}

func certDER(certPEM []byte) ([]byte, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("the local CA certificate is not PEM")
	}
	return b.Bytes, nil
}

func applyCAStore(root string, certPEM []byte) error {
	if _, err := certDER(certPEM); err != nil {
		return err
	}
	return writeFile(root, caStoreFile, certPEM)
}

func applyCAChromium(root string, certPEM []byte) error {
	der, err := certDER(certPEM)
	if err != nil {
		return err
	}
	b := fmt.Appendf(nil, "{\n  \"CACertificates\": [%q]\n}\n", base64.StdEncoding.EncodeToString(der))
	return writeFiles(root, chromiumCAFiles, b)
}

func removeCAChromium(root string) error { return removeFiles(root, chromiumCAFiles) }

// applyCAFirefox adds the store file to Certificates.Install, keeping
// every other policy and certificate in the file.
func applyCAFirefox(root string, certPEM []byte) error {
	if _, err := certDER(certPEM); err != nil {
		return err
	}
	doc, err := readPolicies(root)
	if err != nil {
		return err
	}
	certs, _ := doc["Certificates"].(map[string]any)
	if certs == nil {
		certs = map[string]any{}
	}
	install, _ := certs["Install"].([]any)
	if !slices.Contains(install, any("/"+caStoreFile)) {
		install = append(install, "/"+caStoreFile)
	}
	certs["Install"] = install
	doc["Certificates"] = certs
	return writePolicies(root, doc)
}

func removeCAFirefox(root string) error {
	text, err := readFile(root, firefoxFile)
	if err != nil || text == "" {
		return err
	}
	doc, err := readPolicies(root)
	if err != nil {
		return err
	}
	certs, _ := doc["Certificates"].(map[string]any)
	if certs == nil {
		return nil
	}
	install, _ := certs["Install"].([]any)
	install = slices.DeleteFunc(install, func(v any) bool { return v == "/"+caStoreFile })
	if len(install) == 0 {
		delete(certs, "Install")
	} else {
		certs["Install"] = install
	}
	if len(certs) == 0 {
		delete(doc, "Certificates")
	}
	if len(doc) == 0 {
		return removeOwned(root, firefoxFile)
	}
	return writePolicies(root, doc)
}

// WindowsCACommands trust the CA certificate at certPath machine-wide
// (the Root store Edge, Chrome and, with ImportEnterpriseRoots, Firefox
// read); run elevated.
func WindowsCACommands(certPath string) [][]string {
	return [][]string{
		{"certutil", "-addstore", "-f", "Root", certPath},
		{"reg", "add", `HKLM\SOFTWARE\Policies\Mozilla\Firefox\Certificates`, "/v", "ImportEnterpriseRoots", "/t", "REG_DWORD", "/d", "1", "/f"},
	}
}

// WindowsCARemoveCommands undo WindowsCACommands: every certificate whose
// name is GreenGate's local CA's leaves the Root store.
func WindowsCARemoveCommands() [][]string {
	return [][]string{
		{"certutil", "-delstore", "Root", caName},
		{"reg", "delete", `HKLM\SOFTWARE\Policies\Mozilla\Firefox\Certificates`, "/v", "ImportEnterpriseRoots", "/f"},
	}
}

// MacCACommands trust the CA in the System keychain; run as root.
func MacCACommands(certPath string) [][]string {
	return [][]string{{"security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", "/Library/Keychains/System.keychain", certPath}}
}

// MacCARemoveCommands remove it again.
func MacCARemoveCommands() [][]string {
	return [][]string{{"security", "delete-certificate", "-c", caName, "/Library/Keychains/System.keychain"}}
}

// TrustCA makes this machine's browsers and tools trust the CA whose
// certificate is certPEM (kept at certPath for the command-line stores).
func (s System) TrustCA(ctx context.Context, certPEM []byte, certPath string) error {
	switch runtime.GOOS {
	case "windows":
		return s.runAll(ctx, WindowsCACommands(certPath))
	case "darwin":
		return s.runAll(ctx, MacCACommands(certPath))
	}
	return s.eachCA(ctx, func(st CAStep) error { return st.Apply(s.root(), certPEM) })
}

// DistrustCA undoes TrustCA; what is already gone is not an error.
func (s System) DistrustCA(ctx context.Context) error {
	switch runtime.GOOS {
	case "windows":
		for _, c := range WindowsCARemoveCommands() {
			_ = s.run(ctx, c)
		}
		return nil
	case "darwin":
		for _, c := range MacCARemoveCommands() {
			_ = s.run(ctx, c)
		}
		return nil
	}
	return s.eachCA(ctx, func(st CAStep) error { return st.Remove(s.root()) })
}

func (s System) eachCA(ctx context.Context, change func(CAStep) error) error {
	var errs []error
	for _, st := range CASteps() {
		if err := change(st); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.Name, err))
			continue
		}
		if s.Root != "" && s.Root != "/" {
			continue // a test root: the system's stores are not ours to update
		}
		for _, c := range st.After {
			if err := s.run(ctx, c); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", st.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// CATrusted reports which Linux steps currently trust certPEM under root,
// for `greengate ca status`.
func CATrusted(root string, certPEM []byte) map[string]bool {
	der, err := certDER(certPEM)
	out := map[string]bool{}
	if err != nil {
		return out
	}
	store, _ := readFile(root, caStoreFile)
	out["system-store"] = store == string(certPEM)
	chromium, _ := readFile(root, chromiumCAFiles[0])
	out["chromium-policy"] = chromium != "" && strings.Contains(chromium, base64.StdEncoding.EncodeToString(der))
	if doc, err := readPolicies(root); err == nil {
		certs, _ := doc["Certificates"].(map[string]any)
		install, _ := certs["Install"].([]any)
		out["firefox-policy"] = slices.Contains(install, any("/"+caStoreFile)) && out["system-store"]
	}
	return out
}

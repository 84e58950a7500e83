package sysproxy

import (
	"encoding/json"
	"fmt"
)

// Firefox reads enterprise policies from /etc/firefox/policies/policies.json
// (Debian's firefox-esr too). The Proxy policy with Locked greys the
// settings out. The file may hold other policies: they are kept.
const firefoxFile = "etc/firefox/policies/policies.json"

// Chromium and Google Chrome read every JSON file in their managed policy
// directories; ProxySettings there overrides the user and command-line
// flags like --proxy-server and --no-proxy-server.
var chromiumFiles = []string{
	"etc/chromium/policies/managed/greengate.json",
	"etc/opt/chrome/policies/managed/greengate.json",
}

// ApplyFirefox sets and locks Firefox's Proxy policy.
func ApplyFirefox(root string, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	doc, err := readPolicies(root)
	if err != nil {
		return err
	}
	doc["Proxy"] = map[string]any{"Mode": "autoConfig", "AutoConfigURL": t.PAC, "Locked": true}
	return writePolicies(root, doc)
}

// RemoveFirefox removes the Proxy policy, keeping the others.
func RemoveFirefox(root string) error {
	text, err := readFile(root, firefoxFile)
	if err != nil || text == "" {
		return err
	}
	doc, err := readPolicies(root)
	if err != nil {
		return err
	}
	delete(doc, "Proxy")
	if len(doc) == 0 {
		return removeOwned(root, firefoxFile)
	}
	return writePolicies(root, doc)
}

func readPolicies(root string) (map[string]any, error) {
	text, err := readFile(root, firefoxFile)
	if err != nil {
		return nil, err
	}
	if text == "" {
		return map[string]any{}, nil
	}
	var f struct {
		Policies map[string]any `json:"policies"`
	}
	if err := json.Unmarshal([]byte(text), &f); err != nil {
		// Not ours to repair: refuse rather than drop someone's policies.
		return nil, fmt.Errorf("reading %s: %w", firefoxFile, err)
	}
	if f.Policies == nil {
		f.Policies = map[string]any{}
	}
	return f.Policies, nil
}

func writePolicies(root string, policies map[string]any) error {
	b, err := json.MarshalIndent(map[string]any{"policies": policies}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding Firefox policies: %w", err)
	}
	return writeFile(root, firefoxFile, append(b, '\n'))
}

// ApplyChromium writes GreenGate's managed policy for Chromium and Chrome.
func ApplyChromium(root string, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(map[string]any{
		"ProxySettings": map[string]any{"ProxyMode": "pac_script", "ProxyPacUrl": t.PAC, "ProxyPacMandatory": true},
		"QuicAllowed":   false, // QUIC would not go through the proxy
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeFiles(root, chromiumFiles, append(b, '\n'))
}

// RemoveChromium removes GreenGate's managed policy files.
func RemoveChromium(root string) error { return removeFiles(root, chromiumFiles) }

package sysproxy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/greengate/greengate/agent/localca"
	"github.com/greengate/greengate/agent/sysproxy"
)

// The CA steps on a temporary root, as the proxy steps are tested: trust
// writes each browser's place, keeps what is not GreenGate's, is
// idempotent, and distrust takes back exactly what trust added.
func TestCATrustSteps(t *testing.T) {
	t.Parallel()
	ca, err := localca.Open(localca.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ff := filepath.Join(root, "etc/firefox/policies/policies.json")
	os.MkdirAll(filepath.Dir(ff), 0o755)
	theirs := `{"policies": {"DisableTelemetry": true, "Certificates": {"Install": ["/opt/school/root.crt"]}}}`
	os.WriteFile(ff, []byte(theirs), 0o644)

	sys := sysproxy.System{Root: root, Run: func(context.Context, []string) error {
		t.Fatal("a command ran against a test root")
		return nil
	}}
	for range 2 {
		if err := sys.TrustCA(context.Background(), ca.PEM(), "unused"); err != nil {
			t.Fatal(err)
		}
	}
	for step, ok := range sysproxy.CATrusted(root, ca.PEM()) {
		if !ok {
			t.Errorf("%s does not trust the CA after TrustCA", step)
		}
	}
	var doc struct {
		Policies struct {
			DisableTelemetry bool
			Certificates     struct{ Install []string }
		} `json:"policies"`
	}
	b, _ := os.ReadFile(ff)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Policies.DisableTelemetry || len(doc.Policies.Certificates.Install) != 2 || doc.Policies.Certificates.Install[0] != "/opt/school/root.crt" {
		t.Fatalf("Firefox policies after trust: %s", b)
	}
	other, _ := localca.Open(localca.Config{Dir: t.TempDir()})
	for step, ok := range sysproxy.CATrusted(root, other.PEM()) {
		if ok {
			t.Errorf("%s claims to trust another install's CA", step)
		}
	}

	if err := sys.DistrustCA(context.Background()); err != nil {
		t.Fatal(err)
	}
	for step, ok := range sysproxy.CATrusted(root, ca.PEM()) {
		if ok {
			t.Errorf("%s still trusts the CA after DistrustCA", step)
		}
	}
	b, _ = os.ReadFile(ff)
	doc.Policies.Certificates.Install = nil
	json.Unmarshal(b, &doc)
	if !doc.Policies.DisableTelemetry || len(doc.Policies.Certificates.Install) != 1 {
		t.Fatalf("Firefox policies after distrust lost what was not ours: %s", b)
	}
	for _, f := range []string{"usr/local/share/ca-certificates/greengate-local-ca.crt", "etc/chromium/policies/managed/greengate-ca.json", "etc/opt/chrome/policies/managed/greengate-ca.json"} {
		if _, err := os.Stat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	if err := sys.TrustCA(context.Background(), []byte("not pem"), ""); err == nil {
		t.Fatal("TrustCA took something that is not a certificate")
	}
}

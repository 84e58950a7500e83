package sysproxy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/greengate/greengate/agent/sysproxy"
)

func TestSystemApplyRunsDconfUpdate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var ran []string
	sys := sysproxy.System{Root: root, Run: func(_ context.Context, c []string) error {
		ran = append(ran, strings.Join(c, " "))
		return nil
	}}
	tg, _ := sysproxy.NewTarget("127.0.0.1:8899")
	if err := sys.Apply(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, []string{"dconf update"}) {
		t.Fatalf("ran %q", ran)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/firefox/policies/policies.json")); err != nil {
		t.Fatal(err)
	}
	if err := sys.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/firefox/policies/policies.json")); !os.IsNotExist(err) {
		t.Fatalf("policy left: %v", err)
	}
}

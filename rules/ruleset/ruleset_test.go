package ruleset_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

const shared = "../../../shared/data/blocklists"

// realLists are every list in the shared folder, by category.
var realLists = []struct{ category, rel string }{
	{"adult", "bon-appetit/block.txt.gz"},
	{"adult", "sinfonietta/pornography-hosts.gz"},
	{"adult", "ut1/adult/urls"},
	{"mixed_adult", "ut1/mixed_adult/domains"},
	{"lingerie", "ut1/lingerie/domains"},
	{"gambling", "ut1/gambling/domains"},
	{"gambling", "sinfonietta/gambling-hosts"},
	{"dating", "ut1/dating/domains"},
	{"drugs", "ut1/drogue/domains"},
	{"drugs", "blocklistproject/drugs.txt"},
	{"drugs", "blocklistproject/adguard/drugs-ags.txt"},
	{"violence", "ut1/agressif/domains"},
	{"proxy", "ut1/redirector/domains.gz"},
	{"doh", "ut1/doh/domains"},
	{"phishing", "ut1/phishing/urls"},
	{"malware", "ut1/malware/urls"},
}

func loadReal(t *testing.T) *policy.Engine {
	t.Helper()
	if _, err := os.Stat(filepath.Join(shared, "lookups-sample.tsv")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI without the shared block lists: %v", err)
		}
		t.Skipf("shared block lists not available: %v", err)
	}
	var b ruleset.Builder
	var block []string
	for _, l := range realLists {
		if _, err := b.AddFile(l.category, filepath.Join(shared, l.rel)); err != nil {
			t.Fatal(err)
		}
		block = append(block, l.category)
	}
	cats, safe := b.Build()
	e, err := policy.New(policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{{Name: "all", Block: block}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every row of the labelled sample comes out as labelled with all the
// real lists loaded: 2,000 adult hosts blocked as adult, 2,000 well-known
// hosts allowed.
func TestLookupsSample(t *testing.T) {
	t.Parallel()
	e := loadReal(t)
	f, err := os.Open(filepath.Join(shared, "lookups-sample.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	rows, wrong := 0, 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 3 {
			t.Fatalf("bad row %q", sc.Text())
		}
		host, err := hostname.NormalizeRequest(cols[0])
		if err != nil {
			t.Fatalf("%s: %v", cols[0], err)
		}
		rows++
		v := e.Decide(policy.Request{Host: host})
		switch cols[1] {
		case "block":
			if v.Action != policy.Block || v.Category != cols[2] {
				wrong++
				if wrong < 10 {
					t.Errorf("%s: %v %q (%s), want block %s", host, v.Action, v.Category, v.Entry, cols[2])
				}
			}
		case "allow":
			if v.Action != policy.Allow {
				wrong++
				if wrong < 10 {
					t.Errorf("%s: %v by %s %s, want allow", host, v.Action, v.Entry, v.Source)
				}
			}
		}
	}
	if rows != 4000 || wrong != 0 {
		t.Fatalf("%d rows, %d not as labelled", rows, wrong)
	}
}

func TestLayering(t *testing.T) {
	t.Parallel()
	var b ruleset.Builder
	if err := defaults.Load(&b); err != nil {
		t.Fatal(err)
	}
	// A school adds to the vendor's adult category and brings its own.
	if n := b.AddEntries("adult", "school/extra", []string{"extra.example", "Bad Entry"}, []string{"video.example/clip"}, []string{"ok.pornhub.com"}); n != 1 {
		t.Fatalf("rejected %d, want 1", n)
	}
	b.Category(ruleset.Meta{ID: "games", Name: policy.Text{EN: "Games", ZH: "游戏"}})
	b.AddEntries("games", "school/games", []string{"games.example"}, nil, nil)
	cats, safe := b.Build()
	e, err := policy.New(policy.Config{Categories: cats, SafeSearch: safe, Profiles: []policy.Profile{{Name: "lab", Block: []string{"adult", "games"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"www.pornhub.com":   "block adult",
		"extra.example":     "block adult",
		"ok.pornhub.com":    "allow adult",
		"x.games.example":   "block games",
		"www.wikipedia.org": "allow ",
	} {
		v := e.Decide(policy.Request{Host: host})
		if got := v.Action.String() + " " + v.Category; got != want {
			t.Errorf("%s: %s, want %s", host, got, want)
		}
	}
	if v := e.Decide(policy.Request{Host: "video.example", Path: "/clip/1"}); v.Action != policy.Block || v.Source != "school/extra:1" {
		t.Errorf("url entry: %+v", v)
	}
}

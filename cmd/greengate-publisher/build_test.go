package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/update"
	"github.com/greengate/greengate/rules/bundle"
	"github.com/greengate/greengate/rules/policy"
	"github.com/greengate/greengate/rules/ruleset"
)

const realLists = "/work/shared/data/blocklists"

// realSource names the real lists of every format the parser reads.
const realSource = `{
  "version": 1,
  "publisher": "example-school",
  "created": "2026-02-01T00:00:00Z",
  "valid_for": "720h",
  "categories": [
    {"id": "adult", "name": {"zh": "成人内容", "en": "Adult"},
     "lists": [
       {"source": "bon-appetit/block", "file": "bon-appetit/block.txt.gz"},
       {"source": "sinfonietta/pornography-hosts", "file": "sinfonietta/pornography-hosts.gz", "format": "hosts"},
       {"file": "ut1/adult/urls", "format": "urls"}
     ]},
    {"id": "gambling", "name": {"zh": "赌博", "en": "Gambling"},
     "lists": [
       {"source": "ut1/gambling/domains", "file": "ut1/gambling/domains"},
       {"source": "sinfonietta/gambling-hosts", "file": "sinfonietta/gambling-hosts"}
     ]},
    {"id": "drugs", "name": {"zh": "毒品", "en": "Drugs"},
     "lists": [{"source": "blocklistproject/drugs-ags", "file": "blocklistproject/adguard/drugs-ags.txt"}]}
  ],
  "safe_search": [{"name": "google", "hosts": ["www.google.com"], "target": "forcesafesearch.google.com", "param": "safe=active"}]
}`

func needRealLists(t testing.TB) {
	if _, err := os.Stat(filepath.Join(realLists, "lookups-sample.tsv")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI without the shared real lists: %v", err)
		}
		t.Skipf("real lists not here (%v)", err)
	}
}

// TestBuildRealLists builds and signs a bundle from the real lists through
// the CLI, then checks it the agent's way: verified, assembled, and every
// row of the labelled lookup sample decided as labelled.
func TestBuildRealLists(t *testing.T) {
	t.Parallel()
	needRealLists(t)
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	// The shared lists are read-only, so the source cannot sit next to
	// them with relative paths; TestBuildSources covers relative ones.
	in := p("real.json")
	abs := strings.ReplaceAll(realSource, `"file": "`, `"file": "`+realLists+"/")
	if err := os.WriteFile(in, []byte(abs), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, "build", "-in", in, "-key", p("signing.key"), "-cert", p("signing.cert"), "-out", p("real.bundle"), "-now", now)
	for _, want := range []string{"bon-appetit/block", "hosts", "adblock", "urls", "signed "} {
		if !strings.Contains(out, want) {
			t.Errorf("build output lacks %q:\n%s", want, out)
		}
	}

	data, err := os.ReadFile(p("real.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := readRoots([]string{p("root.pub")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := update.Verify(data, roots, "example-school", 0, mustTime(t, now))
	if err != nil {
		t.Fatal(err)
	}
	if n := b.Counts(); n.Domains < 300_000 || n.URLs < 1000 {
		t.Errorf("counts %+v: lists lost", n)
	}
	var rb ruleset.Builder
	if n := update.Assemble(&rb, []*bundle.Bundle{b}); n != 0 {
		t.Errorf("%d entries rejected on assembly", n)
	}
	cats, safe := rb.Build()
	eng, err := policy.New(policy.Config{Categories: cats, SafeSearch: safe,
		Profiles: []policy.Profile{{Name: "p", Block: []string{"adult", "gambling", "drugs"}}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(realLists, "lookups-sample.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	rows, wrong := 0, 0
	for sc.Scan() {
		host, expected, _ := strings.Cut(sc.Text(), "\t")
		expected, category, _ := strings.Cut(expected, "\t")
		v := eng.Decide(policy.Request{Host: host, Time: mustTime(t, now)})
		rows++
		if (expected == "block") != (v.Action == policy.Block) || expected == "block" && v.Category != category {
			if wrong++; wrong <= 5 {
				t.Errorf("%s: %v %s (%s), want %s %s", host, v.Action, v.Category, v.Source, expected, category)
			}
		}
	}
	if rows != 4000 || wrong != 0 {
		t.Errorf("%d rows, %d decided wrong", rows, wrong)
	}
}

func mustTime(t testing.TB, s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestBuildSources covers list files and URLs of each kind and the ways a
// build source can be wrong; a wrong one must not produce a bundle.
func TestBuildSources(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, text string) {
		if err := os.WriteFile(p(name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("domains.txt", "# a comment\nbet365.com\nWWW.PokerStars.com.\nnot a domain!\n")
	write("rules.txt", "! adblock\n||casino.example^\n@@||begambleaware.org^\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprint(zw, "0.0.0.0 hosts-from-url.example\n")
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hosts.gz":
			w.Write(gz.Bytes())
		case "/garbage":
			w.Write(bytes.Repeat([]byte("%%% not a list line %%%\n"), 50))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	source := func(lists string) string {
		return `{"version": 3, "publisher": "example-school", "created": "2026-02-01T00:00:00Z", "valid_for": "720h",
		  "categories": [{"id": "gambling", "name": {"en": "Gambling", "zh": "赌博"}, "lists": [` + lists + `]}]}`
	}
	tests := []struct {
		name    string
		lists   string
		code    int
		domains []string
		allow   []string
	}{
		{"file, relative path, skipped line", `{"file": "domains.txt"}`, exitOK, []string{"bet365.com", "www.pokerstars.com"}, nil},
		{"adblock with exception", `{"source": "mine", "file": "rules.txt"}`, exitOK, []string{"casino.example"}, []string{"begambleaware.org"}},
		{"gzip hosts from a URL", `{"url": "` + srv.URL + `/hosts.gz"}`, exitOK, []string{"hosts-from-url.example"}, nil},
		{"inline", `{"source": "inline", "domains": ["a.example"]}`, exitOK, []string{"a.example"}, nil},
		{"URL not found", `{"url": "` + srv.URL + `/missing"}`, exitFail, nil, nil},
		{"list of garbage", `{"url": "` + srv.URL + `/garbage"}`, exitFail, nil, nil},
		{"missing file", `{"file": "nope.txt"}`, exitFail, nil, nil},
		{"file and url", `{"file": "domains.txt", "url": "` + srv.URL + `/hosts.gz"}`, exitFail, nil, nil},
		{"unknown field", `{"file": "domains.txt", "fromat": "hosts"}`, exitFail, nil, nil},
		{"unknown format", `{"file": "domains.txt", "format": "csv"}`, exitFail, nil, nil},
		{"inline without a name", `{"domains": ["a.example"]}`, exitFail, nil, nil},
		{"ftp url", `{"url": "ftp://example.org/list"}`, exitFail, nil, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out := p(fmt.Sprintf("src%d.json", i)), p(fmt.Sprintf("out%d.bundle", i))
			write(filepath.Base(in), source(tt.lists))
			code, stdout, stderr := cli(t, "build", "-in", in, "-key", p("signing.key"), "-cert", p("signing.cert"), "-out", out, "-now", now)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			if code != exitOK {
				if _, err := os.Stat(out); err == nil {
					t.Error("a failed build wrote a bundle")
				}
				return
			}
			f, _ := os.Open(out)
			defer f.Close()
			b, err := bundle.Inspect(f)
			if err != nil {
				t.Fatal(err)
			}
			l := b.Categories[0].Lists[0]
			if !equal(l.Domains, tt.domains) || !equal(l.Allow, tt.allow) {
				t.Errorf("domains %v allow %v, want %v %v", l.Domains, l.Allow, tt.domains, tt.allow)
			}
		})
	}
}

func equal(a, b []string) bool {
	return len(a) == len(b) && strings.Join(a, "\n") == strings.Join(b, "\n")
}

// TestBuildContentThenSign builds on one machine and signs on another: the
// unsigned content, signed with 'sign', gives the same bundle as 'build'.
func TestBuildContentThenSign(t *testing.T) {
	t.Parallel()
	dir := publisherSetup(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("d.txt"), []byte("bet365.com\n"), 0o644)
	os.WriteFile(p("src.json"), []byte(`{"version": 9, "publisher": "example-school", "created": "2026-02-01T00:00:00Z", "valid_for": "720h",
	  "categories": [{"id": "gambling", "lists": [{"file": "d.txt"}, {"source": "x", "urls": ["reddit.com/r/sportsbook"]}]}]}`), 0o644)
	mustCLI(t, "build", "-in", p("src.json"), "-content", p("content.json"), "-key", p("signing.key"), "-cert", p("signing.cert"), "-out", p("a.bundle"), "-now", now)
	mustCLI(t, "sign", "-in", p("content.json"), "-key", p("signing.key"), "-cert", p("signing.cert"), "-out", p("b.bundle"), "-now", now)
	a, _ := os.ReadFile(p("a.bundle"))
	b, _ := os.ReadFile(p("b.bundle"))
	fa, _ := bundle.Inspect(bytes.NewReader(a))
	fb, _ := bundle.Inspect(bytes.NewReader(b))
	ja, _ := json.Marshal(sourceOf(fa))
	jb, _ := json.Marshal(sourceOf(fb))
	if !bytes.Equal(ja, jb) {
		t.Errorf("build and content+sign differ:\n%s\n%s", ja, jb)
	}
}

// FuzzDecodeBuildSource checks the strict decoder: it never panics; what
// it accepts re-encodes to a source it accepts again, unchanged.
func FuzzDecodeBuildSource(f *testing.F) {
	f.Add([]byte(realSource))
	f.Add([]byte(`{"version": 1, "publisher": "p", "categories": [{"id": "a", "lists": [{"url": "http://x/y"}]}]}`))
	f.Add([]byte(`{"version": 1, "publisher": "p", "categories": [{"id": "a", "lists": [{"file": "a", "url": "http://x/y"}]}]}`))
	f.Add([]byte(`{"unknown": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeBuildSource(bytes.NewReader(data))
		if err != nil {
			if s != nil {
				t.Fatal("source returned with an error")
			}
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := decodeBuildSource(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("re-encoded source refused: %v\n%s", err, again)
		}
		if twice, _ := json.Marshal(s2); !bytes.Equal(again, twice) {
			t.Fatalf("not stable:\n%s\n%s", again, twice)
		}
	})
}

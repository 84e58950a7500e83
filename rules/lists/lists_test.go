package lists_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
)

// shared is the real public lists, read in place (see its README).
const shared = "../../../shared/data/blocklists"

func sharedFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(shared, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real list %s not available: %v", rel, err)
	}
	return p
}

func collect(t *testing.T, in string, opt lists.Options) ([]lists.Entry, lists.Stats, error) {
	t.Helper()
	var got []lists.Entry
	st, err := lists.Parse(strings.NewReader(in), opt, func(e lists.Entry) error {
		got = append(got, e)
		return nil
	})
	return got, st, err
}

func TestParse(t *testing.T) {
	t.Parallel()
	type want struct {
		kind  lists.Kind
		value string
		line  int
	}
	tests := []struct {
		name    string
		format  lists.Format
		in      string
		want    []want
		skipped map[string]int
	}{
		{
			name:   "domains",
			format: lists.Domains,
			in:     "# comment\nexample.com\r\nWWW.Mixed.ORG.\n\n1.2.3.4\nbücher.de # inline\n",
			want:   []want{{lists.Domain, "example.com", 2}, {lists.Domain, "www.mixed.org", 3}, {lists.Domain, "1.2.3.4", 5}, {lists.Domain, "xn--bcher-kva.de", 6}},
		},
		{
			name:    "domains junk",
			format:  lists.Domains,
			in:      "good.com\nbad..com\nspace in.com\ncom\n*.wild.com\nlocalhost\n3.4\nok.net",
			want:    []want{{lists.Domain, "good.com", 1}, {lists.Domain, "ok.net", 8}},
			skipped: map[string]int{lists.ReasonBadHost: 3, lists.ReasonFields: 1, lists.ReasonWildcard: 1, lists.ReasonLocal: 1},
		},
		{
			// Whole registries and hosting platforms are never a site:
			// real lists name them by mistake (Bon-Appetit lists
			// akamaiedge.net and sakura.ne.jp). Their sites stay listed,
			// and an exception may still name one.
			name:    "public suffixes",
			format:  lists.Adblock,
			in:      "||akamaiedge.net^\n||sakura.ne.jp^\n||co.uk^\n||blogspot.com^\n||porn.blogspot.com^\n||x.sakura.ne.jp^\n@@||github.io^\n||1.2.3.4^\n",
			want:    []want{{lists.Domain, "porn.blogspot.com", 5}, {lists.Domain, "x.sakura.ne.jp", 6}, {lists.AllowDomain, "github.io", 7}, {lists.Domain, "1.2.3.4", 8}},
			skipped: map[string]int{lists.ReasonSuffix: 4},
		},
		{
			// Accredited-only registries: a whole university's or
			// government's site is never one adult site. A name under
			// it, and look-alikes outside those registries, stay.
			name:    "institutions",
			format:  lists.Domains,
			in:      "ucla.edu\nvirginia.gov\nitu.int\nox.ac.uk\ntsinghua.edu.cn\nnsw.gov.au\nporn.ucla.edu\ngoogle.ac\nedu.example.com\ngov-porn.com\n",
			want:    []want{{lists.Domain, "porn.ucla.edu", 7}, {lists.Domain, "google.ac", 8}, {lists.Domain, "edu.example.com", 9}, {lists.Domain, "gov-porn.com", 10}},
			skipped: map[string]int{lists.ReasonInstitution: 6},
		},
		{
			name:   "hosts",
			format: lists.Hosts,
			in:     "127.0.0.1 localhost\n0.0.0.0 a.com B.com # c.com\n::1 ip6-localhost\n0.0.0.0 85.17.187.83\n0.0.0.0 mindrunway.ru \n0.0.0.0 xxxhindi.to en\nnonsense\n",
			want: []want{
				{lists.Domain, "a.com", 2}, {lists.Domain, "b.com", 2},
				{lists.Domain, "85.17.187.83", 4}, {lists.Domain, "mindrunway.ru", 5}, {lists.Domain, "xxxhindi.to", 6},
			},
			skipped: map[string]int{lists.ReasonLocal: 2, lists.ReasonBadHost: 1, lists.ReasonFields: 1},
		},
		{
			name:   "adblock",
			format: lists.Adblock,
			in:     "[Adblock Plus 2.0]\n! title\n||ads.example.com^\n@@||good.example.com^\n||x.com^$third-party\n##.banner\n/regex/\nexample.org\n||path.com/x^\n||Upper.NET^\n",
			want: []want{
				{lists.Domain, "ads.example.com", 3}, {lists.AllowDomain, "good.example.com", 4}, {lists.Domain, "upper.net", 10},
			},
			skipped: map[string]int{lists.ReasonUnsupported: 5},
		},
		{
			name:   "urls",
			format: lists.URLs,
			in:     "www.Example.com/Path/Page.html\nexample.org\nhttp://a.com/x?y=1#frag\n1.2.3.4/cgi-bin/x\nbad host/x\nuser@evil.com/y\n",
			want: []want{
				{lists.URL, "example.com/Path/Page.html", 1}, {lists.URL, "example.org/", 2},
				{lists.URL, "a.com/x?y=1", 3}, {lists.URL, "1.2.3.4/cgi-bin/x", 4}, {lists.URL, "evil.com/y", 6},
			},
			skipped: map[string]int{lists.ReasonFields: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, st, err := collect(t, tt.in, lists.Options{Name: "t.txt", Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			var gw []want
			for _, e := range got {
				gw = append(gw, want{e.Kind, e.Value, e.Line})
			}
			if !slices.Equal(gw, tt.want) {
				t.Errorf("entries\n got %v\nwant %v", gw, tt.want)
			}
			if st.Entries != len(got) {
				t.Errorf("Stats.Entries = %d, delivered %d", st.Entries, len(got))
			}
			for r, n := range tt.skipped {
				if st.Skipped[r] != n {
					t.Errorf("skipped %q = %d, want %d (all: %v)", r, st.Skipped[r], n, st.Skipped)
				}
			}
			if st.Rejected() != len(st.Errors) && len(st.Errors) < 20 {
				t.Errorf("Rejected %d but %d errors reported", st.Rejected(), len(st.Errors))
			}
			for _, e := range st.Errors {
				if !strings.HasPrefix(e.Error(), "t.txt:") {
					t.Errorf("error %q lacks file:line", e)
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := map[string]lists.Format{
		"a.com\nb.org\n":                    lists.Domains,
		"# x\n0.0.0.0 a.com\n0.0.0.0 b.com": lists.Hosts,
		"! x\n||a.com^\n":                   lists.Adblock,
		"a.com/x\nb.com/y\n":                lists.URLs,
		"1.2.3.4\n5.6.7.8\na.com\n":         lists.Domains,
	}
	for in, want := range tests {
		if got := lists.Detect([]byte(in)); got != want {
			t.Errorf("Detect(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLineErrorNames(t *testing.T) {
	t.Parallel()
	_, st, err := collect(t, "ok.com\nbad..com\n", lists.Options{Name: "mine.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Errors) != 1 || !strings.HasPrefix(st.Errors[0].Error(), "mine.txt:2: bad host name") {
		t.Fatalf("errors = %v", st.Errors)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	t.Run("binary", func(t *testing.T) {
		t.Parallel()
		got, _, err := collect(t, "a.com\n\x00\x01\x02\xff", lists.Options{})
		if !errors.Is(err, lists.ErrNotText) || len(got) != 0 {
			t.Fatalf("err = %v, %d entries", err, len(got))
		}
	})
	t.Run("latin1", func(t *testing.T) {
		t.Parallel()
		_, _, err := collect(t, "caf\xe9.com\n", lists.Options{})
		if !errors.Is(err, lists.ErrNotText) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("mostly junk", func(t *testing.T) {
		t.Parallel()
		_, _, err := collect(t, strings.Repeat("not a host name at all\n", 50)+"a.com\n", lists.Options{Format: lists.Domains})
		if !errors.Is(err, lists.ErrTooManyRejects) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("long line", func(t *testing.T) {
		t.Parallel()
		in := "a.com\n" + strings.Repeat("x", 1<<20) + "\nb.com\n"
		got, st, err := collect(t, in, lists.Options{MaxLineLen: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || st.Skipped[lists.ReasonTooLong] != 1 || got[1].Line != 3 {
			t.Fatalf("got %v, skipped %v", got, st.Skipped)
		}
	})
	t.Run("size cap", func(t *testing.T) {
		t.Parallel()
		_, _, err := collect(t, strings.Repeat("a.com\n", 1000), lists.Options{MaxBytes: 100})
		if !errors.Is(err, lists.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("gzip bomb capped", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write([]byte("a.com\n"))
		zw.Write(make([]byte, 8<<20)) // zeros compress ~1000:1
		zw.Close()
		_, _, err := collect(t, buf.String(), lists.Options{MaxBytes: 1 << 20, Format: lists.Domains})
		if err == nil {
			t.Fatal("bomb accepted")
		}
	})
	t.Run("callback error stops", func(t *testing.T) {
		t.Parallel()
		stop := errors.New("stop")
		n := 0
		_, err := lists.Parse(strings.NewReader("a.com\nb.com\nc.com\n"), lists.Options{}, func(lists.Entry) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 2 {
			t.Fatalf("err = %v after %d", err, n)
		}
	})
}

func TestGzipDetected(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("0.0.0.0 a.com\n0.0.0.0 b.com\n"))
	zw.Close()
	got, st, err := collect(t, buf.String(), lists.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != lists.Hosts || len(got) != 2 {
		t.Fatalf("format %v, %d entries", st.Format, len(got))
	}
}

// The Block List Project ships the same names as a hosts file and as an
// Adblock file; two parsers reading them must agree exactly.
func TestRealHostsAndAdblockAgree(t *testing.T) {
	t.Parallel()
	read := func(rel string) ([]string, lists.Stats) {
		var out []string
		st, err := lists.ParseFile(sharedFile(t, rel), lists.Options{}, func(e lists.Entry) error {
			out = append(out, e.Value)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return slices.Compact(out), st
	}
	hosts, hst := read("blocklistproject/drugs.txt")
	adb, ast := read("blocklistproject/adguard/drugs-ags.txt")
	if hst.Format != lists.Hosts || ast.Format != lists.Adblock {
		t.Fatalf("detected %v and %v", hst.Format, ast.Format)
	}
	if len(hosts) < 26000 {
		t.Fatalf("only %d names from the hosts file", len(hosts))
	}
	if !slices.Equal(hosts, adb) {
		t.Fatalf("hosts gives %d names, adblock %d; they differ", len(hosts), len(adb))
	}
}

func TestRealFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rel        string
		format     lists.Format
		minEntries int
	}{
		{"ut1/gambling/domains", lists.Domains, 32000},
		{"ut1/drogue/domains", lists.Domains, 600},
		{"ut1/redirector/domains.gz", lists.Domains, 130000},
		{"ut1/phishing/urls", lists.URLs, 19000},
		{"ut1/malware/urls", lists.URLs, 19000},
		{"ut1/adult/urls", lists.URLs, 1000},
		{"sinfonietta/pornography-hosts.gz", lists.Hosts, 61000},
		{"sinfonietta/gambling-hosts", lists.Hosts, 2600},
		{"bon-appetit/block.txt.gz", lists.Domains, 228000},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			t.Parallel()
			n := 0
			st, err := lists.ParseFile(sharedFile(t, tt.rel), lists.Options{}, func(e lists.Entry) error {
				n++
				if e.Kind == lists.Domain {
					if h, err := hostname.Normalize(e.Value); err != nil || h != e.Value {
						t.Errorf("line %d: entry %q not in normal form", e.Line, e.Value)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st.Format != tt.format {
				t.Errorf("detected %v, want %v", st.Format, tt.format)
			}
			if n < tt.minEntries {
				t.Errorf("%d entries, want at least %d (skipped %v)", n, tt.minEntries, st.Skipped)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a.com\nb.org\n", uint8(0))
	f.Add("0.0.0.0 a.com b.com # x\n", uint8(2))
	f.Add("||a.com^\n@@||b.com^\n! c\n", uint8(3))
	f.Add("www.a.com/X/y\n", uint8(4))
	f.Add("www.a/\n", uint8(4))      // stripping www. must leave a valid host
	f.Add("www.www.0.A\n", uint8(4)) // and strip every www., or it is not idempotent
	f.Add("\x1f\x8b\x08\x00", uint8(0))
	f.Fuzz(func(t *testing.T, in string, format uint8) {
		opt := lists.Options{Format: lists.Format(format % 5), MaxLineLen: 256, MaxBytes: 1 << 16}
		n := 0
		st, err := lists.Parse(strings.NewReader(in), opt, func(e lists.Entry) error {
			n++
			switch e.Kind {
			case lists.Domain, lists.AllowDomain:
				if h, err := hostname.Normalize(e.Value); err != nil || h != e.Value {
					t.Fatalf("entry %q not normalised", e.Value)
				}
			case lists.URL:
				if v, err := lists.NormalizeURL(e.Value); err != nil || v != e.Value {
					t.Fatalf("url entry %q not a fixed point: %q %v", e.Value, v, err)
				}
			}
			if e.Line < 1 || e.Line > strings.Count(in, "\n")+1 {
				t.Fatalf("line %d out of range", e.Line)
			}
			return nil
		})
		if errors.Is(err, lists.ErrNotText) && n != 0 {
			t.Fatalf("%d entries delivered from a file refused as not text", n)
		}
		if st.Entries != n {
			t.Fatalf("Stats.Entries %d, delivered %d", st.Entries, n)
		}
	})
}

func BenchmarkParseRealHosts(b *testing.B) {
	p := sharedFile(b, "sinfonietta/pornography-hosts.gz")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = 0
		if _, err := lists.ParseFile(p, lists.Options{}, func(lists.Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}

func BenchmarkParseRealDomains(b *testing.B) {
	p := sharedFile(b, "bon-appetit/block.txt.gz")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = 0
		if _, err := lists.ParseFile(p, lists.Options{}, func(lists.Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
}

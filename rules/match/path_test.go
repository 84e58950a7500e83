package match_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/greengate/greengate/rules/match"
)

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/forbidden", "/forbidden"},
		{"//forbidden", "/forbidden"},
		{"/./forbidden", "/forbidden"},
		{"/a/../forbidden", "/forbidden"},
		{"/../../forbidden", "/forbidden"},
		{"/%2fforbidden", "/forbidden"},
		{"/%2Fforbidden", "/forbidden"},
		{"/FORBIDDEN", "/forbidden"},
		{"/%66orbidden", "/forbidden"},
		{"/%2e%2e/forbidden", "/forbidden"},
		{"/a%2f..%2fforbidden", "/forbidden"},
		{"/a\\..\\forbidden", "/forbidden"},
		{"/a%5c..%5cforbidden", "/forbidden"},
		{"/forbidden/", "/forbidden"},
		{"/forbidden/.", "/forbidden"},
		{"/a/..;/forbidden", "/forbidden"},
		{"/forbidden;jsessionid=1", "/forbidden"},
		{"/forbidden?", "/forbidden"},
		{"/forbidden#top", "/forbidden"},
		{"/forbidden?A=%42&c=%2F", "/forbidden?a=b&c=%2f"},
		{"/f?x=1/../y", "/f?x=1/../y"},
		{"/a%20b", "/a%20b"},
		{"/a b", "/a%20b"},
		{"/caf\xc3\xa9", "/caf%c3%a9"},
		{"/caf%C3%A9", "/caf%c3%a9"},
		{"/100%", "/100%25"},
		{"/%zz", "/%25zz"},
		{"/a%3fb", "/a%3fb"},
		{"/a%3Bb", "/a%3bb"},
		{"relative", "/relative"},
	}
	for _, tt := range tests {
		if got := match.NormalizePath(tt.in); got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestURLSetSpellings is issue 12's path bypass: every spelling of a
// listed path is matched, and only at a segment boundary.
func TestURLSetSpellings(t *testing.T) {
	t.Parallel()
	var b match.URLBuilder
	b.Source("t")
	for i, e := range []string{
		"allowed.example/forbidden",
		"allowed.example/health",
		"allowed.example/secret*",
		"allowed.example/dir/*",
		"allowed.example/view.php?id=12",
		"allowed.example/p.php?cat=",
		"allowed.example/en/",
		"allowed.example/index.php?",
		"allowed.example/page#frag",
	} {
		if !b.Add(e, i+1) {
			t.Fatalf("Add(%q) refused", e)
		}
	}
	s := b.Build()
	tests := []struct{ path, entry string }{
		{"/forbidden", "/forbidden"},
		{"//forbidden", "/forbidden"},
		{"/./forbidden", "/forbidden"},
		{"/a/../forbidden", "/forbidden"},
		{"/%2fforbidden", "/forbidden"},
		{"/FORBIDDEN", "/forbidden"},
		{"/forbidden/", "/forbidden"},
		{"/forbidden/x", "/forbidden"},
		{"/forbidden?x=1", "/forbidden"},
		{"/forbiddenfruit", ""},
		{"/health", "/health"},
		{"/healthy", ""},
		{"/health.html", ""},
		{"/secret", "/secret*"},
		{"/secretary", "/secret*"},
		{"/dir", "/dir/*"},
		{"/dir/x", "/dir/*"},
		{"/directory", ""},
		{"/view.php?id=12", "/view.php?id=12"},
		{"/view.php?id=12&x=1", "/view.php?id=12"},
		{"/view.php?id=123", ""},
		{"/view.php", ""},
		{"/p.php?cat=anything", "/p.php?cat="},
		{"/p.php?dog=1", ""},
		{"/en", "/en/"},
		{"/en/page", "/en/"},
		{"/english", ""},
		{"/index.php", "/index.php?"},
		{"/index.php?a=1", "/index.php?"},
		{"/page", "/page#frag"},
		{"/", ""},
	}
	for _, tt := range tests {
		m, ok := s.Lookup("allowed.example", tt.path)
		want := ""
		if tt.entry != "" {
			want = "allowed.example" + tt.entry
		}
		if ok != (want != "") || m.Entry != want {
			t.Errorf("Lookup(%q) = %q %v, want %q", tt.path, m.Entry, ok, want)
		}
	}
}

// spell writes p (a normal-form path, no query) another way that common
// origins serve as the same resource: nginx (merge_slashes, decoding
// before mapping), Apache and Go's ServeMux (dot segments, RFC 3986
// 5.2.4; ServeMux redirects to the clean path), any of them decoding
// unreserved escapes (RFC 3986 6.2.2.2), IIS (case, "\").
func spell(r *rand.Rand, p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		switch r.IntN(6) {
		case 0:
			b.WriteString("//")
		case 1:
			b.WriteString("/./")
		case 2:
			b.WriteString("/zz/../")
		case 3:
			b.WriteString("%2F")
		case 4:
			b.WriteString("\\")
		default:
			b.WriteString("/")
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&b, "%%%02X", c)
			case 1:
				fmt.Fprintf(&b, "%%%02x", strings.ToUpper(string(c))[0])
			case 2:
				b.WriteString(strings.ToUpper(string(c)))
			default:
				b.WriteByte(c)
			}
		}
	}
	if r.IntN(3) == 0 {
		b.WriteString("/")
	}
	if b.Len() == 0 {
		b.WriteString("/")
	}
	return b.String()
}

// TestURLSetSpellingsProperty: any two spellings of a path get the same
// verdict from a set of entries on and around it.
func TestURLSetSpellingsProperty(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(12, 34))
	words := []string{"a", "ab", "abc", "x-y", "v1.2", "t_u", "n~m", "forbidden"}
	randPath := func() string {
		n := 1 + r.IntN(4)
		segs := make([]string, n)
		for i := range segs {
			segs[i] = words[r.IntN(len(words))]
		}
		return "/" + strings.Join(segs, "/")
	}
	for range 300 {
		var b match.URLBuilder
		b.Source("p")
		for i := range 4 {
			b.Add("h.example"+randPath(), i)
		}
		s := b.Build()
		p := randPath()
		want, wok := s.Lookup("h.example", p)
		for range 20 {
			sp := spell(r, p)
			got, ok := s.Lookup("h.example", sp)
			if ok != wok || got != want {
				t.Fatalf("%q gets %v %v, %q gets %v %v", p, want, wok, sp, got, ok)
			}
		}
	}
}

// FuzzNormalizePath: never panics, the result is a fixed point in the
// documented shape, and a spelling never changes whether "/x" matches.
func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"", "/", "//a/./b/../c/", "/%2fx", "/%", "/%%41", "/a;b/..;/c", "/a?b#c", "/\\x", "/%5c..%5cx", "?", "/A?%41=%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := match.NormalizePath(s)
		if again := match.NormalizePath(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		path, _, _ := strings.Cut(n, "?")
		if !strings.HasPrefix(n, "/") || strings.Contains(path, "//") || strings.ContainsAny(n, "#\\ ") ||
			strings.Contains(path+"/", "/./") || strings.Contains(path+"/", "/../") ||
			(len(path) > 1 && strings.HasSuffix(path, "/")) || strings.ToLower(n) != n {
			t.Fatalf("NormalizePath(%q) = %q, not in normal form", s, n)
		}
	})
}

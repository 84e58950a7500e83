package hostname_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/greengate/greengate/rules/hostname"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		err            error
	}{
		{"plain", "example.com", "example.com", nil},
		{"upper", "WWW.Example.COM", "www.example.com", nil},
		{"trailing dot", "a.test.", "a.test", nil},
		{"port", "example.com:443", "example.com", nil},
		{"port and dot", "Example.com.:8080", "example.com", nil},
		{"underscore", "_dmarc.example.com", "_dmarc.example.com", nil},
		{"idn", "bücher.de", "xn--bcher-kva.de", nil},
		{"idn upper", "BÜCHER.de", "xn--bcher-kva.de", nil},
		{"idn fullwidth dot", "example。com", "example.com", nil},
		{"chinese", "中国.cn", "xn--fiqs8s.cn", nil},
		{"punycode kept", "xn--bcher-kva.de", "xn--bcher-kva.de", nil},
		{"ipv4", "192.168.1.1", "192.168.1.1", nil},
		{"ipv4 port", "10.0.0.1:80", "10.0.0.1", nil},
		{"ipv6 brackets", "[2001:DB8::1]:443", "2001:db8::1", nil},
		{"ipv6 bare", "2001:db8:0:0::1", "2001:db8::1", nil},
		{"ipv4 mapped", "[::ffff:127.0.0.1]", "127.0.0.1", nil},
		{"empty", "", "", hostname.ErrEmpty},
		{"only dot", ".", "", hostname.ErrEmpty},
		{"double dot", "a..com", "", hostname.ErrLabel},
		{"leading dot", ".a.com", "", hostname.ErrLabel},
		{"space", "a b.com", "", hostname.ErrCharacter},
		{"slash", "a.com/x", "", hostname.ErrCharacter},
		{"nul", "a\x00.com", "", hostname.ErrCharacter},
		{"long label", strings.Repeat("a", 64) + ".com", "", hostname.ErrLabel},
		{"too long", strings.Repeat("abcdefghi.", 26) + "com", "", hostname.ErrTooLong},
		{"single label", "com", "", hostname.ErrSingle},
		{"numeric tld", "3.4", "", hostname.ErrNumericTLD},
		{"short ipv4", "127.1", "", hostname.ErrNumericTLD},
		{"bad port", "a.com:99999", "", hostname.ErrPort},
		{"port letters", "a.com:http", "", hostname.ErrPort},
		{"zone", "[fe80::1%eth0]", "", hostname.ErrCharacter},
		{"bad idna", "xn--a.com\u00e9\u200d", "", hostname.ErrIDNA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := hostname.Normalize(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Normalize(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeRequestSingleLabel(t *testing.T) {
	t.Parallel()
	got, err := hostname.NormalizeRequest("LocalHost.")
	if err != nil || got != "localhost" {
		t.Fatalf("NormalizeRequest = %q, %v", got, err)
	}
}

func TestIsIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"1.2.3.4": true, "::1": true, "example.com": false, "example.s3": false, "a.b.c1": false,
	} {
		if got := hostname.IsIP(in); got != want {
			t.Errorf("IsIP(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNormalizeNoAllocOnNormalForm(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := hostname.Normalize("www.example.com"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Normalize allocated %v times on a name in normal form", allocs)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"example.com", "A.B.", "[::1]:80", "bücher.de", "1.2.3.4", "a..b", "xn--", "_x.y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := hostname.Normalize(in)
		if err != nil {
			if out != "" {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		// Normal form is a fixed point and is plain lower-case ASCII.
		again, err := hostname.Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", in, out, out, again, err)
		}
		if len(out) > hostname.MaxLen {
			t.Fatalf("output too long: %d", len(out))
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
				t.Fatalf("output %q not lower-case ASCII", out)
			}
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		hostname.Normalize("www.example.com")
	}
}

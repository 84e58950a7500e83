// Package hostname puts host names into the one normal form that every
// list, matcher and request in GreenGate is compared in.
//
// The normal form is lower case ASCII, with no trailing dot and no port;
// internationalised names are converted to punycode (IDNA lookup rules),
// IPv6 literals lose their brackets and take netip's canonical spelling.
// Normalising happens once, at the boundary: where a request or a list line
// enters the program. Everything downstream compares bytes.
//
// Normalize does not allocate when its input is already in normal form, so
// the proxy can call it on every request.
package hostname

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// MaxLen is the longest host name in normal form (RFC 1035 without the
// final root label).
const MaxLen = 253

// Errors say why a name was refused. They are values, not formatted
// strings, so the hot path never allocates to refuse a name.
var (
	ErrEmpty      = errors.New("empty host name")
	ErrTooLong    = errors.New("host name longer than 253 bytes")
	ErrLabel      = errors.New("empty or over-long label in host name")
	ErrCharacter  = errors.New("character not allowed in host name")
	ErrIDNA       = errors.New("internationalised name not valid under IDNA")
	ErrSingle     = errors.New("single-label name (a whole top-level domain)")
	ErrNumericTLD = errors.New("numeric top-level label that is not an IPv4 address")
	ErrPort       = errors.New("bad port in host")
)

// Normalize returns host in normal form. host may carry a port
// ("example.com:443", "[::1]:80"), which is dropped. Single-label names
// such as "localhost" or "com" are refused with ErrSingle: a list entry of
// one label would block a whole top-level domain.
func Normalize(host string) (string, error) {
	return normalize(host, false)
}

// NormalizeRequest is Normalize for names that arrive in requests, where a
// single label ("intranet", "localhost") is a legitimate destination.
func NormalizeRequest(host string) (string, error) {
	return normalize(host, true)
}

func normalize(host string, single bool) (string, error) {
	if host == "" {
		return "", ErrEmpty
	}
	if host[0] == '[' {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return "", ErrCharacter
		}
		if rest := host[end+1:]; rest != "" && !validPort(rest) {
			return "", ErrPort
		}
		return ipv6(host[1:end])
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		if strings.IndexByte(host[i+1:], ':') >= 0 {
			return ipv6(host)
		}
		if !validPort(host[i:]) {
			return "", ErrPort
		}
		host = host[:i]
	}
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	if host == "" {
		return "", ErrEmpty
	}
	needLower := false
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		case 'A' <= c && c <= 'Z':
			needLower = true
		case c >= 0x80:
			return idnaSlow(host, single)
		default:
			return "", ErrCharacter
		}
	}
	if needLower {
		host = strings.ToLower(host)
	}
	if err := check(host, single); err != nil {
		return "", err
	}
	return host, nil
}

func validPort(p string) bool {
	// p includes the leading colon.
	if len(p) < 2 || len(p) > 6 || p[0] != ':' {
		return false
	}
	n := 0
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

func ipv6(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", ErrCharacter
	}
	if a.Is4In6() {
		return a.Unmap().String(), nil
	}
	return a.String(), nil
}

// idnaProfile follows browsers' lookup rules (UTS #46 mapping), but does
// not insist on STD3 letters-digits-hyphen: real lists carry underscores.
var idnaProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.BidiRule())

func idnaSlow(host string, single bool) (string, error) {
	a, err := idnaProfile.ToASCII(host)
	if err != nil {
		return "", ErrIDNA
	}
	if n := len(a); n > 0 && a[n-1] == '.' {
		a = a[:n-1]
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return "", ErrCharacter
		}
	}
	if err := check(a, single); err != nil {
		return "", err
	}
	return a, nil
}

// check validates a lower-case ASCII name's shape.
func check(h string, single bool) error {
	if len(h) > MaxLen {
		return ErrTooLong
	}
	labels, start := 0, 0
	lastNumeric := true
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			continue
		}
		l := i - start
		if l == 0 || l > 63 {
			return ErrLabel
		}
		labels++
		lastNumeric = true
		for j := start; j < i; j++ {
			if h[j] < '0' || h[j] > '9' {
				lastNumeric = false
				break
			}
		}
		start = i + 1
	}
	if lastNumeric {
		// Only a dotted-quad IPv4 address may end in a numeric label;
		// anything else ("3.4", "0x7f.1" aside) is not a name a list can mean.
		if a, err := netip.ParseAddr(h); err != nil || !a.Is4() {
			return ErrNumericTLD
		}
		return nil
	}
	if labels == 1 && !single {
		return ErrSingle
	}
	return nil
}

// IsIP reports whether a normalised host is an IP literal.
func IsIP(h string) bool {
	if h == "" {
		return false
	}
	if strings.IndexByte(h, ':') >= 0 {
		return true
	}
	// Normal form guarantees a numeric last label only on IPv4 addresses.
	for i := len(h) - 1; i >= 0 && h[i] != '.'; i-- {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	return true
}

// TrimWWW drops leading "www." labels, as URL lists compare hosts
// without them, while at least two labels remain. It strips every one, so
// that trimming is idempotent: "www.www.example.com" is "example.com".
func TrimWWW(h string) string {
	for {
		rest, ok := strings.CutPrefix(h, "www.")
		if !ok || strings.IndexByte(rest, '.') <= 0 {
			return h
		}
		h = rest
	}
}

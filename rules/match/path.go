package match

import "strings"

// NormalizePath puts a path with its query ("/a/b?x=1"), from a request or
// a URL entry, into the one form URL entries are matched in, so that the
// spellings an origin serves as one resource get one verdict:
//
//   - the fragment is dropped, and an empty query ("/a?") is no query;
//   - in the path, "%XX" that stands for an unreserved character (letters,
//     digits, "-._~") or for "/" or "\" is decoded, as nginx and IIS do
//     before they map a path; other escapes are kept, lowercased; a "%"
//     that starts no escape becomes "%25"; control, space and non-ASCII
//     bytes are escaped;
//   - "\" is "/" (IIS), ";parameters" are dropped from every segment (Tomcat
//     reads "/..;/" as "/../"), empty and "." segments are dropped, ".."
//     removes the segment before it (RFC 3986 5.2.4), and a trailing "/"
//     is dropped, so "//a/./b/../c/" is "/a/c";
//   - the query has its unreserved escapes decoded the same way, and
//     nothing else changed: "&", "=" and "+" keep their meaning;
//   - letters are lowercased, in the path and the query.
//
// Case is folded deliberately. UT1 documents its URL lists as
// case-sensitive, but IIS and other Windows-hosted origins, and many
// routers elsewhere, serve "/FORBIDDEN" as "/forbidden": matching with
// case would let a child walk around a block by changing one letter.
// Folding can at worst block (or allow) another spelling of a listed path
// on the listed host, which is the safer mistake for a child's filter.
//
// The result is a fixed point: NormalizePath(NormalizePath(s)) ==
// NormalizePath(s). It never starts with anything but "/".
func NormalizePath(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	path, query, _ := strings.Cut(s, "?")
	var b strings.Builder
	b.Grow(len(s) + 1)
	cleanPath(&b, unescape(path, true))
	if q := unescape(query, false); q != "" {
		b.WriteByte('?')
		b.WriteString(q)
	}
	return b.String()
}

// unescape applies NormalizePath's byte rules to a path (decoding "/" and
// "\" too, and turning "\" into "/") or a query.
func unescape(s string, path bool) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
			if unreserved(d) || path && (d == '/' || d == '\\') {
				c = d
			} else {
				writeEscape(&b, d)
				continue
			}
		} else if c == '%' {
			writeEscape(&b, '%')
			continue
		}
		switch {
		case path && c == '\\':
			b.WriteByte('/')
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		case c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0:
			writeEscape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cleanPath writes p's segments: no empty, "." or ".." ones, parameters
// cut, no trailing slash. "/" when nothing is left.
func cleanPath(b *strings.Builder, p string) {
	segs := make([]string, 0, 8)
	for seg := range strings.SplitSeq(p, "/") {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		switch seg {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	if len(segs) == 0 {
		b.WriteByte('/')
		return
	}
	for _, seg := range segs {
		b.WriteByte('/')
		b.WriteString(seg)
	}
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func writeEscape(b *strings.Builder, c byte) {
	const hex = "0123456789abcdef"
	b.WriteByte('%')
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&15])
}

// pathMatches reports whether the normalised request path-and-query r is
// at or under the normalised entry e: r equals e, or goes on at a
// boundary. A path entry's boundary is the next segment or the query
// ("/health" takes "/health/x" and "/health?x", never "/healthy"); an
// entry with a query is followed only by another parameter ("?id=1" takes
// "?id=1&x", never "?id=12"). prefix entries (see URLBuilder.Add) take
// anything that starts with them.
func pathMatches(r, e string, prefix bool) bool {
	if !strings.HasPrefix(r, e) {
		return false
	}
	if prefix || len(r) == len(e) || e == "/" {
		return true
	}
	next := r[len(e)]
	if strings.IndexByte(e, '?') >= 0 {
		return next == '&'
	}
	return next == '/' || next == '?'
}

// entryPath reads a URL entry's path as listed into its normal form and
// whether it is a prefix: an entry ending in "*" (the list says any
// continuation is meant), or in "=" or "&" inside a query (any value of
// that parameter, any further parameter). "/dir/*" is "/dir": everything
// under it, as "/dir" is anyway.
func entryPath(listed string) (path string, prefix bool) {
	raw := listed
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	star := strings.HasSuffix(raw, "*")
	if star {
		raw = strings.TrimSuffix(raw, "*")
	}
	n := NormalizePath(raw)
	switch {
	case star:
		return n, !strings.HasSuffix(raw, "/") && n != "/"
	case strings.IndexByte(n, '?') >= 0 && (strings.HasSuffix(n, "=") || strings.HasSuffix(n, "&")):
		return n, true
	}
	return n, false
}

package bundle

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// decoder reads big-endian and uvarint fields with every length checked
// against the bytes left. After the first error every read returns zero
// values, so callers check d.err once per record.
type decoder struct {
	buf     []byte
	s       string // string view of buf, so strings share one allocation
	off     int
	section string
	err     error
}

func (d *decoder) fail(off int, reason string) {
	if d.err == nil {
		d.err = malformed(d.section, off, reason)
	}
}

func (d *decoder) need(n int, what string) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.buf)-d.off {
		d.fail(d.off, "truncated "+what)
		return false
	}
	return true
}

func (d *decoder) u8() byte {
	if !d.need(1, "byte") {
		return 0
	}
	d.off++
	return d.buf[d.off-1]
}

func (d *decoder) u32() uint32 {
	if !d.need(4, "uint32") {
		return 0
	}
	d.off += 4
	return binary.BigEndian.Uint32(d.buf[d.off-4:])
}

func (d *decoder) u64() uint64 {
	if !d.need(8, "uint64") {
		return 0
	}
	d.off += 8
	return binary.BigEndian.Uint64(d.buf[d.off-8:])
}

func (d *decoder) time() time.Time { return time.Unix(int64(d.u64()), 0).UTC() }

func (d *decoder) bytes(n int) []byte {
	if !d.need(n, "bytes") {
		return nil
	}
	d.off += n
	return d.buf[d.off-n : d.off]
}

// name8 reads a one-byte length and a name (key name or publisher id).
func (d *decoder) name8() string {
	start := d.off
	n := int(d.u8())
	b := d.bytes(n)
	if d.err == nil && !validName(string(b)) {
		d.fail(start, "invalid name")
		return ""
	}
	return string(b)
}

// uvarint reads a minimally encoded uvarint; a longer encoding of the
// same number is refused so that every bundle has one encoding.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail(d.off, "bad uvarint")
		return 0
	}
	if n > 1 && d.buf[d.off+n-1] == 0 {
		d.fail(d.off, "non-minimal uvarint")
		return 0
	}
	d.off += n
	return v
}

// count reads an element count and refuses it unless the bytes left could
// hold that many elements of at least minSize bytes each; this keeps every
// allocation proportional to the input, never to a number in it.
func (d *decoder) count(minSize int) int {
	start := d.off
	v := d.uvarint()
	if d.err == nil && v > uint64((len(d.buf)-d.off)/minSize) {
		d.fail(start, "count larger than the bytes left")
		return 0
	}
	return int(v)
}

// str reads a uvarint length and that many bytes, checked by valid.
func (d *decoder) str(valid func(string) bool, what string) string {
	start := d.off
	v := d.uvarint()
	if d.err != nil {
		return ""
	}
	if v > uint64(len(d.buf)-d.off) {
		d.fail(start, "truncated "+what)
		return ""
	}
	s := d.s[d.off : d.off+int(v)]
	if !valid(s) {
		d.fail(start, "invalid "+what)
		return ""
	}
	d.off += int(v)
	return s
}

// strs reads a sorted, duplicate-free list of strings.
func (d *decoder) strs(valid func(string) bool, what string) []string {
	n := d.count(2) // a uvarint length and at least one byte
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		start := d.off
		s := d.str(valid, what)
		if d.err == nil && i > 0 && s <= out[i-1] {
			d.fail(start, what+" not sorted and unique")
		}
		out = append(out, s)
	}
	return out
}

type encoder struct{ buf []byte }

func (e *encoder) u64(v uint64)  { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) uvarint(v int) { e.buf = binary.AppendUvarint(e.buf, uint64(v)) }
func (e *encoder) str(s string)  { e.uvarint(len(s)); e.buf = append(e.buf, s...) }
func (e *encoder) strs(ss []string) {
	e.uvarint(len(ss))
	for _, s := range ss {
		e.str(s)
	}
}

// Field checks, shared by the encoder and the decoder so that whatever
// encodes also decodes.

// validID: categories and engines, e.g. "adult", "google".
func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validText: names and descriptions; may be empty.
func validText(s string) bool {
	if len(s) > MaxTextLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' && r != '\n' || r == 0x7f {
			return false
		}
	}
	return true
}

func printable(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func validSource(s string) bool { return printable(s, MaxNameLen*4) }

// validDomain: the normal form rules/lists produces (lowercase ASCII,
// IDNA already applied), so matching never has to normalise again.
func validDomain(s string) bool {
	if !printable(s, MaxDomainLen) || strings.ContainsAny(s, "/:") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

func validOptionalDomain(s string) bool { return s == "" || validDomain(s) }

// validURL: "host[:port]/path" without a scheme; the host part follows
// the domain rules, so "http://x" is refused (its host would be "http:").
func validURL(s string) bool {
	if !printable(s, MaxEntryLen) {
		return false
	}
	host, _, ok := strings.Cut(s, "/")
	if !ok {
		return false
	}
	if h, port, hasPort := strings.Cut(host, ":"); hasPort {
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
		host = h
	}
	return validDomain(host)
}

func validParam(s string) bool {
	if s == "" {
		return true
	}
	k, _, ok := strings.Cut(s, "=")
	return ok && k != "" && printable(s, MaxNameLen*4)
}

// payloadMin is the smallest possible payload: three fixed fields, a
// one-byte publisher, no categories, no engines and three zero counts.
const payloadMin = 8 + 8 + 8 + 2 + 1 + 1 + 3

func encodePayload(b *Bundle) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	return writePayload(b), nil
}

// writePayload encodes b as it is; encodePayload checks it first.
func writePayload(b *Bundle) []byte {
	c := b.Counts()
	e := encoder{buf: make([]byte, 0, 64+c.Domains*20+c.URLs*40+c.Allow*20)}
	e.u64(b.Version)
	e.u64(uint64(b.Created.Unix()))
	e.u64(uint64(b.Expires.Unix()))
	e.str(b.Publisher)
	e.uvarint(len(b.Categories))
	for _, cat := range b.Categories {
		e.str(cat.ID)
		e.str(cat.Name.ZH)
		e.str(cat.Name.EN)
		e.str(cat.Description.ZH)
		e.str(cat.Description.EN)
		e.uvarint(len(cat.Lists))
		for _, l := range cat.Lists {
			e.str(l.Source)
			e.strs(l.Domains)
			e.strs(l.URLs)
			e.strs(l.Allow)
		}
	}
	e.uvarint(len(b.SafeSearch))
	for _, en := range b.SafeSearch {
		e.str(en.Name)
		e.strs(en.Hosts)
		e.str(en.Target)
		e.str(en.ModerateTarget)
		e.str(en.Param)
	}
	e.uvarint(c.Domains)
	e.uvarint(c.URLs)
	e.uvarint(c.Allow)
	return e.buf
}

// decodePayload decodes a decompressed payload. It returns a nil bundle
// and a *MalformedError for anything encodePayload would not produce.
func decodePayload(buf []byte) (*Bundle, error) {
	d := decoder{buf: buf, s: string(buf), section: "payload"}
	b := &Bundle{Format: FormatVersion}
	b.Version = d.u64()
	b.Created = d.time()
	b.Expires = d.time()
	b.Publisher = d.str(validName, "publisher")
	ncat := d.count(7)
	for i := 0; i < ncat && d.err == nil; i++ {
		start := d.off
		var c Category
		c.ID = d.str(validID, "category id")
		c.Name.ZH = d.str(validText, "name")
		c.Name.EN = d.str(validText, "name")
		c.Description.ZH = d.str(validText, "description")
		c.Description.EN = d.str(validText, "description")
		nl := d.count(5)
		for j := 0; j < nl && d.err == nil; j++ {
			lstart := d.off
			var l List
			l.Source = d.str(validSource, "list source")
			l.Domains = d.strs(validDomain, "domain entry")
			l.URLs = d.strs(validURL, "URL entry")
			l.Allow = d.strs(validDomain, "allow entry")
			if d.err == nil && j > 0 && l.Source <= c.Lists[j-1].Source {
				d.fail(lstart, "lists not sorted by unique source")
			}
			c.Lists = append(c.Lists, l)
		}
		if d.err == nil && i > 0 && c.ID <= b.Categories[i-1].ID {
			d.fail(start, "categories not sorted by unique id")
		}
		b.Categories = append(b.Categories, c)
	}
	neng := d.count(7)
	for i := 0; i < neng && d.err == nil; i++ {
		start := d.off
		var en Engine
		en.Name = d.str(validID, "engine name")
		en.Hosts = d.strs(validDomain, "engine host")
		en.Target = d.str(validOptionalDomain, "engine target")
		en.ModerateTarget = d.str(validOptionalDomain, "engine moderate target")
		en.Param = d.str(validParam, "engine param")
		if d.err == nil && i > 0 && en.Name <= b.SafeSearch[i-1].Name {
			d.fail(start, "engines not sorted by unique name")
		}
		b.SafeSearch = append(b.SafeSearch, en)
	}
	countsAt := d.off
	var c Counts
	c.Domains = int(d.uvarint())
	c.URLs = int(d.uvarint())
	c.Allow = int(d.uvarint())
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(buf) {
		return nil, malformed("payload", d.off, "trailing bytes")
	}
	if c != b.Counts() {
		return nil, malformed("payload", countsAt, fmt.Sprintf("counts %+v do not match the entries %+v", c, b.Counts()))
	}
	if err := b.validateMeta(); err != nil {
		return nil, malformed("payload", 0, err.Error())
	}
	return b, nil
}

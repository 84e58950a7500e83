// Package lists reads block lists in the formats real lists come in and
// hands their entries, normalised, to a callback one at a time.
//
// Formats:
//
//   - Domains: one name per line (UT1 "domains", Bon-Appetit). A bare IPv4
//     address is an entry too. "#" starts a comment.
//   - Hosts: "<address> <name> [<name>...]", "#" comments; every name is an
//     entry. Local names (localhost, broadcasthost, ...) are skipped.
//   - Adblock basic: "||name^" blocks name and its subdomains, "@@||name^"
//     allows them; "!" and "[...]" lines are comments. Every other rule
//     type is skipped and counted as unsupported, never guessed at.
//   - URLs: "host/path" per line with no scheme (UT1 "urls"). Entries are
//     returned as "host/path" with the host normalised and a leading "www."
//     dropped; the path keeps its case.
//
// Parsing streams: memory stays bounded by the longest line allowed
// (Options.MaxLineLen), whatever the file's size. Gzip input is detected by
// its magic bytes and decompressed on the fly, up to Options.MaxBytes.
//
// A block entry that is a public suffix (a registry such as co.uk, or a
// hosting platform such as akamaiedge.net or sakura.ne.jp, after
// golang.org/x/net/publicsuffix) is skipped as ReasonSuffix, and one that
// is the whole domain of a university, school, government or army
// (ucla.edu, ox.ac.uk, virginia.gov) as ReasonInstitution: such an entry
// names many sites of many owners, never the one site a list meant, and
// real lists carry them by mistake.
//
// Bad lines fail open for the line and closed for the list: a line that
// cannot be an entry is skipped, counted by reason and reported as
// "file:line: reason" (the first few are kept in Stats.Errors); a list
// where rejects outnumber entries is refused as a whole with
// ErrTooManyRejects, because it is probably not the format it claims to be.
// A file that is not text (NUL bytes or invalid UTF-8 in its first block) is
// refused with ErrNotText before any entry is delivered.
//
// Host names are normalised by package hostname. Nothing here matches,
// downloads or logs.
package lists

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"

	"github.com/greengate/greengate/rules/hostname"
)

// Format is a list's syntax.
type Format uint8

const (
	Auto Format = iota // detect from the first lines
	Domains
	Hosts
	Adblock
	URLs
)

var formatNames = [...]string{"auto", "domains", "hosts", "adblock", "urls"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", f)
}

// ParseFormat reads a format name as String writes it.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return Auto, fmt.Errorf("unknown list format %q (want one of %s)", s, strings.Join(formatNames[:], ", "))
}

// Kind is what an entry asks for.
type Kind uint8

const (
	Domain      Kind = iota // block the name and its subdomains
	AllowDomain             // allow the name and its subdomains (Adblock "@@")
	URL                     // block URLs starting with "host/path"
)

func (k Kind) String() string {
	switch k {
	case Domain:
		return "domain"
	case AllowDomain:
		return "allow"
	case URL:
		return "url"
	}
	return "kind?"
}

// Entry is one rule read from a list.
type Entry struct {
	Kind  Kind
	Value string // normalised host name, or "host/path" for URL
	Line  int    // 1-based line in the source
}

// Options tune a parse. The zero value is ready to use.
type Options struct {
	Name       string // file name for error messages; "" means "<input>"
	Format     Format // Auto (zero) detects
	MaxLineLen int    // longer lines are skipped; 0 means DefaultMaxLineLen
	MaxBytes   int64  // after decompression; 0 means DefaultMaxBytes
	MaxErrors  int    // LineErrors kept in Stats; 0 means 20
	// Allow reads a list of sites not to block: its domain entries come
	// as AllowDomain, and a URL entry, which cannot be an exception, is
	// skipped as unsupported.
	Allow bool
}

// Limits that keep a hostile file from costing unbounded memory or time.
const (
	DefaultMaxLineLen = 4096
	DefaultMaxBytes   = 1 << 30
)

// Reasons a line is skipped. They key Stats.Skipped.
const (
	ReasonTooLong     = "line too long"
	ReasonNotText     = "not text"
	ReasonBadHost     = "bad host name"
	ReasonLocal       = "local name"
	ReasonUnsupported = "unsupported rule"
	ReasonFields      = "wrong number of fields"
	ReasonBadAddress  = "bad address"
	ReasonWildcard    = "wildcard"
	ReasonSuffix      = "public suffix"
	ReasonInstitution = "whole institution"
	ReasonDuplicate   = "duplicate" // counted by callers that deduplicate
)

// Errors that refuse a whole list.
var (
	ErrNotText        = errors.New("not a text file")
	ErrTooManyRejects = errors.New("more lines rejected than accepted")
	ErrTooLarge       = errors.New("list larger than the size cap")
)

// LineError is one skipped line.
type LineError struct {
	File   string
	Line   int
	Reason string
	Detail string // what was wrong with it, quoted and truncated
}

func (e *LineError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Reason, e.Detail)
}

// Stats describe a parse.
type Stats struct {
	Format   Format
	Lines    int            // lines read
	Entries  int            // entries delivered
	Comments int            // comment and blank lines
	Skipped  map[string]int // skipped lines by reason
	Errors   []*LineError   // the first Options.MaxErrors skipped lines
	Bytes    int64          // bytes read after decompression
}

// Rejected is the number of skipped lines.
func (s *Stats) Rejected() int {
	n := 0
	for _, c := range s.Skipped {
		n += c
	}
	return n
}

// ParseFile opens path and calls Parse with opt.Name defaulting to path.
func ParseFile(path string, opt Options, fn func(Entry) error) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	if opt.Name == "" {
		opt.Name = path
	}
	return Parse(f, opt, fn)
}

// Parse reads a list from r and calls fn for every entry in file order. An
// error from fn stops the parse and is returned as is.
func Parse(r io.Reader, opt Options, fn func(Entry) error) (Stats, error) {
	p := parser{opt: opt, fn: fn, st: Stats{Skipped: map[string]int{}}}
	if p.opt.Name == "" {
		p.opt.Name = "<input>"
	}
	if p.opt.MaxLineLen <= 0 {
		p.opt.MaxLineLen = DefaultMaxLineLen
	}
	if p.opt.MaxBytes <= 0 {
		p.opt.MaxBytes = DefaultMaxBytes
	}
	if p.opt.MaxErrors <= 0 {
		p.opt.MaxErrors = 20
	}
	err := p.run(r)
	return p.st, err
}

type parser struct {
	opt Options
	fn  func(Entry) error
	st  Stats
}

// countingReader counts decompressed bytes and enforces the size cap.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n > c.max {
		return n, ErrTooLarge
	}
	return n, err
}

func (p *parser) run(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading gzip header of %s: %w", p.opt.Name, err)
		}
		defer zr.Close()
		zr.Multistream(false)
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	cr := &countingReader{r: br, max: p.opt.MaxBytes}
	in := bufio.NewReaderSize(cr, p.opt.MaxLineLen+2)
	defer func() { p.st.Bytes = cr.n }()

	head, err := in.Peek(4096)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		if errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("reading %s: %w (%d bytes)", p.opt.Name, err, p.opt.MaxBytes)
		}
		return fmt.Errorf("reading %s: %w", p.opt.Name, err)
	}
	if !isText(head) {
		return fmt.Errorf("reading %s: %w", p.opt.Name, ErrNotText)
	}
	p.st.Format = p.opt.Format
	if p.st.Format == Auto {
		p.st.Format = Detect(head)
	}

	for {
		line, tooLong, err := readLine(in, p.opt.MaxLineLen)
		if len(line) > 0 || tooLong || err == nil {
			p.st.Lines++
			if tooLong {
				p.skip(ReasonTooLong, "")
			} else if ferr := p.line(line); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return fmt.Errorf("reading %s: %w (%d bytes)", p.opt.Name, err, p.opt.MaxBytes)
			}
			return fmt.Errorf("reading %s at line %d: %w", p.opt.Name, p.st.Lines+1, err)
		}
	}
	if rej := p.st.Rejected(); rej > 10 && rej > p.st.Entries {
		return fmt.Errorf("reading %s as %s: %w (%d rejected, %d accepted)", p.opt.Name, p.st.Format, ErrTooManyRejects, rej, p.st.Entries)
	}
	return nil
}

// readLine returns the next line without its line ending. A line longer
// than max is consumed and reported with tooLong, without being buffered.
func readLine(r *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	line, err = r.ReadSlice('\n')
	for errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		_, err = r.ReadSlice('\n')
	}
	if tooLong {
		return nil, true, err
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > max {
		return nil, true, err
	}
	return line, false, err
}

// isText reports whether the first block of a file looks like text: no NUL
// bytes and valid UTF-8 (ignoring a rune cut at the end of the block).
func isText(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return false
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			return len(b) < utf8.UTFMax && !utf8.FullRune(b)
		}
		b = b[n:]
	}
	return true
}

// Detect guesses a list's format from its first bytes by a vote of its
// first meaningful lines.
func Detect(head []byte) Format {
	var votes [5]int
	seen := 0
	for len(head) > 0 && seen < 50 {
		var line []byte
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			line, head = head, nil
		}
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0, line[0] == '#':
			continue
		case line[0] == '!', line[0] == '[', bytes.HasPrefix(line, []byte("||")), bytes.HasPrefix(line, []byte("@@")):
			votes[Adblock] += 3
		case isAddressField(line):
			votes[Hosts]++
		case bytes.IndexByte(line, '/') >= 0:
			votes[URLs]++
		default:
			votes[Domains]++
		}
		seen++
	}
	best := Domains
	for f := Domains; f <= URLs; f++ {
		if votes[f] > votes[best] {
			best = f
		}
	}
	return best
}

// isAddressField reports whether line starts with an IP address followed
// by white space, as a hosts line does.
func isAddressField(line []byte) bool {
	i := bytes.IndexAny(line, " \t")
	if i <= 0 {
		return false
	}
	return looksLikeAddress(string(line[:i]))
}

func looksLikeAddress(s string) bool {
	if strings.IndexByte(s, ':') >= 0 {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return strings.Count(s, ".") == 3
}

func (p *parser) skip(reason, detail string) {
	p.st.Skipped[reason]++
	if len(p.st.Errors) < p.opt.MaxErrors {
		if len(detail) > 80 {
			detail = detail[:80] + "..."
		}
		if detail != "" {
			detail = fmt.Sprintf("%q", detail)
		}
		p.st.Errors = append(p.st.Errors, &LineError{File: p.opt.Name, Line: p.st.Lines, Reason: reason, Detail: detail})
	}
}

func (p *parser) emit(k Kind, v string) error {
	if p.opt.Allow {
		switch k {
		case Domain:
			k = AllowDomain
		case URL:
			p.skip(ReasonUnsupported, v)
			return nil
		}
	}
	p.st.Entries++
	return p.fn(Entry{Kind: k, Value: v, Line: p.st.Lines})
}

func (p *parser) line(b []byte) error {
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		p.skip(ReasonNotText, "")
		return nil
	}
	s := strings.TrimSpace(string(b))
	if p.st.Format == Adblock && len(s) > 1 && s[0] == '#' && strings.IndexByte("#@?$%", s[1]) >= 0 {
		p.skip(ReasonUnsupported, s) // element hiding and scriptlets: nothing a proxy can do
		return nil
	}
	if s == "" || s[0] == '#' {
		p.st.Comments++
		return nil
	}
	switch p.st.Format {
	case Hosts:
		return p.hostsLine(s)
	case Adblock:
		return p.adblockLine(s)
	case URLs:
		return p.urlLine(s)
	default:
		return p.domainLine(s)
	}
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func (p *parser) domainLine(s string) error {
	s = stripComment(s)
	if strings.ContainsAny(s, " \t") {
		p.skip(ReasonFields, s)
		return nil
	}
	return p.host(Domain, s)
}

func (p *parser) host(k Kind, s string) error {
	if strings.HasPrefix(s, "*.") {
		p.skip(ReasonWildcard, s)
		return nil
	}
	if isLocalName(s) {
		p.skip(ReasonLocal, s)
		return nil
	}
	h, err := hostname.Normalize(s)
	if err != nil {
		p.skip(ReasonBadHost, s+": "+err.Error())
		return nil
	}
	if k == Domain && !p.opt.Allow {
		switch wholeness(h) {
		case suffix:
			p.skip(ReasonSuffix, s)
			return nil
		case institution:
			p.skip(ReasonInstitution, s)
			return nil
		}
	}
	return p.emit(k, h)
}

type whole uint8

const (
	site        whole = iota // an ordinary name
	suffix                   // a registry or hosting platform
	institution              // all of a university's, a government's or an army's site
)

// wholeness spots block entries that name more than a site. A public
// suffix (jp, sakura.ne.jp, akamaiedge.net, blogspot.com) is thousands of
// other people's sites. The whole domain of an institution in a registry
// only accredited institutions may use (ucla.edu, virginia.gov, itu.int,
// ox.ac.uk, tsinghua.edu.cn, nsw.gov.au) is a school's or a public
// body's site, never an adult or gambling site, however many pages of it
// once were. Real lists carry both by mistake (Bon-Appetit's adult list
// blocks akamaiedge.net, purdue.edu and virginia.gov whole). Names below
// such a domain (a student's pages) are still listed by their own names.
func wholeness(h string) whole {
	if hostname.IsIP(h) {
		return site
	}
	ps, _ := publicsuffix.PublicSuffix(h)
	if ps == h {
		return suffix
	}
	if len(h) > len(ps) && strings.IndexByte(h[:len(h)-len(ps)-1], '.') < 0 && isInstitutional(ps) {
		return institution
	}
	return site
}

// isInstitutional says whether a public suffix is a registry reserved to
// institutions: edu, gov, mil and int, and a country's "ac", "edu",
// "gov", "gob", "gouv", "govt", "mil", "sch" or "k12" zones (edu.cn,
// gov.uk, ac.jp, gob.mx, gouv.fr, govt.nz, k12.ca.us). A bare country
// code is not: "ac" is Ascension Island.
func isInstitutional(ps string) bool {
	switch ps {
	case "edu", "gov", "mil", "int":
		return true
	}
	if strings.IndexByte(ps, '.') < 0 {
		return false
	}
	for l := range strings.SplitSeq(ps, ".") {
		switch l {
		case "ac", "edu", "gov", "gob", "gouv", "govt", "mil", "sch", "k12":
			return true
		}
	}
	return false
}

// isLocalName spots the names hosts files map to themselves; listing them
// as blocked would break the machine, not protect anyone.
func isLocalName(s string) bool {
	switch strings.ToLower(strings.TrimSuffix(s, ".")) {
	case "localhost", "localhost.localdomain", "local", "broadcasthost",
		"ip6-localhost", "ip6-loopback", "ip6-localnet", "ip6-mcastprefix",
		"ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0":
		return true
	}
	return false
}

func (p *parser) hostsLine(s string) error {
	s = stripComment(s)
	if s == "" {
		p.st.Comments++
		return nil
	}
	f := strings.Fields(s)
	if len(f) < 2 {
		p.skip(ReasonFields, s)
		return nil
	}
	if !looksLikeAddress(f[0]) {
		p.skip(ReasonBadAddress, f[0])
		return nil
	}
	for _, name := range f[1:] {
		if err := p.host(Domain, name); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) adblockLine(s string) error {
	if s[0] == '!' || s[0] == '[' {
		p.st.Comments++
		return nil
	}
	k := Domain
	rule := s
	if strings.HasPrefix(rule, "@@") {
		k, rule = AllowDomain, rule[2:]
	}
	// Only "||name^" has a meaning this filter can honour exactly; a
	// modifier, a path or a missing "^" changes what the rule matches.
	if !strings.HasPrefix(rule, "||") || !strings.HasSuffix(rule, "^") {
		p.skip(ReasonUnsupported, s)
		return nil
	}
	name := rule[2 : len(rule)-1]
	if strings.ContainsAny(name, "/*^|$") {
		p.skip(ReasonUnsupported, s)
		return nil
	}
	return p.host(k, name)
}

func (p *parser) urlLine(s string) error {
	if strings.ContainsAny(s, " \t") {
		p.skip(ReasonFields, s)
		return nil
	}
	v, err := NormalizeURL(s)
	if err != nil {
		p.skip(ReasonBadHost, s+": "+err.Error())
		return nil
	}
	return p.emit(URL, v)
}

// NormalizeURL puts a URL-list entry, or a request URL, into the form URL
// entries are compared in: "host/path", the host normalised and without a
// leading "www.", the scheme and any fragment dropped, the path as given.
// A bare host gives "host/".
func NormalizeURL(s string) (string, error) {
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	host, path := s, "/"
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		host, path = s[:i], s[i:]
		if path[0] == '?' {
			path = "/" + path
		}
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:] // user info never names the site
	}
	h, err := hostname.Normalize(host)
	if err != nil {
		return "", err
	}
	return hostname.TrimWWW(h) + path, nil
}

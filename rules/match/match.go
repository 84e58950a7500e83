// Package match answers "is this host (or URL) listed, and by which
// entry?" with compiled, immutable sets built once from list entries.
//
// A DomainSet holds domain entries. An entry matches itself and every
// subdomain on a label boundary: "example.com" matches "example.com" and
// "www.example.com", never "badexample.com". An IPv4 entry matches only
// that address (IPv6 entries likewise). When several entries match a host, the longest (most
// specific) one is reported.
//
// A URLSet holds "host/path" entries (UT1 urls): a request matches when its
// host equals the entry's host (both without a leading "www.") and its
// path-and-query is the entry's path or lies under it. Both paths are
// compared in the normal form of NormalizePath (dot segments removed,
// slashes merged, unreserved escapes and "%2F" decoded, case folded: see
// there for why without case), so "//a/./b", "/a/x/../b", "/a%2Fb" and
// "/A/B" are all "/a/b". An entry matches on a boundary: "/health" is
// "/health", "/health/..." and "/health?...", never "/healthy"; an entry
// with a query ("/p?id=1") takes further parameters ("&x=2") but not a
// longer value ("?id=12"). An entry that means any continuation says so
// by ending in "*" ("/secret*" takes "/secretary"), or, inside a query,
// in "=" or "&" ("/p?id=" takes any id). UT1 lists are prefix lists, but
// their entries name whole segments (a directory, a page, a page with its
// query), which the boundary keeps; a "#" fragment in an entry is
// ignored, as browsers never send one.
//
// Everything is compared in normal form (package hostname); callers
// normalise at the boundary. Sets are safe for concurrent use and never
// change after Build. Lookups do not allocate.
//
// Layout, for memory and cache misses: a DomainSet keeps every entry once
// in a single string, grouped into hash buckets of about four entries
// (a record is a length byte, a hash tag byte, the name, its source and
// line as uvarints), an index of each bucket's start, and in front two
// filters. A blocked Bloom filter of 12 bits per entry files an entry's
// bits in the block of its base (its last two labels, three under co.uk
// and the like), so one cache line answers for every suffix of a host.
// Before it, a gate of 6 bits per entry holds the bases alone: small
// enough to stay in cache between lookups, it turns away most unlisted
// hosts (about 94 % of those whose base is unlisted) after hashing only
// their base, without touching the larger filter. A host that is listed
// costs its bucket. About 24.5 bytes per entry.
package match

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"runtime"
	"sort"
	"strings"
	"unsafe"

	"github.com/greengate/greengate/rules/hostname"
)

// Match is one matching entry.
type Match struct {
	Entry  string // the listed name or "host/path"
	Source string // the list it came from
	Line   int    // its line there
}

// maxSuffixes bounds the suffixes of one host that are probed. A host with
// more labels is checked on its 32 shortest suffixes, which are the ones
// lists name: extra labels on the left cannot hide a listed domain.
const maxSuffixes = 32

// Query is a host prepared for probing several sets: its label suffixes,
// longest first, and their hashes. Prepare one with Reset (or NewQuery) and
// reuse it for every set; it lives on the caller's stack.
type Query struct {
	host  string
	first int  // suffixes are off[first:], hash[first:]
	cc3   bool // the base may be three labels long (see baseOf)
	// hashed is where hash[] is filled from: Reset hashes only the
	// bases, which answer most misses; the rest wait for a set whose
	// base filter lets the host through.
	hashed int
	off    [maxSuffixes]uint8
	hash   [maxSuffixes]uint64
}

// seed keys the hash of every set in the process. It is fixed at start
// and never changes, so one Query serves every set; being random per
// process, a list cannot be crafted to collide on purpose.
var seed = maphash.MakeSeed()

func hashOf(s string) uint64 { return maphash.String(seed, s) }

// NewQuery prepares a normalised host.
func NewQuery(host string) Query {
	var q Query
	q.Reset(host)
	return q
}

// Reset prepares q for a normalised host. Its suffixes of two labels or
// more are probed: a single label is never an entry, so bare top-level
// names cost nothing. An address is probed whole, never by suffix.
func (q *Query) Reset(host string) {
	q.host = host
	q.first = maxSuffixes
	q.hashed = maxSuffixes
	q.cc3 = false
	if len(host) == 0 || len(host) > 255 {
		return
	}
	if hostname.IsIP(host) {
		q.first--
		q.off[q.first], q.hash[q.first] = 0, hashOf(host)
		q.hashed = q.first
		return
	}
	// Suffixes are stored from the back, shortest first, so the longest
	// ends up first; extra labels past maxSuffixes are never reached.
	end := strings.LastIndexByte(host, '.')
	if end < 0 {
		return
	}
	for k := maxSuffixes; k > 0; {
		i := strings.LastIndexByte(host[:end], '.')
		k--
		q.off[k] = uint8(i + 1)
		q.first = k
		if i < 0 {
			break
		}
		end = i
	}
	q.cc3 = q.first <= maxSuffixes-2 && countryStyle(host[q.off[maxSuffixes-1]:])
	q.hashed = max(q.first, maxSuffixes-2)
	for k := q.hashed; k < maxSuffixes; k++ {
		q.hash[k] = hashOf(host[q.off[k]:])
	}
}

// hashAll fills in the hashes Reset left out.
func (q *Query) hashAll() {
	for k := q.first; k < q.hashed; k++ {
		q.hash[k] = hashOf(q.host[q.off[k]:])
	}
	q.hashed = q.first
}

// DomainSet is a compiled set of domain entries.
type DomainSet struct {
	gate    []uint64 // bases of the entries, gateK bits each, in one word
	bloom   []uint64 // blocked Bloom filter, 8 words (one cache line) a block
	index   []uint32 // bucket i's records are blob[index[i]:index[i+1]]
	blob    string   // records grouped by bucket: len, tag, name, uvarint source, uvarint line
	n       int
	sources []string
	// mapped says bloom, index and blob live in a mapping that is
	// released once the set is garbage: a string that outlives the set
	// must then be a copy (see record).
	mapped  bool
	outside int // bytes of that mapping
}

// OutsideHeap is how many bytes the set holds outside the Go heap, which
// runtime.MemStats does not count: its tables when it is big enough to
// have a mapping of its own (see Build), else 0.
func (s *DomainSet) OutsideHeap() int {
	if s == nil {
		return 0
	}
	return s.outside
}

// Len is the number of distinct entries.
func (s *DomainSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Contains reports whether host (normalised) or a parent domain is listed.
func (s *DomainSet) Contains(host string) bool {
	q := NewQuery(host)
	_, ok := s.lookup(&q)
	return ok
}

// Lookup returns the most specific entry matching host (normalised).
func (s *DomainSet) Lookup(host string) (Match, bool) {
	q := NewQuery(host)
	return s.LookupQuery(&q)
}

// LookupQuery is Lookup for a prepared query.
func (s *DomainSet) LookupQuery(q *Query) (Match, bool) {
	off, ok := s.lookup(q)
	if !ok {
		return Match{}, false
	}
	m, _ := s.record(int(off))
	return m, true
}

// Has reports whether the exact name is an entry (not a parent of it).
func (s *DomainSet) Has(name string) bool {
	if s == nil || s.n == 0 {
		return false
	}
	h := hashOf(name)
	if !hasBits(s.block(baseHash(name, h)), h) {
		return false
	}
	_, ok := s.find(name, h)
	return ok
}

func (s *DomainSet) lookup(q *Query) (uint32, bool) {
	if s == nil || s.n == 0 || q.first == maxSuffixes {
		return 0, false
	}
	// A host none of whose possible bases is an entry's base has no
	// candidate: most misses end here, in the gate's one word.
	if !s.gated(q.hash[maxSuffixes-1]) && !(q.cc3 && s.gated(q.hash[maxSuffixes-2])) {
		return 0, false
	}
	// Every entry is filed in the Bloom block of its base, so all the
	// suffixes of a host are checked in one cache line (two under co.uk
	// and the like). The line is asked for before the rest of the
	// suffixes are hashed, so its miss overlaps that work.
	b2 := s.block(q.hash[maxSuffixes-1])
	b3 := b2
	if q.cc3 {
		b3 = s.block(q.hash[maxSuffixes-2])
	}
	listed := hasBits(b2, q.hash[maxSuffixes-1])
	if q.hashed > q.first {
		q.hashAll()
	}
	for i := q.first; i < maxSuffixes-1; i++ {
		h := q.hash[i]
		if !hasBits(b3, h) {
			continue
		}
		if off, ok := s.find(q.host[q.off[i]:], h); ok {
			return off, true
		}
	}
	if listed {
		return s.find(q.host[q.off[maxSuffixes-1]:], q.hash[maxSuffixes-1])
	}
	return 0, false
}

// Bloom filter shape: bloomBits per entry, bloomK bits set per entry, all
// in one 512-bit block chosen by the hash, so a probe is one cache line.
const (
	bloomBits  = 12
	bloomK     = 4
	bucketSize = 4 // entries per bucket on average
)

// Gate shape: gateBits per entry (fewer per base, as entries share
// bases), gateK bits a base, all in one word. At 1M entries it is 0.7 MB
// beside the Bloom filter's 1.4 MB: a loop of lookups keeps it in cache
// where the Bloom filter, which the blob's lines push out, stays only in
// part, and that is the difference between a miss in cache and one
// from memory. About 6 % of unlisted bases pass it.
const (
	gateBits = 6
	gateK    = 3
)

// gateWord is the gate's word for a base's hash and the bits to test in
// it. The hash is mixed first: its raw bits already place the base in
// the Bloom filter, and the two filters must err independently.
func gateWord(bh uint64, words int) (int, uint64) {
	x := (bh ^ bh>>32) * 0xd6e8feb86659fd93
	x ^= x >> 32
	var m uint64
	for k := 0; k < gateK; k++ {
		m |= 1 << (x >> (6 * k) & 63)
	}
	return int((x >> 32) * uint64(words) >> 32), m
}

// gated reports whether a base may be the base of an entry.
func (s *DomainSet) gated(bh uint64) bool {
	i, m := gateWord(bh, len(s.gate))
	return s.gate[i]&m == m
}

// block is the Bloom block of a base's hash.
func (s *DomainSet) block(bh uint64) *[8]uint64 {
	b := (bh >> 32) * uint64(len(s.bloom)/8) >> 32 * 8
	return (*[8]uint64)(s.bloom[b : b+8])
}

// hasBits reports whether all of h's bits are set in a block.
func hasBits(w *[8]uint64, h uint64) bool {
	for k := 0; k < bloomK; k++ {
		bit := h >> (9 * k) & 511
		if w[bit>>6]&(1<<(bit&63)) == 0 {
			return false
		}
	}
	return true
}

// baseHash is the hash of name's base (see baseOf), given its own hash.
func baseHash(name string, h uint64) uint64 {
	if b := baseOf(name); len(b) != len(name) {
		return hashOf(b)
	}
	return h
}

// baseOf is the suffix of an entry that picks its Bloom block: its last
// two labels, or three under a country-style second level such as co.uk
// or com.br (else every entry there would share one block); an address
// whole. An entry that matches a host is a suffix of it, so it has the
// same base as the host's suffix of its own length: a query finds every
// candidate in the block of its two-label suffix (that suffix itself)
// and, when country-style, of its three-label suffix (all longer ones).
func baseOf(name string) string {
	if hostname.IsIP(name) {
		return name
	}
	i := strings.LastIndexByte(name, '.')
	j := strings.LastIndexByte(name[:i], '.')
	if j < 0 {
		return name
	}
	if countryStyle(name[j+1:]) {
		k := strings.LastIndexByte(name[:j], '.')
		return name[k+1:]
	}
	return name[j+1:]
}

// countryStyle reports whether a two-label name looks like a public
// second level under a country: a label of at most three letters under a
// two-letter top level (co.uk, com.br, ne.jp).
func countryStyle(two string) bool {
	i := strings.IndexByte(two, '.')
	return i > 0 && i <= 3 && len(two)-i-1 == 2
}

func (s *DomainSet) addBloom(name string, h uint64) {
	bh := baseHash(name, h)
	i, m := gateWord(bh, len(s.gate))
	s.gate[i] |= m
	w := s.block(bh)
	for k := 0; k < bloomK; k++ {
		bit := h >> (9 * k) & 511
		w[bit>>6] |= 1 << (bit & 63)
	}
}

func bucketOf(h uint64, buckets int) int {
	i, _ := bits.Mul64(h, uint64(buckets))
	return int(i)
}

func tagOf(h uint64) byte { return byte(h >> 40) }

// find scans name's bucket: its records sit together, so after the first
// cache miss the rest of the scan is in cache.
func (s *DomainSet) find(name string, h uint64) (uint32, bool) {
	return s.scan(name, h, int(s.index[bucketOf(h, len(s.index)-1)]))
}

// scan looks for name in the bucket that starts at off.
func (s *DomainSet) scan(name string, h uint64, off int) (uint32, bool) {
	end := len(s.blob)
	if b := bucketOf(h, len(s.index)-1); b+1 < len(s.index) {
		end = int(s.index[b+1])
	}
	tag := tagOf(h)
	for off < end {
		l := int(s.blob[off])
		if l == len(name) && s.blob[off+1] == tag && s.blob[off+2:off+2+l] == name {
			return uint32(off), true
		}
		off += recordLen(s.blob, off)
	}
	return 0, false
}

func (s *DomainSet) record(off int) (Match, int) {
	l := int(s.blob[off])
	name := s.blob[off+2 : off+2+l]
	src, n1 := uvarint(s.blob[off+2+l:])
	line, n2 := uvarint(s.blob[off+2+l+n1:])
	if s.mapped {
		name = strings.Clone(name)
	}
	m := Match{Entry: name, Line: int(line)}
	if src < uint64(len(s.sources)) {
		m.Source = s.sources[src]
	}
	return m, 2 + l + n1 + n2
}

func uvarint(s string) (uint64, int) {
	var x uint64
	var sh uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<sh, i + 1
		}
		x |= uint64(b&0x7f) << sh
		sh += 7
	}
	return 0, len(s) + 1 // never in a record Build wrote; ends any scan
}

func recordLen(blob string, off int) int {
	l := int(blob[off])
	_, n1 := uvarint(blob[off+2+l:])
	_, n2 := uvarint(blob[off+2+l+n1:])
	return 2 + l + n1 + n2
}

// Entries calls fn for every entry, in no particular order, until fn
// returns false. It is for building bundles and diffs, not for matching.
func (s *DomainSet) Entries(fn func(Match) bool) {
	if s == nil {
		return
	}
	for off := 0; off < len(s.blob); {
		m, n := s.record(off)
		if !fn(m) {
			return
		}
		off += n
	}
}

// MaxBlob is the most entry bytes one DomainSet holds (about 40 million
// entries of average length).
const MaxBlob = 1 << 30

// DomainBuilder collects entries for a DomainSet. It is not safe for
// concurrent use. Entries are added already normalised (package hostname);
// Add refuses what cannot be: empty, over 253 bytes, or a single label.
type DomainBuilder struct {
	blob    []byte   // records in the order added
	table   []uint64 // hash>>32<<32 | (offset + 1), for duplicates; load <= 1/2
	n       int
	dups    int
	sources []string
	src     uint64
}

// Source names the list the following Adds come from.
func (b *DomainBuilder) Source(name string) {
	for i, s := range b.sources {
		if s == name {
			b.src = uint64(i)
			return
		}
	}
	b.sources = append(b.sources, name)
	b.src = uint64(len(b.sources) - 1)
}

// Add adds a normalised entry found at line of the current source. It
// reports false for a duplicate (the first occurrence is kept) or a name
// that cannot be an entry.
func (b *DomainBuilder) Add(name string, line int) bool {
	if len(name) == 0 || len(name) > 253 || line < 0 || strings.IndexAny(name, ".:") < 0 {
		return false
	}
	if len(b.blob)+len(name)+32 > MaxBlob {
		return false
	}
	if len(b.sources) == 0 {
		b.Source("")
	}
	if 2*(b.n+1) > len(b.table) {
		b.grow()
	}
	h := hashOf(name)
	slot, dup := b.probe(h, name)
	if dup {
		b.dups++
		return false
	}
	off := len(b.blob)
	b.blob = append(b.blob, byte(len(name)), tagOf(h))
	b.blob = append(b.blob, name...)
	b.blob = binary.AppendUvarint(b.blob, b.src)
	b.blob = binary.AppendUvarint(b.blob, uint64(line))
	b.table[slot] = h>>32<<32 | uint64(off+1)
	b.n++
	return true
}

// probe finds name's slot in the build table: where it is, or the empty
// slot where it goes.
func (b *DomainBuilder) probe(h uint64, name string) (uint64, bool) {
	size := uint64(len(b.table))
	i := (h >> 32) * size >> 32
	for {
		v := b.table[i]
		if v == 0 {
			return i, false
		}
		if v>>32 == h>>32 {
			off := v&0xffffffff - 1
			l := uint64(b.blob[off])
			if int(l) == len(name) && string(b.blob[off+2:off+2+l]) == name {
				return i, true
			}
		}
		if i++; i == size {
			i = 0
		}
	}
}

func (b *DomainBuilder) grow() {
	size := 2 * len(b.table)
	if size < 1024 {
		size = 1024
	}
	old := b.table
	b.table = make([]uint64, size)
	for _, v := range old {
		if v == 0 {
			continue
		}
		// The slot keeps the hash's high half, which is all the index uses.
		i := (v >> 32) * uint64(size) >> 32
		for b.table[i] != 0 {
			if i++; i == uint64(size) {
				i = 0
			}
		}
		b.table[i] = v
	}
}

// Duplicates is how many Adds were refused as already present.
func (b *DomainBuilder) Duplicates() int { return b.dups }

// Len is the number of distinct entries so far.
func (b *DomainBuilder) Len() int { return b.n }

// Build compiles the set. The builder is reset and may be reused.
func (b *DomainBuilder) Build() *DomainSet {
	// The records as a string let the loops below slice names and hash
	// them without a conversion, and so an allocation, per record. No
	// copy: the builder is reset below and never writes them again.
	var in string
	if len(b.blob) > 0 {
		in = unsafe.String(&b.blob[0], len(b.blob))
	}
	s := &DomainSet{n: b.n, sources: b.sources}
	*b = DomainBuilder{}
	buckets := s.n/bucketSize + 1
	nbloom := 8 * ((s.n*bloomBits+511)/512 + 1)
	ngate := (s.n*gateBits+63)/64 + 1
	size := 8*ngate + 8*nbloom + 4*(buckets+1) + len(in)
	var mem []byte
	if size >= minOutside {
		mem, s.mapped = outside(size)
	} else {
		mem = heapBytes(size)
	}
	// The filters' words first, so they are aligned as a mapping (or any
	// allocation this big) is.
	s.bloom = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[0])), nbloom)
	s.gate = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[8*nbloom])), ngate)
	s.index = unsafe.Slice((*uint32)(unsafe.Pointer(&mem[8*nbloom+8*ngate])), buckets+1)
	out := mem[8*nbloom+8*ngate+4*(buckets+1):]
	// Counting sort of the records by bucket: sizes, offsets, then copy.
	hashes := make([]uint64, 0, s.n)
	for off := 0; off < len(in); {
		l := int(in[off])
		name := in[off+2 : off+2+l]
		h := hashOf(name)
		hashes = append(hashes, h)
		s.addBloom(name, h)
		n := recordLen(in, off)
		s.index[bucketOf(h, buckets)+1] += uint32(n)
		off += n
	}
	for i := 1; i <= buckets; i++ {
		s.index[i] += s.index[i-1]
	}
	next := make([]uint32, buckets)
	copy(next, s.index[:buckets])
	for off, k := 0, 0; off < len(in); k++ {
		n := recordLen(in, off)
		bk := bucketOf(hashes[k], buckets)
		copy(out[next[bk]:], in[off:off+n])
		next[bk] += uint32(n)
		off += n
	}
	if len(out) > 0 {
		// out is never written again, so it can be the string itself
		// rather than be copied into one.
		s.blob = unsafe.String(&out[0], len(out))
	}
	if s.mapped {
		s.outside = size
		seal(mem)
		runtime.AddCleanup(s, release, mem)
	}
	return s
}

// heapBytes is n bytes from the heap, aligned for the Bloom words.
func heapBytes(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// minOutside is the smallest set kept outside the heap: a page or two
// is not worth a mapping of its own.
const minOutside = 64 << 10

// URLSet is a compiled set of "host/path" prefix entries.
type URLSet struct {
	hosts map[string][]urlEntry // by host; paths sorted longest first
	n     int
}

type urlEntry struct {
	path   string // normal form (NormalizePath)
	listed string // as the list wrote it, for reports
	prefix bool   // matches any continuation, not only at a boundary
	source string
	line   int
}

// Len is the number of distinct entries.
func (s *URLSet) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Lookup matches a request's normalised host (without a leading "www."
// removed or not: it is removed here) and its path with query as sent;
// the path is put in normal form here, and only for a host with entries.
// The longest matching entry is returned.
func (s *URLSet) Lookup(host, pathQuery string) (Match, bool) {
	if s == nil || s.n == 0 {
		return Match{}, false
	}
	host = hostname.TrimWWW(host)
	es := s.hosts[host]
	if len(es) == 0 {
		return Match{}, false
	}
	r := NormalizePath(pathQuery)
	for _, e := range es {
		if pathMatches(r, e.path, e.prefix) {
			return Match{Entry: host + e.listed, Source: e.source, Line: e.line}, true
		}
	}
	return Match{}, false
}

// Hosts calls fn with every host that has URL entries.
func (s *URLSet) Hosts(fn func(host string) bool) {
	if s == nil {
		return
	}
	for h := range s.hosts {
		if !fn(h) {
			return
		}
	}
}

// Entries calls fn for every entry, in no particular order.
func (s *URLSet) Entries(fn func(Match) bool) {
	if s == nil {
		return
	}
	for h, es := range s.hosts {
		for _, e := range es {
			if !fn(Match{Entry: h + e.listed, Source: e.source, Line: e.line}) {
				return
			}
		}
	}
}

// URLBuilder collects entries for a URLSet.
type URLBuilder struct {
	hosts  map[string][]urlEntry
	source string
	n      int
	dups   int
}

// Source names the list the following Adds come from.
func (b *URLBuilder) Source(name string) { b.source = name }

// Add adds a "host/path" entry whose host is normalised (as
// lists.NormalizeURL gives); the path is put in normal form here (see
// URLSet for what an entry matches). It reports false for a duplicate,
// one with the same normal form included, or an entry without a "/".
func (b *URLBuilder) Add(entry string, line int) bool {
	i := strings.IndexByte(entry, '/')
	if i <= 0 {
		return false
	}
	host, listed := entry[:i], entry[i:]
	path, prefix := entryPath(listed)
	if b.hosts == nil {
		b.hosts = map[string][]urlEntry{}
	}
	for _, e := range b.hosts[host] {
		if e.path == path && e.prefix == prefix {
			b.dups++
			return false
		}
	}
	b.hosts[host] = append(b.hosts[host], urlEntry{path: path, listed: listed, prefix: prefix, source: b.source, line: line})
	b.n++
	return true
}

// Duplicates is how many Adds were refused as already present.
func (b *URLBuilder) Duplicates() int { return b.dups }

// Build compiles the set. The builder is reset.
func (b *URLBuilder) Build() *URLSet {
	for _, es := range b.hosts {
		sort.SliceStable(es, func(i, j int) bool { return len(es[i].path) > len(es[j].path) })
	}
	s := &URLSet{hosts: b.hosts, n: b.n}
	*b = URLBuilder{}
	return s
}

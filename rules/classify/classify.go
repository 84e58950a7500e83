// Package classify scores host names for adult content from the name
// alone, for the sites no list has yet.
//
// It sees what the proxy sees without decrypting: the host name. The
// name's own labels (below the public suffix, or below a blog platform
// such as blogspot.com, tumblr.com or wordpress.com, where the adult part
// is the subdomain) are split into words with a vocabulary — the Debian
// English dictionaries, the Mandarin pinyin syllables, names of places
// and brands that contain a risky string (essex, scunthorpe, therapist,
// analog) and a short lexicon of the adult web — by the split with the
// fewest pieces, so "essexcc" reads "essex"+"cc" and never "es"+"sex".
// The features are those words, the top-level domain and a few shapes
// (digits, hyphens, subdomains, letters no word covers). The score is a
// logistic regression on them: a bias plus one weight per feature,
// fitted at build time (internal/train) on part of the shipped adult
// lists and of a set of well-known benign names, and shipped as data
// (data/model.txt, data/vocab.txt.gz). There is no network and no
// download.
//
// A name is classified only when its score reaches the model's threshold
// and at least one word (or the TLD) weighs enough on its own: shapes
// alone never block. Every block explains itself with the words that
// decided it: "classifier: porn+tube (score 4.1)".
//
// A Classifier is immutable apart from its verdict cache, which is a
// fixed-size, lock-free, direct-mapped table: Classify is safe for
// concurrent use, never blocks, and its memory is bounded.
package classify

// Refit the weights (and, with wamerican and wbritish installed, rebuild
// the vocabulary with -vocab) from the module root:
//go:generate sh -c "cd ../.. && go run ./rules/classify/internal/train"

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/net/publicsuffix"

	"github.com/greengate/greengate/rules/hostname"
)

//go:embed data/vocab.txt.gz
var vocabGz []byte

//go:embed data/model.txt
var modelTxt []byte

//go:embed data/lexicon.txt
var lexiconTxt string

//go:embed data/suggestive.txt
var suggestiveTxt string

//go:embed data/safe.txt
var safeTxt string

// Category is the category the shipped model names.
const Category = "adult"

// Feature kinds.
const (
	KindWord  byte = 'w' // a vocabulary word of the name
	KindTLD   byte = 't' // the top-level domain
	KindShape byte = 's' // digits, hyphen, letters no word covers, a long name
)

// Feature is one thing the score adds a weight for.
type Feature struct {
	Kind byte
	Text string
}

// Key is the feature's name in the model file: "w porn", "t xxx", "s digit".
func (f Feature) Key() string { return string(f.Kind) + " " + f.Text }

// Platforms are hosting platforms whose subdomains are other people's
// sites: the subdomain is the name.
var platforms = []string{
	"blogspot.com", "tumblr.com", "wordpress.com", "livejournal.com", "weebly.com",
	"wixsite.com", "github.io", "blogger.com", "over-blog.com", "webnode.com",
	"jimdo.com", "jimdofree.com", "tistory.com", "ucoz.ru", "narod.ru", "free.fr",
	"substack.com", "medium.com", "neocities.org", "angelfire.com", "tripod.com",
}

// Weights is a fitted model.
type Weights struct {
	Bias      float32
	Threshold float32 // the score from which a name is classified
	MinDecide float32 // the weight one word or TLD must reach for a block
	Words     map[string]float32
	TLDs      map[string]float32
	Shapes    map[string]float32
	// Levels, when not nil, are the only words that may decide a block
	// (with an adult-only TLD): other words add to the score but never
	// decide. A name with a Safe word is never classified.
	Levels map[string]uint8
	Safe   map[string]bool
}

// Classifier classifies host names. Build it with New or NewModel.
type Classifier struct {
	v     *vocab
	w     Weights
	seed  maphash.Seed
	cache []atomic.Pointer[cached]
}

type cached struct {
	host string
	res  Result
}

// CacheSize is the number of verdicts kept, one per slot of a
// direct-mapped table: a new name evicts the one in its slot.
const CacheSize = 1 << 13

// Result is a classification.
type Result struct {
	Score float32
	Block bool   // the score reaches the threshold and a word decides
	Why   string // the words that decided, "porn+tube", when Block
}

// Entry is how a block reads in a verdict: "classifier: porn+tube (score 4.1)".
func (r Result) Entry() string {
	return fmt.Sprintf("classifier: %s (score %.1f)", r.Why, r.Score)
}

// New returns the shipped classifier.
func New() (*Classifier, error) {
	words, err := ShippedVocab()
	if err != nil {
		return nil, err
	}
	w, err := ParseWeights(bytes.NewReader(modelTxt))
	if err != nil {
		return nil, fmt.Errorf("reading embedded model: %w", err)
	}
	return NewModel(words, w), nil
}

// Word levels in Weights.Levels.
const (
	Suggestive uint8 = 1 // two of them decide, or one with a Decisive word
	Decisive   uint8 = 2 // decides alone
)

// Lexicon returns the levels of the words that may decide a block
// (data/lexicon.txt less data/suggestive.txt are Decisive; the
// suggestive ones Suggestive) and the safe words (data/safe.txt) that
// keep a name from being classified at all.
func Lexicon() (levels map[string]uint8, safe map[string]bool) {
	levels, safe = map[string]uint8{}, map[string]bool{}
	for _, w := range fields(lexiconTxt) {
		levels[w] = Decisive
	}
	for _, w := range fields(suggestiveTxt) {
		levels[w] = Suggestive
	}
	for _, w := range fields(safeTxt) {
		safe[w] = true
	}
	return levels, safe
}

// LexiconWords are all the words of the lexicon files, for the vocabulary.
func LexiconWords() []string {
	return append(append(fields(lexiconTxt), fields(suggestiveTxt)...), fields(safeTxt)...)
}

func fields(txt string) []string {
	var out []string
	for _, line := range strings.Split(txt, "\n") {
		if !strings.HasPrefix(line, "#") {
			out = append(out, strings.Fields(line)...)
		}
	}
	return out
}

// ShippedVocab returns the embedded vocabulary.
func ShippedVocab() ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(vocabGz))
	if err != nil {
		return nil, fmt.Errorf("reading embedded vocabulary: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("reading embedded vocabulary: %w", err)
	}
	return strings.Fields(string(b)), nil
}

// NewModel builds a classifier from a vocabulary and weights (the
// training program builds one with empty weights to compute features).
func NewModel(words []string, w Weights) *Classifier {
	return &Classifier{v: buildVocab(words), w: w, seed: maphash.MakeSeed(), cache: make([]atomic.Pointer[cached], CacheSize)}
}

// Bytes is roughly what the model holds in memory, cache excluded.
func (c *Classifier) Bytes() int {
	n := c.v.bytes()
	for _, m := range []map[string]float32{c.w.Words, c.w.TLDs, c.w.Shapes} {
		for k := range m {
			n += len(k) + 16 + 8 // key bytes, string header, value and bucket share
		}
	}
	return n
}

// Weights returns the model's weights; callers must not change them.
func (c *Classifier) Weights() Weights { return c.w }

// Classify implements policy.Classifier: the category and the entry that
// explains it, for a normalised host the model classifies.
func (c *Classifier) Classify(host string) (category, entry string, ok bool) {
	r := c.Cached(host)
	if !r.Block {
		return "", "", false
	}
	return Category, r.Entry(), true
}

// Cached is Score through the verdict cache.
func (c *Classifier) Cached(host string) Result {
	slot := &c.cache[maphash.String(c.seed, host)&(CacheSize-1)]
	if e := slot.Load(); e != nil && e.host == host {
		return e.res
	}
	r := c.Score(host)
	slot.Store(&cached{host: strings.Clone(host), res: r})
	return r
}

// Score scores a normalised host name, uncached.
func (c *Classifier) Score(host string) Result {
	var buf [16]Feature
	fs := c.Features(host, buf[:0])
	score, decides := c.eval(fs)
	r := Result{Score: score}
	if len(fs) > 0 && decides && score >= c.w.Threshold {
		r.Block = true
		r.Why = c.why(fs)
	}
	return r
}

// Eval is the score of a host whatever the threshold, and whether a
// word decides it (see Weights.MinDecide); -Inf for a name with no
// features. For measuring.
func (c *Classifier) Eval(host string) (score float32, decides bool) {
	var buf [32]Feature
	fs := c.Features(host, buf[:0])
	if len(fs) == 0 {
		return float32(math.Inf(-1)), false
	}
	return c.eval(fs)
}

// eval adds the weights up and says whether the words decide: with a
// lexicon, a Decisive word (or an adult-only TLD) weighing MinDecide or
// more, or two Suggestive words weighing 1 or more each, and no Safe
// word; without one, any word or TLD weighing MinDecide.
func (c *Classifier) eval(fs []Feature) (score float32, decides bool) {
	score = c.w.Bias
	suggest, safe := 0, false
	for _, f := range fs {
		w := c.weight(f)
		score += w
		switch c.level(f) {
		case Decisive:
			decides = decides || w >= c.w.MinDecide
		case Suggestive:
			if w >= 1 {
				suggest++
			}
		}
		safe = safe || f.Kind == KindWord && c.w.Safe[f.Text]
	}
	return score, !safe && (decides || suggest >= 2)
}

// level is how much a feature may decide: every word or TLD is Decisive
// without a lexicon; with one, the lexicon says, and of the TLDs only
// those adult sites alone use (.xxx, .porn, .sex, .adult, .sexy) decide.
func (c *Classifier) level(f Feature) uint8 {
	switch {
	case f.Kind == KindShape:
		return 0
	case c.w.Levels == nil:
		return Decisive
	case f.Kind == KindTLD:
		switch f.Text {
		case "xxx", "porn", "sex", "adult", "sexy":
			return Decisive
		}
		return 0
	}
	return c.w.Levels[f.Text]
}

func (c *Classifier) weight(f Feature) float32 {
	switch f.Kind {
	case KindWord:
		return c.w.Words[f.Text]
	case KindTLD:
		return c.w.TLDs[f.Text]
	}
	return c.w.Shapes[f.Text]
}

// why names the words (and TLD) that pushed the score up most, in the
// order they appear in the name: at most four, each weighing 1 or more.
func (c *Classifier) why(fs []Feature) string {
	type wf struct {
		i int
		w float32
	}
	var top []wf
	for i, f := range fs {
		if f.Kind == KindShape || f.Kind == KindTLD && c.level(f) == 0 {
			continue
		}
		if w := c.weight(f); w >= 1 {
			top = append(top, wf{i, w})
		}
	}
	for len(top) > 4 {
		min := 0
		for j := range top {
			if top[j].w < top[min].w {
				min = j
			}
		}
		top = append(top[:min], top[min+1:]...)
	}
	parts := make([]string, 0, len(top))
	for _, t := range top {
		f := fs[t.i]
		if f.Kind == KindTLD {
			parts = append(parts, "."+f.Text)
		} else {
			parts = append(parts, f.Text)
		}
	}
	return strings.Join(parts, "+")
}

// Tokens splits one label into tokens, for tests and the fuzzer.
func (c *Classifier) Tokens(label string) []Token { return c.v.split(label, nil) }

// Features appends the features of a normalised host to dst: each
// vocabulary word of two letters or more once, the TLD, and the shapes.
// An IP address, a bare public suffix or a name with nothing below its
// suffix has none.
func (c *Classifier) Features(host string, dst []Feature) []Feature {
	if host == "" || len(host) > 253 {
		return dst
	}
	// Only a name ending in a digit or holding a colon can be an address.
	if last := host[len(host)-1]; (last >= '0' && last <= '9' || strings.IndexByte(host, ':') >= 0) && hostname.IsIP(host) {
		return dst
	}
	name, tld := namePart(host)
	if name == "" {
		return dst
	}
	start := len(dst)
	var toks [16]Token
	letters, unknown := 0, 0
	digit, hyphen := false, false
	for name != "" {
		label := name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			label, name = name[:i], name[i+1:]
		} else {
			name = ""
		}
		if label == "" {
			continue
		}
		if strings.IndexByte(label, '-') >= 0 {
			hyphen = true
		}
		if strings.HasPrefix(label, "xn--") {
			continue // an IDN: its letters are not words
		}
		ts := c.v.split(label, toks[:0])
		// Short words count only in a label that words cover whole:
		// "jeroen" is not "j"+"ero"+"en".
		covered := true
		for _, t := range ts {
			if b := t.Text[0]; !t.Known && b >= 'a' && b <= 'z' {
				covered = false
				letters += len(t.Text)
				unknown += len(t.Text)
			} else if b >= '0' && b <= '9' {
				digit = true
			}
		}
		for i, t := range ts {
			if !t.Known {
				continue
			}
			letters += len(t.Text)
			// A word between two runs of letters no word covers is a
			// guess ("c"+"lust"+"r" in clustrmaps): not a feature.
			if i > 0 && i+1 < len(ts) && unknownLetters(ts[i-1]) && unknownLetters(ts[i+1]) {
				continue
			}
			if (len(t.Text) >= 4 || covered && len(t.Text) >= 2) && !hasWord(dst[start:], t.Text) {
				dst = append(dst, Feature{KindWord, t.Text})
			}
		}
	}
	if tld != "" {
		dst = append(dst, Feature{KindTLD, tld})
	}
	if digit {
		dst = append(dst, Feature{KindShape, "digit"})
	}
	if hyphen {
		dst = append(dst, Feature{KindShape, "hyphen"})
	}
	if letters > 0 && unknown*2 > letters {
		dst = append(dst, Feature{KindShape, "unknown"})
	}
	if letters >= 16 {
		dst = append(dst, Feature{KindShape, "long"})
	}
	return dst
}

func unknownLetters(t Token) bool { return !t.Known && t.Text[0] >= 'a' && t.Text[0] <= 'z' }

func hasWord(fs []Feature, w string) bool {
	for _, f := range fs {
		if f.Kind == KindWord && f.Text == w {
			return true
		}
	}
	return false
}

// namePart returns the labels of host below its public suffix (or blog
// platform), without a leading "www", and the last label of the suffix
// when the suffix is a registry's ("com", "uk", "xxx").
func namePart(host string) (name, tld string) {
	for _, p := range platforms {
		if len(host) > len(p)+1 && host[len(host)-len(p)-1] == '.' && strings.HasSuffix(host, p) {
			return trimWWW(host[:len(host)-len(p)-1]), ""
		}
	}
	ps, icann := publicsuffix.PublicSuffix(host)
	if len(ps) >= len(host) {
		return "", ""
	}
	name = trimWWW(host[:len(host)-len(ps)-1])
	if icann || strings.IndexByte(ps, '.') < 0 {
		tld = ps[strings.LastIndexByte(ps, '.')+1:]
	}
	return name, tld
}

func trimWWW(name string) string {
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return name
		}
		switch name[:i] {
		case "www", "www1", "www2", "www3", "m", "mobile", "wap":
			name = name[i+1:]
		default:
			return name
		}
	}
}

// ParseWeights reads a model file: "#" comments, and lines
// "bias X", "threshold X", "mindecide X", "decide lexicon", "w WORD X", "t TLD X", "s SHAPE X".
func ParseWeights(r io.Reader) (Weights, error) {
	w := Weights{Words: map[string]float32{}, TLDs: map[string]float32{}, Shapes: map[string]float32{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		val := func(s string) (float32, error) {
			x, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return 0, fmt.Errorf("model line %d: %w", line, err)
			}
			return float32(x), nil
		}
		switch {
		case len(f) == 2 && f[0] == "decide" && f[1] == "lexicon":
			w.Levels, w.Safe = Lexicon()
		case len(f) == 2 && (f[0] == "bias" || f[0] == "threshold" || f[0] == "mindecide"):
			x, err := val(f[1])
			if err != nil {
				return w, err
			}
			switch f[0] {
			case "bias":
				w.Bias = x
			case "threshold":
				w.Threshold = x
			default:
				w.MinDecide = x
			}
		case len(f) == 3 && (f[0] == "w" || f[0] == "t" || f[0] == "s"):
			x, err := val(f[2])
			if err != nil {
				return w, err
			}
			map[string]map[string]float32{"w": w.Words, "t": w.TLDs, "s": w.Shapes}[f[0]][f[1]] = x
		default:
			return w, fmt.Errorf("model line %d: cannot read %q", line, sc.Text())
		}
	}
	return w, sc.Err()
}

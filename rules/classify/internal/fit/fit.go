// Package fit loads the labelled host names, splits them, fits the
// classifier's weights and measures them. The training program and the
// measurement test share it, so the figures the test asserts are those of
// the same procedure that made the shipped model.
//
// The split is by site (the registrable domain, or the blog below a
// platform) and deterministic: FNV-1a of the site, modulo 10. Parts 0–5
// are fitted on, 6–7 choose the threshold, 8–9 are the test. So www. and
// other subdomains of one site are never on both sides.
package fit

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/greengate/greengate/rules/classify"
	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
	"github.com/greengate/greengate/rules/policy"
)

// Paths of the labelled data, relative to the module root.
var (
	AdultLists = map[string]string{
		"bon-appetit": "rules/defaults/data/lists/bon-appetit/block.txt.gz",
		"sinfonietta": "rules/defaults/data/lists/sinfonietta/pornography-hosts.gz",
		"ut1":         "rules/defaults/data/lists/ut1/adult/urls.gz",
	}
	BenignFiles = []string{
		"rules/defaults/data/allow/wellknown.txt",
		"rules/defaults/testdata/wellknown.txt",
		"rules/classify/data/benign-debian.txt",
	}
	// PopularAdult lists the adult sites found by hand in the popular
	// sample; they are never benign.
	PopularAdult = "rules/classify/data/popular-adult.txt"
)

// Tranco is the popular-sites sample beside the repository, relative to
// the module root: half of Tranco's top 50,000 registrable domains (its
// README says how it was drawn; the other half is kept apart by the
// lead for measuring). It is read, never copied into the repository.
const Tranco = "../shared/data/topsites/tranco-half.txt"

// Data is the labelled names.
type Data struct {
	Adult  map[string][]string // list name -> hosts, "www." trimmed, deduplicated
	Benign []string
	// TrancoRemoved counts the popular names dropped from the benign
	// side because a shipped list of any category blocks them.
	TrancoRemoved, TrancoKept int
	// TrancoReviewed counts the popular names left out as adult by
	// review (PopularAdult).
	TrancoReviewed int
}

// Load reads the labelled data under root (the module root). Benign names
// whose site any adult list names are dropped. When tranco is not "",
// the popular-sites file (lines "rank<TAB>domain") is read too, less the
// names a shipped list of any category blocks: popular is not benign.
func Load(root, tranco string) (*Data, error) {
	d := &Data{Adult: map[string][]string{}}
	adultSites := map[string]bool{}
	for name, p := range AdultLists {
		seen := map[string]bool{}
		_, err := lists.ParseFile(filepath.Join(root, p), lists.Options{}, func(e lists.Entry) error {
			h := e.Value
			switch e.Kind {
			case lists.Domain:
			case lists.URL:
				if i := strings.IndexAny(h, "/?#"); i >= 0 {
					h = h[:i]
				}
			default:
				return nil
			}
			h = hostname.TrimWWW(h)
			if hostname.IsIP(h) || seen[h] {
				return nil
			}
			seen[h] = true
			d.Adult[name] = append(d.Adult[name], h)
			adultSites[Site(h)] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(d.Adult[name])
	}
	seen := map[string]bool{}
	for _, p := range BenignFiles {
		f, err := os.Open(filepath.Join(root, p))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line[0] == '#' {
				continue
			}
			h, err := hostname.Normalize(line)
			if err != nil || hostname.IsIP(h) {
				continue
			}
			h = hostname.TrimWWW(h)
			if _, icann := publicsuffix.PublicSuffix(h); !icann || seen[h] || adultSites[Site(h)] {
				continue
			}
			seen[h] = true
			d.Benign = append(d.Benign, h)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	if tranco != "" {
		eng, err := defaults.ListsEngineBlocking("*")
		if err != nil {
			return nil, err
		}
		reviewed, err := readNames(filepath.Join(root, PopularAdult))
		if err != nil {
			return nil, err
		}
		for _, h := range reviewed {
			seen[h] = true
			d.TrancoReviewed++
		}
		f, err := os.Open(filepath.Join(root, tranco))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			_, name, _ := strings.Cut(sc.Text(), "\t")
			h, err := hostname.Normalize(strings.TrimSpace(name))
			if err != nil || hostname.IsIP(h) {
				continue
			}
			h = hostname.TrimWWW(h)
			if seen[h] {
				continue
			}
			if v := eng.Decide(policy.Request{Host: h}); v.Action == policy.Block || adultSites[Site(h)] {
				d.TrancoRemoved++
				continue
			}
			seen[h] = true
			d.TrancoKept++
			d.Benign = append(d.Benign, h)
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	sort.Strings(d.Benign)
	return d, nil
}

// Site is the registrable domain of h, or the blog below a platform.
func Site(h string) string {
	for _, p := range []string{"blogspot.com", "tumblr.com", "wordpress.com", "livejournal.com", "weebly.com", "wixsite.com"} {
		if rest, ok := strings.CutSuffix(h, "."+p); ok {
			return rest[strings.LastIndexByte(rest, '.')+1:] + "." + p
		}
	}
	s, err := publicsuffix.EffectiveTLDPlusOne(h)
	if err != nil {
		return h
	}
	return s
}

// Part is the split part of a host, 0–9.
func Part(h string) int {
	f := fnv.New32a()
	f.Write([]byte(Site(h)))
	return int(f.Sum32() % 10)
}

// Split parts.
const (
	Train = iota
	Valid
	Test
)

// Role says what a host is used for.
func Role(h string) int {
	switch p := Part(h); {
	case p <= 5:
		return Train
	case p <= 7:
		return Valid
	}
	return Test
}

// Filter keeps the hosts with the role.
func Filter(hosts []string, role int) []string {
	var out []string
	for _, h := range hosts {
		if Role(h) == role {
			out = append(out, h)
		}
	}
	return out
}

// Options tune the fit.
type Options struct {
	Epochs     int     // default 8
	Rate       float64 // Adagrad step, default 0.2
	L2         float64 // default 3e-5 (per weighted example)
	MinSupport int     // a feature must occur in this many training names, default 10
	MinWeight  float64 // weights smaller in magnitude are dropped, default 0.05
	MinDecide  float64 // see classify.Weights, default 2
	AnyWord    bool    // any word may decide, not only the lexicon's
}

func (o *Options) defaults() {
	if o.Epochs == 0 {
		o.Epochs = 8
	}
	if o.Rate == 0 {
		o.Rate = 0.2
	}
	if o.L2 == 0 {
		o.L2 = 3e-5
	}
	if o.MinSupport == 0 {
		o.MinSupport = 10
	}
	if o.MinWeight == 0 {
		o.MinWeight = 0.05
	}
	if o.MinDecide == 0 {
		o.MinDecide = 2.0
	}
}

type example struct {
	feats []int32
	y     float64
	w     float64
}

// Fit fits logistic regression weights on pos and neg with c's
// vocabulary, each class weighing half. The threshold is left at 0.
func Fit(c *classify.Classifier, pos, neg []string, opt Options) classify.Weights {
	opt.defaults()
	support := map[string]int{}
	var buf []classify.Feature
	keys := func(h string) []string {
		buf = c.Features(h, buf[:0])
		ks := make([]string, len(buf))
		for i, f := range buf {
			ks[i] = f.Key()
		}
		return ks
	}
	type raw struct {
		ks []string
		y  float64
	}
	var raws []raw
	for _, h := range pos {
		raws = append(raws, raw{keys(h), 1})
	}
	for _, h := range neg {
		raws = append(raws, raw{keys(h), 0})
	}
	for _, r := range raws {
		for _, k := range r.ks {
			support[k]++
		}
	}
	index := map[string]int32{}
	var names []string
	for k, n := range support {
		if n >= opt.MinSupport {
			index[k] = int32(len(names))
			names = append(names, k)
		}
	}
	n := float64(len(pos) + len(neg))
	wp, wn := n/(2*float64(len(pos))), n/(2*float64(len(neg)))
	exs := make([]example, 0, len(raws))
	for _, r := range raws {
		e := example{y: r.y, w: wp}
		if r.y == 0 {
			e.w = wn
		}
		for _, k := range r.ks {
			if i, ok := index[k]; ok {
				e.feats = append(e.feats, i)
			}
		}
		exs = append(exs, e)
	}
	w := make([]float64, len(names))
	g2 := make([]float64, len(names))
	var bias, bg2 float64
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	for ep := 0; ep < opt.Epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, oi := range order {
			e := &exs[oi]
			z := bias
			for _, f := range e.feats {
				z += w[f]
			}
			p := 1 / (1 + math.Exp(-z))
			g := (p - e.y) * e.w
			bg2 += g * g
			bias -= opt.Rate * g / math.Sqrt(bg2+1e-8)
			for _, f := range e.feats {
				gf := g + opt.L2*e.w*w[f]*n/float64(support[names[f]])
				g2[f] += gf * gf
				w[f] -= opt.Rate * gf / math.Sqrt(g2[f]+1e-8)
			}
		}
	}
	out := classify.Weights{
		Bias:      float32(bias),
		MinDecide: float32(opt.MinDecide),
		Words:     map[string]float32{},
		TLDs:      map[string]float32{},
		Shapes:    map[string]float32{},
	}
	if !opt.AnyWord {
		out.Levels, out.Safe = classify.Lexicon()
	}
	for i, k := range names {
		if math.Abs(w[i]) < opt.MinWeight {
			continue
		}
		v := float32(math.Round(w[i]*100) / 100)
		switch k[0] {
		case classify.KindWord:
			out.Words[k[2:]] = v
		case classify.KindTLD:
			out.TLDs[k[2:]] = v
		default:
			out.Shapes[k[2:]] = v
		}
	}
	return out
}

// Scored is a host and its score; Block says whether a word decides too.
type Scored struct {
	Host  string
	Score float32
	Why   bool // a word or TLD weighs at least MinDecide
}

// ScoreAll scores hosts with c, ignoring its threshold.
func ScoreAll(c *classify.Classifier, hosts []string) []Scored {
	out := make([]Scored, 0, len(hosts))
	for _, h := range hosts {
		s, why := c.Eval(h)
		out = append(out, Scored{Host: h, Score: s, Why: why})
	}
	return out
}

// Rate is the share of scored names classified at threshold t.
func Rate(s []Scored, t float32) float64 {
	if len(s) == 0 {
		return 0
	}
	n := 0
	for _, x := range s {
		if x.Why && x.Score >= t {
			n++
		}
	}
	return float64(n) / float64(len(s))
}

// Threshold is the lowest threshold (in steps of 0.05) at which at most
// maxFP of neg is classified.
func Threshold(neg []Scored, maxFP float64) float32 {
	var ss []float64
	for _, x := range neg {
		if x.Why {
			ss = append(ss, float64(x.Score))
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ss)))
	allowed := int(math.Floor(maxFP * float64(len(neg))))
	t := 0.0
	if allowed < len(ss) {
		// Just above the (allowed+1)-th highest benign score.
		t = ss[allowed] + 1e-6
	}
	t = math.Ceil(t*20) / 20
	return float32(t)
}

// Cross is the measurement of a model fitted without one adult list, on
// that list's sites that the fitted list does not have: the sites no
// shipped list would contain.
type Cross struct {
	Fitted, Held string
	Threshold    float32
	Unlisted     int     // held-out list's hosts whose site the fitted list lacks
	Recall       float64 // of Unlisted, classified
	Benign       int     // benign test names
	FP           float64 // of Benign, classified
}

func (c Cross) String() string {
	return fmt.Sprintf("fit on %s, measured on %d %s names it lacks: recall %.2f%% at threshold %.2f; FP %.3f%% of %d held-out benign",
		c.Fitted, c.Unlisted, c.Held, 100*c.Recall, c.Threshold, 100*c.FP, c.Benign)
}

// CrossList fits on the training part of list fitted alone and measures
// on every name of list held whose site fitted does not list.
func CrossList(d *Data, words []string, fitted, held string, opt Options) Cross {
	sites := map[string]bool{}
	for _, h := range d.Adult[fitted] {
		sites[Site(h)] = true
	}
	var unlisted []string
	for _, h := range d.Adult[held] {
		if !sites[Site(h)] {
			unlisted = append(unlisted, h)
		}
	}
	c := classify.NewModel(words, classify.Weights{})
	w := Fit(c, Filter(d.Adult[fitted], Train), Filter(d.Benign, Train), opt)
	w.Threshold = Threshold(ScoreAll(classify.NewModel(words, w), Filter(d.Benign, Valid)), 0.001)
	m := classify.NewModel(words, w)
	neg := ScoreAll(m, Filter(d.Benign, Test))
	return Cross{
		Fitted: fitted, Held: held, Threshold: w.Threshold,
		Unlisted: len(unlisted), Recall: Rate(ScoreAll(m, unlisted), w.Threshold),
		Benign: len(neg), FP: Rate(neg, w.Threshold),
	}
}

func readNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			out = append(out, line)
		}
	}
	return out, nil
}

// PopularAdultNames returns the reviewed popular adult sites (PopularAdult).
func PopularAdultNames(root string) []string {
	names, _ := readNames(filepath.Join(root, PopularAdult))
	return names
}

// Command train builds the classifier's data: the vocabulary
// (data/vocab.txt.gz, from Debian's English word lists and the
// hand-kept pinyin, places and lexicon files) and the weights
// (data/model.txt, fitted on parts 0–5 of the split, threshold chosen on
// parts 6–7 for at most 0.1 % false positives). It prints the
// measurement on the held-out parts. Run from the module root:
//
//	apt-get install wamerican wbritish   # for -vocab only
//	go run ./rules/classify/internal/train [-vocab]
//
// Without -vocab it reuses the committed vocabulary, so it needs nothing
// but the repository.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"

	"github.com/greengate/greengate/rules/classify"
	"github.com/greengate/greengate/rules/classify/internal/fit"
)

const dir = "rules/classify/data/"

func main() {
	remake := flag.Bool("vocab", false, "rebuild data/vocab.txt.gz from /usr/share/dict")
	report := flag.Bool("report", true, "print the held-out measurement")
	grid := flag.Bool("grid", false, "print the cross-list figures for a few fit options, and stop")
	review := flag.Float64("review", 0, "list every benign name scoring at least this, for review, and stop")
	flag.Parse()
	var words []string
	var err error
	if *remake {
		words, err = buildVocab()
		if err != nil {
			log.Fatal(err)
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write([]byte(strings.Join(words, "\n") + "\n"))
		zw.Close()
		if err := os.WriteFile(dir+"vocab.txt.gz", b.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("vocabulary: %d words, %d bytes compressed", len(words), b.Len())
	} else {
		words, err = classify.ShippedVocab()
		if err != nil {
			log.Fatal(err)
		}
	}
	d, err := fit.Load(".", fit.Tranco)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("benign: %d names (%d popular kept, %d popular removed as listed, %d as adult by review)", len(d.Benign), d.TrancoKept, d.TrancoRemoved, d.TrancoReviewed)
	var adult []string
	for _, name := range []string{"bon-appetit", "sinfonietta", "ut1"} {
		adult = append(adult, d.Adult[name]...)
	}
	adult = dedupe(adult)
	if *grid {
		for _, l2 := range []float64{3e-5} {
			for _, md := range []float64{1.0, 2.0} {
				for _, ms := range []bool{false, true} {
					o := fit.Options{L2: l2, MinDecide: md, AnyWord: ms}
					a := fit.CrossList(d, words, "bon-appetit", "sinfonietta", o)
					b := fit.CrossList(d, words, "sinfonietta", "bon-appetit", o)
					fmt.Printf("l2=%g mindecide=%.1f anyword=%v: BA->S %.2f%% (FP %.3f%%)  S->BA %.2f%% (FP %.3f%%)\n", l2, md, ms, 100*a.Recall, 100*a.FP, 100*b.Recall, 100*b.FP)
				}
			}
		}
		return
	}
	c := classify.NewModel(words, classify.Weights{})
	w := fit.Fit(c, fit.Filter(adult, fit.Train), fit.Filter(d.Benign, fit.Train), fit.Options{})
	m := classify.NewModel(words, w)
	w.Threshold = fit.Threshold(fit.ScoreAll(m, fit.Filter(d.Benign, fit.Valid)), 0.001)
	if err := writeModel(w, len(adult), len(d.Benign)); err != nil {
		log.Fatal(err)
	}
	log.Printf("model: %d words, %d TLDs, threshold %.2f", len(w.Words), len(w.TLDs), w.Threshold)
	if *review != 0 {
		for _, s := range fit.ScoreAll(classify.NewModel(words, w), d.Benign) {
			if s.Why && float64(s.Score) >= *review {
				fmt.Printf("%.2f\t%s\t%s\n", s.Score, s.Host, explain(m, s.Host))
			}
		}
		return
	}
	if !*report {
		return
	}
	m = classify.NewModel(words, w)
	pos := fit.ScoreAll(m, fit.Filter(adult, fit.Test))
	neg := fit.ScoreAll(m, fit.Filter(d.Benign, fit.Test))
	fmt.Printf("held-out test: %d adult, %d benign names\n", len(pos), len(neg))
	fmt.Printf("%9s %8s %8s\n", "threshold", "recall", "FP")
	for _, t := range []float32{w.Threshold - 2, w.Threshold - 1, w.Threshold - 0.5, w.Threshold, w.Threshold + 0.5, w.Threshold + 1, w.Threshold + 2} {
		mark := ""
		if t == w.Threshold {
			mark = "  <- chosen"
		}
		fmt.Printf("%9.2f %7.2f%% %7.3f%%%s\n", t, 100*fit.Rate(pos, t), 100*fit.Rate(neg, t), mark)
	}
	sort.Slice(neg, func(i, j int) bool { return neg[i].Score > neg[j].Score })
	fmt.Println("\n30 highest-scoring held-out benign names:")
	for _, s := range neg[:min(30, len(neg))] {
		fmt.Printf("  %6.2f %v %s  %s\n", s.Score, s.Why, s.Host, explain(m, s.Host))
	}
	sort.Slice(pos, func(i, j int) bool { return pos[i].Score < pos[j].Score })
	fmt.Println("\n30 lowest-scoring held-out adult names:")
	for _, s := range pos[:min(30, len(pos))] {
		fmt.Printf("  %6.2f %s  %s\n", s.Score, s.Host, explain(m, s.Host))
	}
	fmt.Println()
	for _, pair := range [][2]string{{"bon-appetit", "sinfonietta"}, {"sinfonietta", "bon-appetit"}} {
		r := fit.CrossList(d, words, pair[0], pair[1], fit.Options{})
		fmt.Println(r)
	}
}

func explain(m *classify.Classifier, h string) string {
	w := m.Weights()
	var parts []string
	for _, f := range m.Features(h, nil) {
		var x float32
		switch f.Kind {
		case classify.KindWord:
			x = w.Words[f.Text]
		case classify.KindTLD:
			x = w.TLDs[f.Text]
		default:
			x = w.Shapes[f.Text]
		}
		parts = append(parts, fmt.Sprintf("%c:%s=%.2f", f.Kind, f.Text, x))
	}
	return strings.Join(parts, " ")
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func buildVocab() ([]string, error) {
	set := map[string]bool{}
	for _, f := range []string{"/usr/share/dict/american-english", "/usr/share/dict/british-english"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s (apt-get install wamerican wbritish): %w", f, err)
		}
		for _, w := range strings.Fields(string(b)) {
			w = strings.ToLower(w)
			if len(w) >= 2 && len(w) <= classify.MaxWord && lower(w) {
				set[w] = true
			}
		}
	}
	for _, w := range classify.LexiconWords() {
		set[w] = true
	}
	for _, f := range []string{"pinyin.txt", "places.txt"} {
		fh, err := os.Open(dir + f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			for _, w := range strings.Fields(line) {
				if lower(w) {
					set[w] = true
				}
			}
		}
		fh.Close()
	}
	out := make([]string, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	sort.Strings(out)
	return out, nil
}

func lower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

func writeModel(w classify.Weights, nAdult, nBenign int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by `go run ./rules/classify/internal/train`; do not edit.\n")
	fmt.Fprintf(&b, "# Logistic regression on host-name features, fitted on parts 0-5 of\n")
	fmt.Fprintf(&b, "# %d adult and %d benign names (see internal/fit); threshold chosen\n", nAdult, nBenign)
	fmt.Fprintf(&b, "# on parts 6-7 for at most 0.1 %% benign names classified.\n")
	fmt.Fprintf(&b, "bias %.2f\nthreshold %.2f\nmindecide %.2f\n", w.Bias, w.Threshold, w.MinDecide)
	if w.Levels != nil {
		fmt.Fprintf(&b, "decide lexicon\n")
	}
	for _, kind := range []struct {
		k string
		m map[string]float32
	}{{"s", w.Shapes}, {"t", w.TLDs}, {"w", w.Words}} {
		keys := make([]string, 0, len(kind.m))
		for k := range kind.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %s %.2f\n", kind.k, k, kind.m[k])
		}
	}
	return os.WriteFile(dir+"model.txt", []byte(b.String()), 0o644)
}

package classify

import (
	"slices"
)

// MaxWord is the longest word the vocabulary keeps; a longer dictionary
// word is dropped (no host name needs it to split well).
const MaxWord = 24

// vocab is a set of lowercase words over [a-z], stored as a trie whose
// children are contiguous: node i's children are nodes
// first[i] .. first[i]+count[i]-1, sorted by label. About 7 bytes a node.
type vocab struct {
	label []byte
	first []int32
	count []uint8
	word  []bool
	root  [256]int32 // the root's children by letter; 0 = none
}

// buildVocab builds the trie from words; words with other characters than
// [a-z] or longer than MaxWord are skipped.
func buildVocab(words []string) *vocab {
	words = slices.Clone(words)
	slices.Sort(words)
	// A first trie in insertion order: with the words sorted, a node's
	// new child always comes after its others, so no search is needed.
	type tnode struct {
		kids  []int32
		word  bool
		label byte
	}
	nodes := []tnode{{}}
	for _, w := range words {
		if len(w) == 0 || len(w) > MaxWord || !lowerAlpha(w) {
			continue
		}
		n := int32(0)
		for i := 0; i < len(w); i++ {
			if ks := nodes[n].kids; len(ks) > 0 && nodes[ks[len(ks)-1]].label == w[i] {
				n = ks[len(ks)-1]
				continue
			}
			nodes = append(nodes, tnode{label: w[i]})
			c := int32(len(nodes) - 1)
			nodes[n].kids = append(nodes[n].kids, c)
			n = c
		}
		nodes[n].word = true
	}
	// Then laid out breadth-first, so each node's children are contiguous.
	v := &vocab{
		label: make([]byte, 0, len(nodes)),
		first: make([]int32, 0, len(nodes)),
		count: make([]uint8, 0, len(nodes)),
		word:  make([]bool, 0, len(nodes)),
	}
	queue := make([]int32, 0, len(nodes))
	queue = append(queue, 0)
	v.label = append(v.label, 0)
	v.word = append(v.word, false)
	v.first = append(v.first, 0)
	v.count = append(v.count, 0)
	for i := 0; i < len(queue); i++ {
		n := &nodes[queue[i]]
		v.first[i] = int32(len(queue))
		v.count[i] = uint8(len(n.kids))
		for _, k := range n.kids {
			c := &nodes[k]
			if i == 0 {
				v.root[c.label] = int32(len(queue))
			}
			queue = append(queue, k)
			v.label = append(v.label, c.label)
			v.word = append(v.word, c.word)
			v.first = append(v.first, 0)
			v.count = append(v.count, 0)
		}
	}
	return v
}

func lowerAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func (v *vocab) bytes() int {
	return len(v.label) + 4*len(v.first) + len(v.count) + len(v.word) + 4*256
}

func (v *vocab) child(n int32, c byte) int32 {
	if n == 0 {
		return v.root[c]
	}
	f, e := v.first[n], v.first[n]+int32(v.count[n])
	for i := f; i < e; i++ {
		if l := v.label[i]; l == c {
			return i
		} else if l > c {
			return 0
		}
	}
	return 0
}

// has reports whether w is a word.
func (v *vocab) has(w string) bool {
	n := int32(0)
	for i := 0; i < len(w); i++ {
		if n = v.child(n, w[i]); n == 0 {
			return false
		}
	}
	return n != 0 && v.word[n]
}

// Token is a piece of a label: a vocabulary word, a run of letters that
// is none, a number, or a separator-free chunk of other bytes.
type Token struct {
	Text  string // a substring of the label
	Known bool   // a vocabulary word
}

// Costs of a split: each word costs wordCost, each letter no word covers
// costs unknownCost, so the split with the fewest pieces wins and a long
// word beats two short ones ("essex", never "es"+"sex"; "therapist",
// never "the"+"rapist").
const (
	wordCost    = 10
	shortCost   = 2 // extra for a one- or two-letter word, so ties prefer long words
	unknownCost = 10
	maxLabel    = 63
)

// split appends the tokens of one label (letters, digits, hyphens) to dst.
// Digits form number tokens and hyphens separate; each run of letters is
// split by dynamic programming over the vocabulary. Work is bounded: at
// most MaxWord trie steps per letter, and a label is at most 63 bytes.
func (v *vocab) split(label string, dst []Token) []Token {
	if len(label) > maxLabel {
		label = label[:maxLabel]
	}
	i := 0
	for i < len(label) {
		c := label[i]
		switch {
		case c >= 'a' && c <= 'z':
			j := i
			for j < len(label) && label[j] >= 'a' && label[j] <= 'z' {
				j++
			}
			dst = v.splitLetters(label[i:j], dst)
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(label) && label[j] >= '0' && label[j] <= '9' {
				j++
			}
			dst = append(dst, Token{Text: label[i:j]})
			i = j
		case c == '-' || c == '_':
			i++
		default:
			// Anything else (an xn-- label's tail is letters and digits;
			// this is only what a fuzzer sends): one byte chunks.
			j := i + 1
			for j < len(label) && !isWordByte(label[j]) {
				j++
			}
			dst = append(dst, Token{Text: label[i:j]})
			i = j
		}
	}
	return dst
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// splitLetters splits a run of letters, len(s) <= maxLabel.
func (v *vocab) splitLetters(s string, dst []Token) []Token {
	var cost [maxLabel + 1]int32
	var back [maxLabel + 1]uint8 // length of the piece ending here
	var known [maxLabel + 1]bool
	n := len(s)
	for j := 1; j <= n; j++ {
		cost[j] = 1 << 30
	}
	for i := 0; i < n; i++ {
		ci := cost[i]
		// An unknown letter.
		if c := ci + unknownCost; c < cost[i+1] {
			cost[i+1], back[i+1], known[i+1] = c, 1, false
		}
		node := int32(0)
		for j := i; j < n && j-i < MaxWord; j++ {
			if node = v.child(node, s[j]); node == 0 {
				break
			}
			if v.word[node] {
				l := j + 1 - i
				c := ci + wordCost
				if l <= 2 {
					c += shortCost
				}
				if c < cost[j+1] || (c == cost[j+1] && !known[j+1]) {
					cost[j+1], back[j+1], known[j+1] = c, uint8(l), true
				}
			}
		}
	}
	// Walk back, merging neighbouring unknown letters into one piece.
	var ends [maxLabel + 1]uint8
	k := 0
	for j := n; j > 0; j -= int(back[j]) {
		ends[k] = uint8(j)
		k++
	}
	start := 0
	for k--; k >= 0; k-- {
		end := int(ends[k])
		if !known[end] {
			// Extend over following unknown letters.
			for k > 0 && !known[ends[k-1]] {
				k--
				end = int(ends[k])
			}
		}
		dst = append(dst, Token{Text: s[start:end], Known: known[end]})
		start = end
	}
	return dst
}

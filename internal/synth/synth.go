// Package synth makes deterministic, realistic-looking domain names for
// benchmarks and fuzz seeds: the same seed always gives the same names, so
// figures from two runs, or two machines, compare the same work.
package synth

import (
	"math/rand/v2"
	"strconv"
)

var tlds = []string{
	"com", "com", "com", "com", "net", "org", "de", "ru", "info", "xyz", "top",
	"co.uk", "com.br", "fr", "nl", "it", "pl", "cn", "com.cn", "jp", "io", "online",
}

var syllables = []string{
	"ka", "lo", "mi", "net", "sex", "hot", "bet", "cam", "tube", "vid", "star", "pro",
	"ze", "ra", "to", "an", "el", "web", "shop", "best", "free", "live", "club", "win",
	"play", "dat", "ing", "ex", "or", "us", "ax", "on", "ly", "ix", "po", "qu",
}

// Domains returns n distinct names, averaging about 18 bytes.
func Domains(seed uint64, n int) []string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	seen := make(map[string]struct{}, n)
	out := make([]string, 0, n)
	buf := make([]byte, 0, 64)
	for len(out) < n {
		buf = buf[:0]
		if r.IntN(4) == 0 {
			buf = append(buf, syllables[r.IntN(len(syllables))]...)
			buf = append(buf, '.')
		}
		for k := 2 + r.IntN(3); k > 0; k-- {
			buf = append(buf, syllables[r.IntN(len(syllables))]...)
		}
		if r.IntN(3) == 0 {
			buf = strconv.AppendInt(buf, int64(r.IntN(1000)), 10)
		}
		buf = append(buf, '.')
		buf = append(buf, tlds[r.IntN(len(tlds))]...)
		s := string(buf)
		if _, dup := seen[s]; dup {
			continue
		}
		seen[s] = struct{}{}
		out = append(out, s)
	}
	return out
}

// Queries returns n lookups against listed: 20 % exact hits, 20 %
// subdomains of listed names, 60 % names drawn like the list but (almost
// surely) not in it.
func Queries(seed uint64, listed []string, n int) []string {
	r := rand.New(rand.NewPCG(seed, 0x9e7))
	miss := Domains(seed^0xdeadbeef, n)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		switch k := r.IntN(10); {
		case k < 2:
			out = append(out, listed[r.IntN(len(listed))])
		case k < 4:
			out = append(out, "www."+listed[r.IntN(len(listed))])
		default:
			out = append(out, "m.x"+miss[i])
		}
	}
	return out
}

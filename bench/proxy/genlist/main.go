// Command genlist writes a synthetic domain list (internal/synth: the same
// seed gives the same names) for the proxy benchmark: one name per line.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/greengate/greengate/internal/synth"
)

func main() {
	n := flag.Int("n", 1_000_000, "number of domains")
	seed := flag.Uint64("seed", 1, "generator seed")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	fmt.Fprintf(w, "# %d synthetic domains, seed %d\n", *n, *seed)
	for _, d := range synth.Domains(*seed, *n) {
		w.WriteString(d)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genlist:", err)
		os.Exit(1)
	}
}

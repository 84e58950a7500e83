package matchers

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
)

// AdultLists are the real adult lists, relative to the blocklists folder
// (shared/data/blocklists), that lookups-sample.tsv's block rows come from.
var AdultLists = []string{
	"bon-appetit/block.txt.gz",         // domains, gzip
	"sinfonietta/pornography-hosts.gz", // hosts, gzip
}

// LookupsFile holds labelled queries: host, expected (block or allow).
const LookupsFile = "lookups-sample.tsv"

// LoadDomains parses the lists in file order and returns their distinct
// domain entries (lists.Domain; allow and URL entries are left out).
// A missing file is an error that wraps fs.ErrNotExist.
func LoadDomains(paths ...string) ([]string, error) {
	seen := map[string]struct{}{}
	var out []string
	for _, p := range paths {
		_, err := lists.ParseFile(p, lists.Options{}, func(e lists.Entry) error {
			if e.Kind != lists.Domain {
				return nil
			}
			if _, dup := seen[e.Value]; !dup {
				seen[e.Value] = struct{}{}
				out = append(out, e.Value)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", p, err)
		}
	}
	return out, nil
}

// Lookup is one labelled query.
type Lookup struct {
	Host  string // normalised
	Block bool   // expected verdict
	Line  int
}

// LoadLookups reads a lookups TSV (header, then host, expected, ...).
// Hosts are normalised as a request's would be.
func LoadLookups(path string) ([]Lookup, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading lookups: %w", err)
	}
	defer f.Close()
	var out []Lookup
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 1 || len(fields) < 2 {
			continue
		}
		h, err := hostname.NormalizeRequest(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: host %q: %w", filepath.Base(path), line, fields[0], err)
		}
		switch fields[1] {
		case "block", "allow":
			out = append(out, Lookup{Host: h, Block: fields[1] == "block", Line: line})
		default:
			return nil, fmt.Errorf("%s:%d: expected %q, want block or allow", filepath.Base(path), line, fields[1])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

// Source is a bundle source file: metadata and categories with inline
// entries. Unknown fields are errors, so a typo cannot silently drop a
// list. Example:
//
//	{
//	  "version": 12,
//	  "publisher": "example-school",
//	  "valid_for": "720h",
//	  "categories": [{
//	    "id": "gambling",
//	    "name": {"zh": "赌博", "en": "Gambling"},
//	    "description": {"zh": "在线赌场", "en": "Online casinos"},
//	    "lists": [{"source": "ut1/gambling/domains",
//	               "domains": ["bet365.com"], "urls": ["reddit.com/r/sportsbook"],
//	               "allow": ["begambleaware.org"]}]
//	  }],
//	  "safe_search": [{"name": "google", "hosts": ["www.google.com"],
//	                   "target": "forcesafesearch.google.com", "param": "safe=active"}]
//	}
//
// created defaults to the signing time; expires may be given instead of
// valid_for. Entries need not be sorted or unique.
type Source struct {
	SourceMeta
	Categories []SourceCategory `json:"categories"`
}

// SourceMeta is what both kinds of source (Source, BuildSource) say
// about the bundle besides its categories.
type SourceMeta struct {
	Version    uint64         `json:"version"`
	Publisher  string         `json:"publisher"`
	Created    *time.Time     `json:"created,omitempty"`
	Expires    *time.Time     `json:"expires,omitempty"`
	ValidFor   string         `json:"valid_for,omitempty"`
	SafeSearch []SourceEngine `json:"safe_search"`
}

// SourceText is a text in both languages.
type SourceText struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// SourceCategory is one category of a Source.
type SourceCategory struct {
	ID          string       `json:"id"`
	Name        SourceText   `json:"name"`
	Description SourceText   `json:"description"`
	Lists       []SourceList `json:"lists"`
}

// SourceList is one list of a SourceCategory.
type SourceList struct {
	Source  string   `json:"source"`
	Domains []string `json:"domains"`
	URLs    []string `json:"urls"`
	Allow   []string `json:"allow"`
}

// SourceEngine is one safe-search engine of a Source.
type SourceEngine struct {
	Name           string   `json:"name"`
	Hosts          []string `json:"hosts"`
	Target         string   `json:"target"`
	ModerateTarget string   `json:"moderate_target"`
	Param          string   `json:"param"`
}

// maxSourceSize bounds a source file; a 5M-entry source is about 150 MB.
const maxSourceSize = 1 << 30

// decodeSource reads a Source strictly.
func decodeSource(r io.Reader) (*Source, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxSourceSize))
	dec.DisallowUnknownFields()
	var s Source
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding bundle source: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding bundle source: data after the JSON object")
	}
	return &s, nil
}

// Bundle turns s into a normalized bundle; now is the default created time.
func (s *Source) Bundle(now time.Time) (*bundle.Bundle, error) {
	b := &bundle.Bundle{Version: s.Version, Publisher: s.Publisher, Created: now}
	if s.Created != nil {
		b.Created = *s.Created
	}
	switch {
	case s.Expires != nil && s.ValidFor != "":
		return nil, errors.New("bundle source: give expires or valid_for, not both")
	case s.Expires != nil:
		b.Expires = *s.Expires
	case s.ValidFor != "":
		d, err := time.ParseDuration(s.ValidFor)
		if err != nil {
			return nil, fmt.Errorf("bundle source: valid_for: %w", err)
		}
		b.Expires = b.Created.Add(d)
	default:
		return nil, errors.New("bundle source: expires or valid_for is required")
	}
	for _, c := range s.Categories {
		cat := bundle.Category{ID: c.ID, Name: bundle.Text(c.Name), Description: bundle.Text(c.Description)}
		for _, l := range c.Lists {
			cat.Lists = append(cat.Lists, bundle.List(l))
		}
		b.Categories = append(b.Categories, cat)
	}
	for _, e := range s.SafeSearch {
		b.SafeSearch = append(b.SafeSearch, bundle.Engine(e))
	}
	b.Normalize()
	return b, nil
}

func cmdSign(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sign", "-key SIGNING.key -cert SIGNING.cert -in SOURCE.json -out FILE.bundle", stderr)
	keyPath := fs.String("key", "", "signing private key file")
	certPath := fs.String("cert", "", "the signing key's certificate file")
	in := fs.String("in", "", "bundle source JSON")
	out := fs.String("out", "", "signed bundle to write")
	var now timeFlag
	fs.Var(&now, "now", "signing time, the default created time (RFC 3339; default now)")
	if _, ok := parseArgs(fs, args, 0); !ok {
		return exitUsage
	}
	if *keyPath == "" || *certPath == "" || *in == "" || *out == "" {
		fs.Usage()
		return exitUsage
	}
	key, err := readPrivateKey(*keyPath)
	if err != nil {
		return fail(stderr, "sign", err)
	}
	certText, err := os.ReadFile(*certPath)
	if err != nil {
		return fail(stderr, "sign", fmt.Errorf("reading certificate: %w", err))
	}
	cert, err := bundle.ParseCertificateText(string(certText))
	if err != nil {
		return fail(stderr, "sign", err)
	}
	f, err := os.Open(*in)
	if err != nil {
		return fail(stderr, "sign", fmt.Errorf("opening bundle source: %w", err))
	}
	src, err := decodeSource(f)
	f.Close()
	if err != nil {
		return fail(stderr, "sign", fmt.Errorf("%s: %w", *in, err))
	}
	b, err := src.Bundle(now.or(time.Now()))
	if err != nil {
		return fail(stderr, "sign", err)
	}
	data, err := bundle.Sign(b, key, cert)
	if err != nil {
		return fail(stderr, "sign", err)
	}
	if err := writeAtomic(*out, data); err != nil {
		return fail(stderr, "sign", err)
	}
	n := b.Counts()
	fmt.Fprintf(stdout, "signed %s: version %d, %d categories, %d domains, %d URLs, %d allow, %d bytes\n",
		*out, b.Version, len(b.Categories), n.Domains, n.URLs, n.Allow, len(data))
	return exitOK
}

// writeAtomic writes data to a temporary file next to path, syncs it and
// renames it over path, so a web server never serves half a bundle.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/greengate/greengate/rules/bundle"
	"github.com/greengate/greengate/rules/lists"
)

// BuildSource is the input of "build": a Source whose lists name files or
// URLs in any format package lists reads (domains, hosts, Adblock basic,
// UT1 URL lists; gzip or not; detected unless "format" says), instead of
// carrying entries inline. Unknown fields are errors. Example:
//
//	{
//	  "version": 12,
//	  "publisher": "example-school",
//	  "valid_for": "720h",
//	  "categories": [{
//	    "id": "gambling",
//	    "name": {"zh": "赌博", "en": "Gambling"},
//	    "description": {"zh": "在线赌场", "en": "Online casinos"},
//	    "lists": [
//	      {"source": "ut1/gambling/domains", "file": "ut1/gambling/domains"},
//	      {"source": "sinfonietta/gambling", "url": "https://example.org/gambling-hosts", "format": "hosts"},
//	      {"source": "local", "domains": ["casino.example"], "allow": ["begambleaware.org"]}
//	    ]
//	  }],
//	  "safe_search": [{"name": "google", "hosts": ["www.google.com"],
//	                   "target": "forcesafesearch.google.com", "param": "safe=active"}]
//	}
//
// File paths are relative to the source file's directory. "source" names
// the list in the bundle (and in every block verdict); it defaults to the
// file's or URL's last path element.
type BuildSource struct {
	SourceMeta
	Categories []BuildCategory `json:"categories"`
}

// BuildCategory is one category of a BuildSource.
type BuildCategory struct {
	ID          string      `json:"id"`
	Name        SourceText  `json:"name"`
	Description SourceText  `json:"description"`
	Lists       []BuildList `json:"lists"`
}

// BuildList is one list: a file, a URL, or inline entries (which may
// also accompany a file or URL).
type BuildList struct {
	Source  string   `json:"source,omitempty"`
	File    string   `json:"file,omitempty"`
	URL     string   `json:"url,omitempty"`
	Format  string   `json:"format,omitempty"` // a lists.Format name; "" detects
	Domains []string `json:"domains,omitempty"`
	URLs    []string `json:"urls,omitempty"`
	Allow   []string `json:"allow,omitempty"`
}

// decodeBuildSource reads a BuildSource strictly and checks what can be
// checked without reading a list, all problems at once.
func decodeBuildSource(r io.Reader) (*BuildSource, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxSourceSize))
	dec.DisallowUnknownFields()
	var s BuildSource
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decoding build source: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decoding build source: data after the JSON object")
	}
	var errs []error
	if s.Publisher == "" {
		errs = append(errs, errors.New("publisher: required"))
	}
	for i, c := range s.Categories {
		if c.ID == "" {
			errs = append(errs, fmt.Errorf("categories[%d]: id required", i))
		}
		for j, l := range c.Lists {
			where := fmt.Sprintf("categories[%d] (%s) lists[%d]", i, c.ID, j)
			if l.File != "" && l.URL != "" {
				errs = append(errs, fmt.Errorf("%s: give file or url, not both", where))
			}
			if l.File == "" && l.URL == "" && len(l.Domains)+len(l.URLs)+len(l.Allow) == 0 {
				errs = append(errs, fmt.Errorf("%s: no file, url or entries", where))
			}
			if l.File == "" && l.URL == "" && l.Source == "" {
				errs = append(errs, fmt.Errorf("%s: inline entries need a source name", where))
			}
			if l.URL != "" {
				if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					errs = append(errs, fmt.Errorf("%s: url %q: want http(s)://host/...", where, l.URL))
				}
			}
			if l.Format != "" {
				if _, err := lists.ParseFormat(l.Format); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", where, err))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("build source: %w", err)
	}
	return &s, nil
}

// listReport is what one list contributed, for the build's output.
type listReport struct {
	Category, Source string
	Stats            lists.Stats
}

// builder resolves a BuildSource's lists into a sign Source.
type builder struct {
	baseDir string       // for relative file paths
	client  *http.Client // for list URLs
	maxList int64        // bytes per list after decompression
	timeout time.Duration
}

// resolve reads every list and returns the Source with inline entries.
// A list the parser refuses as a whole (not text, too many rejects, too
// large, HTTP error) fails the build: better no new bundle than one that
// silently lost a category.
func (bd *builder) resolve(ctx context.Context, s *BuildSource) (*Source, []listReport, error) {
	out := &Source{SourceMeta: s.SourceMeta}
	var reports []listReport
	for _, c := range s.Categories {
		sc := SourceCategory{ID: c.ID, Name: c.Name, Description: c.Description}
		for _, l := range c.Lists {
			sl := SourceList{Source: l.Source, Domains: l.Domains, URLs: l.URLs, Allow: l.Allow}
			if l.File != "" || l.URL != "" {
				if sl.Source == "" {
					sl.Source = path.Base(filepath.ToSlash(l.File))
					if l.URL != "" {
						u, _ := url.Parse(l.URL)
						sl.Source = path.Base(u.Path)
					}
				}
				st, err := bd.read(ctx, l, &sl)
				if err != nil {
					return nil, nil, fmt.Errorf("category %s: %w", c.ID, err)
				}
				reports = append(reports, listReport{c.ID, sl.Source, st})
			}
			sc.Lists = append(sc.Lists, sl)
		}
		out.Categories = append(out.Categories, sc)
	}
	return out, reports, nil
}

func (bd *builder) read(ctx context.Context, l BuildList, sl *SourceList) (lists.Stats, error) {
	opt := lists.Options{MaxBytes: bd.maxList}
	if l.Format != "" {
		opt.Format, _ = lists.ParseFormat(l.Format) // checked by decodeBuildSource
	}
	var r io.Reader
	if l.File != "" {
		p := l.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(bd.baseDir, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return lists.Stats{}, fmt.Errorf("opening list: %w", err)
		}
		defer f.Close()
		r, opt.Name = f, p
	} else {
		ctx, cancel := context.WithTimeout(ctx, bd.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.URL, nil)
		if err != nil {
			return lists.Stats{}, fmt.Errorf("fetching list %s: %w", l.URL, err)
		}
		req.Header.Set("User-Agent", "greengate-publisher")
		resp, err := bd.client.Do(req)
		if err != nil {
			return lists.Stats{}, fmt.Errorf("fetching list: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return lists.Stats{}, fmt.Errorf("fetching list %s: HTTP %d", l.URL, resp.StatusCode)
		}
		// The parser's MaxBytes caps what is decompressed; this caps what
		// is read off the wire.
		r, opt.Name = io.LimitReader(resp.Body, bd.maxList+1), l.URL
	}
	st, err := lists.Parse(r, opt, func(e lists.Entry) error {
		switch e.Kind {
		case lists.Domain:
			sl.Domains = append(sl.Domains, e.Value)
		case lists.AllowDomain:
			sl.Allow = append(sl.Allow, e.Value)
		case lists.URL:
			sl.URLs = append(sl.URLs, e.Value)
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reading list %s: %w", opt.Name, err)
	}
	return st, nil
}

// buildBundle reads the source file at in and returns the normalized,
// unsigned bundle; version, when not 0, overrides the source's.
func buildBundle(ctx context.Context, in string, version uint64, now time.Time, client *http.Client) (*bundle.Bundle, []listReport, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, nil, fmt.Errorf("opening build source: %w", err)
	}
	src, err := decodeBuildSource(f)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", in, err)
	}
	if version != 0 {
		src.Version = version
	}
	if src.Version == 0 {
		return nil, nil, fmt.Errorf("%s: version: give one of at least 1, in the source or with -version", in)
	}
	bd := &builder{baseDir: filepath.Dir(in), client: client, maxList: lists.DefaultMaxBytes, timeout: 5 * time.Minute}
	s, reports, err := bd.resolve(ctx, src)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", in, err)
	}
	b, err := s.Bundle(now)
	if err != nil {
		return nil, nil, err
	}
	return b, reports, nil
}

func cmdBuild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("build", "-in SOURCE.json [-key SIGNING.key -cert SIGNING.cert -out FILE.bundle] [-content FILE.json]", stderr)
	in := fs.String("in", "", "build source JSON: categories with list files or URLs")
	keyPath := fs.String("key", "", "signing private key file (with -cert and -out)")
	certPath := fs.String("cert", "", "the signing key's certificate file")
	out := fs.String("out", "", "signed bundle to write")
	content := fs.String("content", "", "also (or only) write the unsigned content as a 'sign' source JSON, to sign on another machine")
	version := fs.Uint64("version", 0, "bundle version, overriding the source's (must beat what agents have)")
	var now timeFlag
	fs.Var(&now, "now", "build time, the default created time (RFC 3339; default now)")
	if _, ok := parseArgs(fs, args, 0); !ok {
		return exitUsage
	}
	signing := *keyPath != "" || *certPath != "" || *out != ""
	if *in == "" || (signing && (*keyPath == "" || *certPath == "" || *out == "")) || (!signing && *content == "") {
		fs.Usage()
		return exitUsage
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: time.Minute,
	}}
	start := time.Now()
	b, reports, err := buildBundle(ctx, *in, *version, now.or(time.Now()), client)
	if err != nil {
		return fail(stderr, "build", err)
	}
	for _, r := range reports {
		fmt.Fprintf(stdout, "%-12s %-36s %-8s %8d entries, %d lines skipped\n", r.Category, r.Source, r.Stats.Format, r.Stats.Entries, r.Stats.Rejected())
	}
	if *content != "" {
		data, err := json.Marshal(sourceOf(b))
		if err != nil {
			return fail(stderr, "build", err)
		}
		if err := writeAtomic(*content, append(data, '\n')); err != nil {
			return fail(stderr, "build", err)
		}
		fmt.Fprintf(stdout, "wrote unsigned content %s (%d bytes)\n", *content, len(data))
	}
	if !signing {
		return exitOK
	}
	key, cert, err := readSigner(*keyPath, *certPath)
	if err != nil {
		return fail(stderr, "build", err)
	}
	data, err := bundle.Sign(b, key, cert)
	if err != nil {
		return fail(stderr, "build", err)
	}
	if err := writeAtomic(*out, data); err != nil {
		return fail(stderr, "build", err)
	}
	n := b.Counts()
	fmt.Fprintf(stdout, "signed %s: version %d, %d categories, %d domains, %d URLs, %d allow, %d bytes, in %v\n",
		*out, b.Version, len(b.Categories), n.Domains, n.URLs, n.Allow, len(data), time.Since(start).Round(time.Millisecond))
	return exitOK
}

// readSigner reads a signing key and its certificate.
func readSigner(keyPath, certPath string) (*bundle.PrivateKey, *bundle.Certificate, error) {
	key, err := readPrivateKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	certText, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, fmt.Errorf("reading certificate: %w", err)
	}
	cert, err := bundle.ParseCertificateText(string(certText))
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// sourceOf is the 'sign' source that reproduces b.
func sourceOf(b *bundle.Bundle) *Source {
	created, expires := b.Created, b.Expires
	s := &Source{SourceMeta: SourceMeta{Version: b.Version, Publisher: b.Publisher, Created: &created, Expires: &expires}}
	for _, c := range b.Categories {
		sc := SourceCategory{ID: c.ID, Name: SourceText(c.Name), Description: SourceText(c.Description)}
		for _, l := range c.Lists {
			sc.Lists = append(sc.Lists, SourceList(l))
		}
		s.Categories = append(s.Categories, sc)
	}
	for _, e := range b.SafeSearch {
		s.SafeSearch = append(s.SafeSearch, SourceEngine(e))
	}
	return s
}

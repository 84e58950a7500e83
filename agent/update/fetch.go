package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

// StatusError is an HTTP answer other than 200 or 304. It matches
// ErrHTTPStatus with errors.Is.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// Is makes errors.Is(err, ErrHTTPStatus) true.
func (e *StatusError) Is(target error) bool { return target == ErrHTTPStatus }

// Verify runs every check an Updater runs before installing data, in this
// order: bundle.Open's (size, format, pinned root, signatures, certificate
// period, created <= now < expires), that the bundle's publisher is
// publisher (when not ""; ErrWrongPublisher), and bundle.CheckVersion
// against installed (ErrRollback). It fails closed: on error the bundle is
// nil and nothing should change.
func Verify(data []byte, roots *bundle.Roots, publisher string, installed uint64, now time.Time) (*bundle.Bundle, error) {
	b, err := bundle.Open(bytes.NewReader(data), roots, now)
	if err != nil {
		return nil, err
	}
	if publisher != "" && b.Publisher != publisher {
		return nil, fmt.Errorf("%w: want %q, got %q", ErrWrongPublisher, publisher, b.Publisher)
	}
	if err := bundle.CheckVersion(installed, b); err != nil {
		return nil, err
	}
	return b, nil
}

// verifyInstalled is Verify for a bundle this agent installed and kept on
// its own disk: the signature chain to a pinned root and the publisher are
// checked as for a download, but a bundle (or signing key) that expired
// since is accepted: the caller keeps enforcing it and reports it expired.
// The version is checked against the floor by the caller.
func verifyInstalled(data []byte, roots *bundle.Roots, publisher string, now time.Time) (*bundle.Bundle, error) {
	b, err := bundle.OpenLapsed(bytes.NewReader(data), roots, now)
	if err != nil {
		return nil, err
	}
	if b.Publisher != publisher {
		return nil, fmt.Errorf("%w: want %q, got %q", ErrWrongPublisher, publisher, b.Publisher)
	}
	return b, nil
}

type fetched struct {
	data         []byte
	notModified  bool
	etag         string
	lastModified string
}

// fetch GETs url, conditionally when etag or lastMod is set, reading at
// most max bytes.
func (u *Updater) fetch(ctx context.Context, url, etag, lastMod string) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "greengate-agent")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastMod != "" {
		req.Header.Set("If-Modified-Since", lastMod)
	}
	resp, err := u.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && (etag != "" || lastMod != ""):
		return &fetched{notModified: true, etag: etag, lastModified: lastMod}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{Code: resp.StatusCode}
	}
	max := u.cfg.MaxSize
	// Refuse a declared oversize body before reading a byte of it; the
	// LimitReader below catches one that lies or declares nothing.
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: Content-Length %d over the %d-byte cap", bundle.ErrTooLarge, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: body over the %d-byte cap", bundle.ErrTooLarge, max)
	}
	return &fetched{data: data, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}

// check fetches, verifies and installs s's bundle once, records the
// outcome in s's status, and returns the error that made it fail.
func (u *Updater) check(ctx context.Context, s *sourceState) (err error) {
	s.run.Lock()
	defer s.run.Unlock()
	now := u.cfg.Clock()
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()

	u.mu.Lock()
	etag, lastMod := s.etag, s.lastMod
	if s.b == nil {
		// Nothing installed: a 304 would leave us with nothing.
		etag, lastMod = "", ""
	}
	u.mu.Unlock()

	var changed bool
	f, err := u.fetch(ctx, s.src.URL, etag, lastMod)
	if err == nil && !f.notModified {
		_, changed, err = u.install(s, f.data, now)
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	s.st.LastCheck = now
	if err != nil {
		err = fmt.Errorf("checking %s for %s: %w", s.shown, s.src.Publisher, err)
		s.failures++
		s.st.LastError = err
		u.log.Warn("bundle refused or not fetched; keeping the installed one",
			"publisher", s.src.Publisher, "installed", s.version, "failures", s.failures, "err", err)
		return err
	}
	s.failures = 0
	s.st.LastError = nil
	s.st.LastSuccess = now
	s.etag, s.lastMod = f.etag, f.lastModified
	if changed {
		u.log.Info("bundle installed", "publisher", s.src.Publisher, "version", s.b.Version, "expires", s.b.Expires)
	}
	return nil
}

// install verifies data as s's next bundle and writes it to disk. A copy
// of the installed file is a no-op (changed false), so a server without
// ETags does not count as replaying.
func (u *Updater) install(s *sourceState, data []byte, now time.Time) (b *bundle.Bundle, changed bool, err error) {
	sum := sha256.Sum256(data)
	u.mu.Lock()
	installed, same := s.version, s.b != nil && sum == s.hash
	u.mu.Unlock()
	if same {
		b, err := bundle.Inspect(bytes.NewReader(data)) // identical to verified bytes
		return b, false, err
	}
	b, err = Verify(data, s.src.Roots, s.src.Publisher, installed, now)
	if err != nil {
		return nil, false, err
	}
	if err := u.store(s, data, b.Version); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrStore, err)
	}
	u.mu.Lock()
	s.setInstalled(b, data, sum, s.src.Publisher+".bundle")
	u.mu.Unlock()
	return b, true, nil
}

// Install installs data as a bundle of the source for its publisher,
// running Verify's checks against that source's roots and installed
// version, as a download would. It is how `greengate bundle install`
// side-loads a file; OnChange is called if the set changed.
func (u *Updater) Install(data []byte) (*bundle.Bundle, error) {
	// The publisher is only known after verifying; try each source's
	// roots, and install under the source that names the publisher.
	var firstErr error
	for _, s := range u.srcs {
		b, err := bundle.Open(bytes.NewReader(data), s.src.Roots, u.cfg.Clock())
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		if b.Publisher != s.src.Publisher {
			firstErr = cmpErr(firstErr, fmt.Errorf("%w: %q", ErrNoSource, b.Publisher))
			continue
		}
		s.run.Lock()
		b, _, err = u.install(s, data, u.cfg.Clock())
		s.run.Unlock()
		if err != nil {
			return nil, err
		}
		u.notify()
		return b, nil
	}
	if firstErr == nil {
		firstErr = ErrNoSource
	}
	return nil, fmt.Errorf("installing bundle: %w", firstErr)
}

// cmpErr keeps the most telling of two errors: a bundle that verified
// under some source's roots but names no source says more than a root
// another source does not pin, and any real verification failure says
// more than either.
func cmpErr(prev, err error) error {
	rank := func(e error) int {
		switch {
		case e == nil:
			return -1
		case errors.Is(e, bundle.ErrUnknownKey):
			return 0
		case errors.Is(e, ErrNoSource):
			return 1
		}
		return 2
	}
	if rank(err) > rank(prev) {
		return err
	}
	return prev
}

// checkNames names the checks of this package, after bundle's own
// (bundle.FailedCheck), in Verify's order, then the steps around them.
var checkNames = []struct {
	err  error
	name string
}{
	{ErrWrongPublisher, "publisher of the source"},
	{ErrNoSource, "publisher trusted"},
	{ErrStore, "writing to disk"},
	{ErrHTTPStatus, "download"},
	{context.DeadlineExceeded, "download deadline"},
	{io.ErrUnexpectedEOF, "download"},
}

// FailedCheck names the check err failed, for people: "signature",
// "expiry", "version newer than installed", ... It returns "" for nil
// and "reading" for an error no check explains (I/O, network).
func FailedCheck(err error) string {
	if err == nil {
		return ""
	}
	if name := bundle.FailedCheck(err); name != "" {
		return name
	}
	for _, c := range checkNames {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return "download"
	}
	return "reading"
}

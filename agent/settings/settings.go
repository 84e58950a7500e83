// Package settings keeps a machine's parental settings on disk: the settings
// document, the parent password, and the temporary grants and pauses.
//
// # Files
//
// Three files in two directories, all root-owned and mode 0600 (DefaultDir
// and DefaultStateDir per OS):
//
//	/etc/greengate/settings.json      the Settings document (client.Settings)
//	/etc/greengate/password           the argon2id hash of the parent password
//	/var/lib/greengate/overrides.json active grants and pauses
//
// The hash is kept out of settings.json on purpose: the document is
// configuration that school IT copies to every lab PC and that the .deb
// ships as a conffile, the tray shows and edits, and `settings validate`
// prints errors from. None of that may carry or overwrite a password hash.
// settings.json is 0600 as well, because reading it through the admin API
// needs the password and a readable file would make that check pointless.
// Grants live under /var/lib because they are state that changes by itself,
// not configuration.
//
// # Decoding and validation
//
// Decode is strict: unknown keys, keys in the wrong case, repeated keys,
// trailing data, files over MaxFileSize and wrong types are errors. Zero top-level scalars take the values in
// ApplyDefaults (the one place defaults live). Validate checks everything at
// once and returns every problem joined with errors.Join, each a *Problem
// naming its key path: `profiles[1].allow[3]: bad host "a b": ...`.
// ToPolicy turns valid settings into policy profiles.
//
// # Writing and reloading
//
// Every write is atomic (temp file, fsync, rename, fsync of the directory),
// so a power cut leaves the old file or the new one. A Watcher watches the
// directory (editors replace files by renaming) and hands each valid edit to
// a callback; an invalid edit keeps the running settings and is reported
// (fail-safe: a typo never turns the filter off).
//
// # Password
//
// HashPassword/VerifyPassword use argon2id with a per-password random salt
// and a constant-time compare; a Limiter slows repeated wrong guesses per
// caller with growing delays. Passwords are never logged or returned.
//
// # Concurrency
//
// Decode, Validate, ToPolicy and the password functions are pure and safe
// for concurrent use. Store, Overrides, Limiter and Watcher are safe for
// concurrent use.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/rules/bundle"
	"github.com/greengate/greengate/rules/defaults"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/lists"
)

// Settings is the settings document. It is defined in the admin client
// package so the tray edits exactly the type the agent validates.
type Settings = client.Settings

// Profile is one profile of the document.
type Profile = client.Profile

// Limits and defaults.
const (
	FormatVersion           = 1
	MaxFileSize             = 4 << 20 // a settings file larger than this is refused
	MaxEntries              = 20000   // per custom list
	MaxProfiles             = 64
	DefaultListen           = "127.0.0.1:8899"
	DefaultLogRetentionDays = 90
	// DefaultLogMaxBytes suits an old lab PC's small disk: at ~100 bytes a
	// row, hundreds of thousands of visits.
	DefaultLogMaxBytes = 64 << 20
	MinLogMaxBytes     = 1 << 20
	MaxLogMaxBytes     = 64 << 30
	DefaultLanguage    = "en"
	MinUpdateInterval  = 5 * time.Minute
	MaxUpdateInterval  = 7 * 24 * time.Hour
)

// Errors.
var (
	// ErrInvalid is matched by every validation problem.
	ErrInvalid = errors.New("invalid settings")
	// ErrDecode is matched by every decoding failure.
	ErrDecode = errors.New("cannot decode settings")
)

// Problem is one thing wrong in a document, at a key path.
type Problem struct {
	Path string // e.g. "profiles[1].allow[3]"
	Msg  string
}

func (p *Problem) Error() string        { return p.Path + ": " + p.Msg }
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Default is the document a fresh install runs on: one "child" profile
// blocking what the built-in rules block until a parent chooses (adult,
// gambling, malware, phishing) with safe search on, proxy on loopback.
func Default() Settings {
	s := Settings{
		Version: FormatVersion,
		Profiles: []Profile{{
			Name:       "child",
			Block:      defaults.Profile().Block,
			SafeSearch: true,
			YouTube:    "moderate",
		}},
		DefaultProfile: "child",
	}
	ApplyDefaults(&s)
	return s
}

// ApplyDefaults fills zero top-level scalars with their defaults. It is the
// only place defaults are set.
func ApplyDefaults(s *Settings) {
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.LogRetentionDays == 0 {
		s.LogRetentionDays = DefaultLogRetentionDays
	}
	if s.LogMaxBytes == 0 {
		s.LogMaxBytes = DefaultLogMaxBytes
	}
	if s.Language == "" {
		s.Language = DefaultLanguage
	}
	if s.DefaultProfile == "" && len(s.Profiles) > 0 {
		s.DefaultProfile = s.Profiles[0].Name
	}
}

// Decode reads one strict JSON document, applies defaults and validates it
// (category ids are checked for form only; see Validate). On error the
// returned Settings is the zero value.
func Decode(r io.Reader) (Settings, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return Settings{}, fmt.Errorf("reading settings: %w", err)
	}
	return DecodeBytes(b)
}

// DecodeBytes is Decode on bytes.
func DecodeBytes(b []byte) (Settings, error) {
	if len(b) > MaxFileSize {
		return Settings{}, fmt.Errorf("%w: larger than %d bytes", ErrDecode, MaxFileSize)
	}
	if err := checkKeys(b); err != nil {
		return Settings{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Settings
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("%w: %s", ErrDecode, describeJSONError(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Settings{}, fmt.Errorf("%w: data after the document", ErrDecode)
	}
	ApplyDefaults(&s)
	if err := Validate(s, nil); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// describeJSONError adds a line number to syntax and type errors.
func describeJSONError(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return err.Error()
	}
	return fmt.Sprintf("line %d: %v", bytes.Count(b[:off], []byte("\n"))+1, err)
}

// Encode writes s as indented JSON with a final newline.
func Encode(s Settings) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding settings: %w", err)
	}
	return append(b, '\n'), nil
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
	categoryRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	spanRE     = regexp.MustCompile(`^(\d\d):(\d\d)-(\d\d):(\d\d)$`)
	// publisherRE is agent/update's rule: the id names files.
	publisherRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Weekdays are the keys of Profile.Hours, index = time.Weekday.
var Weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Validate checks the whole document and returns every problem joined.
// known lists the category ids rules provide; nil checks ids for form only
// (a category may come from a bundle that is not downloaded yet).
func Validate(s Settings, known []string) error {
	var v validator
	if s.Version != FormatVersion {
		v.add("version", "unsupported format %d (this agent reads %d)", s.Version, FormatVersion)
	}
	if len(s.Profiles) == 0 {
		v.add("profiles", "at least one profile is needed")
	}
	if len(s.Profiles) > MaxProfiles {
		v.add("profiles", "%d profiles, at most %d", len(s.Profiles), MaxProfiles)
	}
	names := map[string]bool{}
	for i, p := range s.Profiles {
		path := fmt.Sprintf("profiles[%d]", i)
		switch {
		case !nameRE.MatchString(p.Name):
			v.add(path+".name", "bad profile name %q: 1-32 letters, digits, _ . -", p.Name)
		case names[p.Name]:
			v.add(path+".name", "duplicate profile name %q", p.Name)
		}
		names[p.Name] = true
		seen := map[string]bool{}
		for j, c := range p.Block {
			cp := fmt.Sprintf("%s.block[%d]", path, j)
			switch {
			case !categoryRE.MatchString(c):
				v.add(cp, "bad category id %q", c)
			case known != nil && !slices.Contains(known, c):
				v.add(cp, "unknown category %q (known: %s)", c, strings.Join(known, ", "))
			case seen[c]:
				v.add(cp, "category %q listed twice", c)
			}
			seen[c] = true
		}
		v.entries(path+".allow", p.Allow)
		v.entries(path+".deny", p.Deny)
		if p.AllowListOnly && len(p.Allow) == 0 {
			v.add(path+".allow_list_only", "allow-list-only with an empty allow list blocks everything")
		}
		for _, day := range slices.Sorted(maps.Keys(p.Hours)) {
			spans := p.Hours[day]
			dp := fmt.Sprintf("%s.hours.%s", path, day)
			if !slices.Contains(Weekdays[:], day) {
				v.add(dp, "unknown day %q: use %s", day, strings.Join(Weekdays[:], ", "))
				continue
			}
			for k, sp := range spans {
				if _, err := ParseSpan(sp); err != nil {
					v.add(fmt.Sprintf("%s[%d]", dp, k), "%v", err)
				}
			}
		}
		switch p.YouTube {
		case "", "strict", "moderate":
		default:
			v.add(path+".youtube", "unknown mode %q: strict or moderate", p.YouTube)
		}
	}
	if s.DefaultProfile != "" && !names[s.DefaultProfile] {
		v.add("default_profile", "no profile named %q", s.DefaultProfile)
	}
	for _, u := range slices.Sorted(maps.Keys(s.Users)) {
		up := fmt.Sprintf("users[%q]", u)
		if u == "" || len(u) > 256 {
			v.add(up, "bad user name")
		}
		if !names[s.Users[u]] {
			v.add(up, "no profile named %q", s.Users[u])
		}
	}
	var lan []netip.Prefix
	for i, c := range s.LANClients {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			v.add(fmt.Sprintf("lan_clients[%d]", i), "bad network %q: want CIDR like 192.168.1.0/24", c)
			continue
		}
		lan = append(lan, p)
	}
	v.listen(s.Listen, len(lan) > 0)
	for _, n := range slices.Sorted(maps.Keys(s.LANProfiles)) {
		np := fmt.Sprintf("lan_profiles[%q]", n)
		if _, err := netip.ParsePrefix(n); err != nil {
			v.add(np, "bad network: want CIDR like 192.168.1.0/24")
		}
		if !names[s.LANProfiles[n]] {
			v.add(np, "no profile named %q", s.LANProfiles[n])
		}
	}
	pubs := map[string]bool{}
	for i, src := range s.Updates.Sources {
		sp := fmt.Sprintf("updates.sources[%d]", i)
		if src.URL != "" {
			u, err := url.Parse(src.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
				v.add(sp+".url", "bad URL %q: want https://host/path", src.URL)
			}
		}
		switch {
		case !publisherRE.MatchString(src.Publisher):
			v.add(sp+".publisher", "bad publisher id %q", src.Publisher)
		case pubs[src.Publisher]:
			v.add(sp+".publisher", "publisher %q listed twice", src.Publisher)
		}
		pubs[src.Publisher] = true
		if len(src.RootKeys) == 0 {
			v.add(sp+".root_keys", "at least one pinned root key is needed")
		}
		for j, k := range src.RootKeys {
			if _, err := bundle.ParsePublicKey(k); err != nil || strings.ContainsAny(k, "\n#") {
				v.add(fmt.Sprintf("%s.root_keys[%d]", sp, j), "bad public key %q", k)
			}
		}
	}
	if iv := time.Duration(s.Updates.Interval); iv != 0 && (iv < MinUpdateInterval || iv > MaxUpdateInterval) {
		v.add("updates.interval", "%s: between 5m and 168h", iv)
	}
	if s.LogRetentionDays < 1 || s.LogRetentionDays > 3650 {
		v.add("log_retention_days", "%d: between 1 and 3650", s.LogRetentionDays)
	}
	if s.LogMaxBytes < MinLogMaxBytes || s.LogMaxBytes > MaxLogMaxBytes {
		v.add("log_max_bytes", "%d: between %d (1 MiB) and %d (64 GiB)", s.LogMaxBytes, int64(MinLogMaxBytes), int64(MaxLogMaxBytes))
	}
	switch s.Language {
	case "en", "zh":
	default:
		v.add("language", "unknown language %q: en or zh", s.Language)
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// entries checks custom allow/deny entries: a host, or host/path.
func (v *validator) entries(path string, es []string) {
	if len(es) > MaxEntries {
		v.add(path, "%d entries, at most %d", len(es), MaxEntries)
		return
	}
	for i, e := range es {
		if _, err := NormalizeEntry(e); err != nil {
			v.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
		}
	}
}

// NormalizeEntry puts a custom allow/deny entry into the form policy
// compares: a normalised host, or "host/path" for entries with a path.
func NormalizeEntry(e string) (string, error) {
	if strings.ContainsAny(e, "/") {
		n, err := lists.NormalizeURL(e)
		if err != nil {
			return "", fmt.Errorf("bad URL %q: %w", e, err)
		}
		return n, nil
	}
	n, err := hostname.Normalize(e)
	if err != nil {
		return "", fmt.Errorf("bad host %q: %w", e, err)
	}
	return n, nil
}

func (v *validator) listen(addr string, lan bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add("listen", "bad address %q: want host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add("listen", "bad port in %q", addr)
	}
	if lan {
		return
	}
	// Without LAN mode the proxy must not be reachable from the network.
	if host == "localhost" {
		return
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		v.add("listen", "%q is not a loopback address; set lan_clients to serve a network", addr)
	}
}

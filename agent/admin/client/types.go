package client

import (
	"fmt"
	"time"
)

// Status is what GET /v1/status answers, without a password: enough for the
// tray icon and `greengate status`, nothing a child could use against the
// filter.
type Status struct {
	Running     bool           `json:"running"`
	Version     string         `json:"version,omitempty"`     // agent build
	ProxyAddr   string         `json:"proxy_addr,omitempty"`  // where the filtering proxy listens
	PasswordSet bool           `json:"password_set"`          // false on first run: call SetPassword("", new)
	Paused      bool           `json:"paused"`                // filtering paused for everyone
	PausedUntil time.Time      `json:"paused_until,omitzero"` // when the pause ends by itself
	Grants      []Grant        `json:"grants,omitempty"`      // active temporary grants, pauses excluded
	Bundles     []BundleStatus `json:"bundles,omitempty"`
	// RuleCounts is the number of entries in force per category id.
	RuleCounts map[string]int `json:"rule_counts,omitempty"`
	// BlockedToday counts visits: repeated blocks of one site by one
	// client within a minute are one (see Event.Count).
	BlockedToday int `json:"blocked_today"`
	// BlockedAttemptsToday counts every blocked request, retries included.
	BlockedAttemptsToday int `json:"blocked_attempts_today"`
	// BlockLog is the block log's health since the agent started; nil
	// when the agent has no block log.
	BlockLog *BlockLogStatus `json:"block_log,omitempty"`
	// HTTPSBlockPages is the local CA the agent shows blocked HTTPS sites'
	// block page with ("" when HTTPS blocks are refused with no page). It
	// decrypts nothing else: allowed HTTPS is never terminated.
	HTTPSBlockPages string `json:"https_block_pages,omitempty"`
	// SettingsError is why the last edit of the settings file was refused;
	// the agent keeps running on the previous settings. "" when the file in
	// force is the file on disk.
	SettingsError string `json:"settings_error,omitempty"`
}

// BlockLogStatus says what the block log holds on disk and what it lost or
// deleted since the agent started.
type BlockLogStatus struct {
	Bytes    int64 `json:"bytes"`     // database plus WAL at the last check
	MaxBytes int64 `json:"max_bytes"` // the bound; the oldest entries go first
	// Dropped events were not logged because the writer was behind (the
	// block itself still happened).
	Dropped       uint64 `json:"dropped"`
	Pruned        uint64 `json:"pruned"`          // entries deleted by age, row count or size
	PrunedForSize uint64 `json:"pruned_for_size"` // of Pruned, to stay under MaxBytes
	Collapsed     uint64 `json:"collapsed"`       // repeats counted on an earlier entry
	LastError     string `json:"last_error,omitempty"`
}

// BundleStatus is the state of one publisher's rule bundle.
type BundleStatus struct {
	Publisher   string    `json:"publisher"`
	Version     uint64    `json:"version"`
	LastCheck   time.Time `json:"last_check,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Expires is when the bundle in force stops being valid. Expired says
	// that time has passed: the bundle still filters (its rules are the
	// newest the agent has) until a newer one verifies, and the tray and
	// `greengate status` say since when.
	Expires time.Time `json:"expires,omitzero"`
	Expired bool      `json:"expired,omitempty"`
}

// Settings is the parental settings document: the JSON file the agent runs
// on (agent/settings reads, validates and writes it). It holds no password
// hash: the hash lives in a separate root-only file, so this document can be
// shown, exported, diffed and shipped by school IT without leaking it.
//
// Unknown keys are an error when the agent decodes it. Zero values of the
// top-level scalars take the defaults agent/settings documents.
type Settings struct {
	Version        int       `json:"version"` // document format; 1
	Profiles       []Profile `json:"profiles"`
	DefaultProfile string    `json:"default_profile"` // profile for users not in Users; "" means the first
	// Users maps an OS user name to a profile name.
	Users map[string]string `json:"users,omitempty"`
	// Listen is the proxy's address; loopback unless LANClients is set.
	Listen string `json:"listen,omitempty"`
	// LANClients are the networks (CIDR) allowed to use the proxy besides
	// loopback: a school lab or café gateway.
	LANClients []string `json:"lan_clients,omitempty"`
	// LANProfiles maps LAN client networks (CIDR) to a profile: a lab's
	// PCs, a café's seats. The most specific network wins; other clients
	// get DefaultProfile.
	LANProfiles map[string]string `json:"lan_profiles,omitempty"`
	Updates     Updates           `json:"updates"`
	// LogRetentionDays is how long block events are kept.
	LogRetentionDays int `json:"log_retention_days,omitempty"`
	// LogMaxBytes bounds the block log on disk (database plus WAL); past
	// it the oldest entries go first.
	LogMaxBytes int64 `json:"log_max_bytes,omitempty"`
	// Language of the block page and tray: "en" or "zh".
	Language string `json:"language,omitempty"`
}

// Profile is one set of choices, e.g. "child", "teen", "lab".
type Profile struct {
	Name  string   `json:"name"`
	Block []string `json:"block"`           // category ids, e.g. "adult", "gambling"
	Allow []string `json:"allow,omitempty"` // hosts or "host/path" always allowed
	Deny  []string `json:"deny,omitempty"`  // hosts or "host/path" always blocked
	// AllowListOnly blocks everything not in Allow.
	AllowListOnly bool `json:"allow_list_only,omitempty"`
	// Hours limits browsing per weekday: keys "mon".."sun", values spans
	// "HH:MM-HH:MM" (end "24:00" allowed). A day not listed is allowed all
	// day; a day listed with no spans is not allowed at all. No Hours at all
	// allows every hour.
	Hours      map[string][]string `json:"hours,omitempty"`
	SafeSearch bool                `json:"safe_search"`
	// YouTube is "strict" (the default when empty) or "moderate".
	YouTube string `json:"youtube,omitempty"`
	// Classifier, when false, turns off the host name classifier that
	// blocks adult names no list has; absent or true leaves it on.
	Classifier *bool `json:"classifier,omitempty"`
}

// Updates says where rule bundles come from and whom to trust.
type Updates struct {
	// Sources are the trusted publishers; their bundles layer in this
	// order (vendor first, then school IT).
	Sources  []UpdateSource `json:"sources,omitempty"`
	Interval Duration       `json:"interval,omitzero"` // between checks; zero means the default
}

// UpdateSource is one publisher's bundle.
type UpdateSource struct {
	// URL of the bundle file, https (or http: bundles are signed). ""
	// means the bundle only arrives by `greengate bundle install`.
	URL string `json:"url,omitempty"`
	// Publisher is the id the bundle must carry, e.g. "vendor".
	Publisher string `json:"publisher"`
	// RootKeys are the pinned root public keys in rules/bundle's text
	// form "<name>+<id>+<base64>"; several allow a root to rotate.
	RootKeys []string `json:"root_keys"`
}

// Grant is a temporary override. An empty Host is a pause of all filtering;
// an empty Profile applies to every profile.
type Grant struct {
	Host    string    `json:"host,omitempty"`
	Profile string    `json:"profile,omitempty"`
	Until   time.Time `json:"until"`
}

// GrantRequest asks for a site to be allowed for a while.
type GrantRequest struct {
	Host     string   `json:"host"`
	Profile  string   `json:"profile,omitempty"`
	Duration Duration `json:"duration"`
}

// PauseRequest asks for filtering to stop for a while.
type PauseRequest struct {
	Duration Duration `json:"duration"`
}

// PasswordChange sets the parent password; Old is "" only on first run.
type PasswordChange struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// Login is the answer to a successful login: a session for reads.
type Login struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// Event is one block-log entry (see agent/blocklog.Event).
type Event struct {
	Time     time.Time `json:"time"`
	Profile  string    `json:"profile,omitempty"`
	Client   string    `json:"client,omitempty"`
	Host     string    `json:"host,omitempty"`
	URL      string    `json:"url,omitempty"`
	Category string    `json:"category,omitempty"`
	Entry    string    `json:"entry,omitempty"`
	Source   string    `json:"source,omitempty"`
	Action   string    `json:"action"` // block, grant, pause, request, admin
	Reason   string    `json:"reason,omitempty"`
	// Count is how many blocked requests this entry stands for (a visit's
	// retries and HTTPS-then-HTTP attempts); Last is the last one's time.
	Count int       `json:"count,omitempty"`
	Last  time.Time `json:"last,omitzero"`
}

// Notice is an HTTPS site the agent just blocked for the caller's user:
// the browser shows only a connection error there, so the tray says why.
type Notice struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Category string    `json:"category,omitempty"` // id, e.g. "adult"
	Entry    string    `json:"entry,omitempty"`    // the list entry that matched
}

// EventFilter selects events; zero fields do not filter.
type EventFilter struct {
	From, To     time.Time // From inclusive, To exclusive
	Category     string
	Action       string
	Profile      string
	HostContains string
	Limit        int // zero means the agent's default (100)
	Offset       int
}

// DayCount is the number of events of one category on one local day.
type DayCount struct {
	Day      string `json:"day"` // YYYY-MM-DD
	Category string `json:"category"`
	Count    int    `json:"count"`
}

// Request is a child's "ask a parent" for a site.
type Request struct {
	Time   time.Time `json:"time,omitzero"`    // set by the agent
	Client string    `json:"client,omitempty"` // OS user or address, set by the agent
	Host   string    `json:"host"`
	Note   string    `json:"note,omitempty"` // what the child wrote
}

// Duration is a time.Duration written as "90m", "1h30m" in JSON.
type Duration time.Duration

// MarshalText writes d in time.Duration's String form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a time.ParseDuration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parsing duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// Package blocklog keeps the agent's block events in a SQLite database and
// answers the questions the tray app asks about them.
//
// # What is logged
//
// An [Event] is written for every block, temporary grant, pause, child's
// request ("ask a parent") and admin action. Allowed traffic is never
// logged: the package has no action for it, and callers must not invent
// one. For HTTPS only the host is known (from CONNECT or SNI) and
// [Event.URL] stays empty; the URL is kept only for plain HTTP.
//
// # How it writes
//
// [Log.Record] never blocks the proxy: it puts the event on a bounded queue
// and returns. When the queue is full the event is dropped and counted in
// [Stats.Dropped] (fail-open for the log, never for the verdict: a block
// still blocks when its log entry is dropped). One writer goroutine takes
// events off the queue and commits them in batches of up to
// [Config.BatchSize], one transaction per batch, at most
// [Config.FlushInterval] after the first event of the batch arrived.
// A batch whose commit fails stays in memory and is retried; while it is
// pending the writer stops taking from the queue, so memory stays bounded
// and the overflow shows up as drops. A panic while writing a batch is
// recovered and logged, the batch is counted in [Stats.Failed] and the
// writer keeps going.
//
// # Durability
//
// The promise is "nothing is lost when the power goes": once [Stats.Written]
// counts an event, or [Log.Flush] has returned nil, the event is on disk.
// The database runs in WAL mode with synchronous=FULL. SQLite sets the
// synchronous level per database file, not per table, and this file holds
// only the events table, so the level is chosen for it: NORMAL in WAL mode
// never corrupts the file but can lose the last commits on power loss, which
// breaks the promise for exactly the events a parent is most likely to look
// for (the admin action or pause just before the machine was switched off).
// FULL costs one fsync per commit; the batch writer commits many events per
// fsync, which makes that affordable. BenchmarkWriteThroughput, last run
// (2 shared cores, ext4 on virtio): FULL 1k events/s at batch 1, 57k at
// batch 256; NORMAL 8k and 76k. Events
// still on the in-memory queue when the power goes are lost; FlushInterval
// bounds that window.
//
// # Repeats
//
// A browser that retries, or tries HTTPS and then HTTP, and a script that
// hammers a blocked URL make many blocks of one visit. The writer collapses
// them before SQLite: a block with the same profile, client, host,
// category, list entry and source as one that began less than
// [Config.CollapseWindow] before adds to that row's [Event.Count] and
// [Event.Last] instead of writing a row. The key leaves out what one visit
// varies: the URL (empty for a refused CONNECT, the page for HTTP; the row
// keeps the first non-empty one), scheme, port and the proxy's wording of
// the reason. Only blocks collapse; grants, pauses, requests and admin
// actions are each a row. So a flood costs a row per window, and
// [Log.CountSince] counts visits; [Log.AttemptsSince] counts attempts.
// The open visits are held in a table of at most [Config.MaxOpenVisits];
// past it, or past its window, the oldest is closed and its next block
// starts a new row. A row's count is updated in the batch after more
// attempts arrive, so Flush and the durability promise cover every
// attempt, not only the first.
//
// # Disk
//
// The database file plus its WAL stay under [Config.MaxBytes], checked
// after every commit, not on a timer: when the pages in use pass 90% of
// the database's share (three quarters of MaxBytes), the oldest rows are
// deleted down to 85%. SQLite reuses freed pages, so the file stops
// growing; a file over its share (one written before the bound) is given
// back with incremental vacuum, which a database from before this version
// is rebuilt for (VACUUM) once when the writer starts. The WAL is bounded
// by wal_autocheckpoint and journal_size_limit from its quarter. A single
// batch of maximum-length hostile fields can overshoot a tiny limit until
// the next commit's check; the default limit holds hundreds of batches.
// Deleted rows are counted in [Stats.PrunedForSize].
//
// Retention by age ([Config.MaxAge]) and by row count ([Config.MaxRows]) is
// applied by the writer at start and then every [Config.RetentionInterval],
// never on the Record path.
//
// # Opening
//
// [Open] creates or migrates the schema (versioned with PRAGMA user_version).
// A file that is not a SQLite database, or fails SQLite's quick_check, gives
// an error matching [ErrCorrupt]; the caller may then move it aside with
// [MoveAside] and start fresh, which [OpenOrMoveAside] does in one call. A
// database written by a newer GreenGate gives [ErrNewerSchema] and must not
// be moved aside: it is valid data a downgrade cannot read.
//
// # Concurrency
//
// All methods of [Log] are safe for concurrent use. Queries run on their own
// read connections and never wait for the writer (WAL readers do not block
// the writer or each other). Two Logs on different paths in one process are
// independent; two Logs on the same path are not supported.
package blocklog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Action says what happened. Allowed traffic has no action: it is never
// logged.
type Action string

// The actions the agent records.
const (
	ActionBlock   Action = "block"   // a request was refused
	ActionGrant   Action = "grant"   // a parent allowed a site temporarily
	ActionPause   Action = "pause"   // filtering was paused
	ActionRequest Action = "request" // a child asked a parent to allow a site
	ActionAdmin   Action = "admin"   // a password-protected change (settings, uninstall, ...)
)

// Event is one logged decision or action. Text fields come from the network
// or from a child's keyboard and are treated as hostile: they are stored as
// data, never interpreted, truncated to a bounded length and made valid
// UTF-8 by the writer.
type Event struct {
	Time     time.Time // when; zero means the Log's clock at Record
	Profile  string    // settings profile in force, e.g. "child"
	Client   string    // client address or OS user
	Host     string    // normalised host
	URL      string    // full URL for plain HTTP; empty for HTTPS (never decrypted)
	Category string    // rule category, e.g. "adult"
	Entry    string    // the list entry that matched
	Source   string    // where the entry came from: bundle publisher, custom list
	Action   Action
	Reason   string // human-readable detail

	// Count is how many attempts this row stands for, and Last the time of
	// the last one: repeated blocks of one visit collapse into one row (see
	// "Repeats" in the package doc). Record ignores both; rows read back
	// have Count >= 1 and Last == Time when Count is 1.
	Count int
	Last  time.Time
}

// Field length caps applied by the writer. A host is at most 253 bytes when
// valid; the caps only stop a hostile value from bloating the database.
const (
	maxHostLen  = 1024
	maxURLLen   = 4096
	maxTextLen  = 1024
	maxShortLen = 256
)

// Defaults for zero Config fields.
const (
	DefaultQueueSize         = 4096
	DefaultBatchSize         = 256
	DefaultFlushInterval     = 500 * time.Millisecond
	DefaultMaxAge            = 90 * 24 * time.Hour
	DefaultMaxRows           = 1_000_000
	DefaultRetentionInterval = time.Hour
	DefaultBusyTimeout       = 5 * time.Second
	DefaultCollapseWindow    = time.Minute
	DefaultMaxOpenVisits     = 1024
	DefaultMaxBytes          = 64 << 20
)

// MinMaxBytes is the smallest MaxBytes Open accepts: below it the WAL's
// share cannot hold one batch.
const MinMaxBytes = 256 << 10

// Config configures [Open]. Zero values take the stated defaults.
type Config struct {
	// Path of the database file. Required. Its directory must exist.
	Path string
	// Logger receives writer errors and recovered panics. Nil discards.
	Logger *slog.Logger
	// QueueSize bounds the events waiting for the writer. Zero means
	// DefaultQueueSize.
	QueueSize int
	// BatchSize is the most events committed in one transaction. Zero means
	// DefaultBatchSize.
	BatchSize int
	// FlushInterval is the longest an event waits on the queue before its
	// batch is committed. Zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxAge deletes events older than this. Zero means DefaultMaxAge;
	// negative keeps events of any age.
	MaxAge time.Duration
	// MaxRows keeps only the newest MaxRows events. Zero means
	// DefaultMaxRows; negative keeps any number.
	MaxRows int
	// RetentionInterval is how often the writer applies MaxAge and MaxRows.
	// Zero means DefaultRetentionInterval.
	RetentionInterval time.Duration
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection (an external reader or backup tool). Zero means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Clock stamps events with a zero Time and drives retention. Nil means
	// time.Now.
	Clock func() time.Time
	// CollapseWindow: a block with the same key as one that began less
	// than this before is counted on that one's row. Zero means
	// DefaultCollapseWindow; negative writes a row per block.
	CollapseWindow time.Duration
	// MaxOpenVisits bounds the visits held open for collapsing; past it the
	// oldest is closed. Zero means DefaultMaxOpenVisits.
	MaxOpenVisits int
	// MaxBytes bounds the database file plus its WAL. Zero means
	// DefaultMaxBytes; negative is unbounded; otherwise at least
	// MinMaxBytes.
	MaxBytes int64

	// synchronous overrides the SQLite synchronous level; only benchmarks
	// set it, to measure what FULL costs against NORMAL.
	synchronous string
	// beforeCommit, when set, runs inside each batch transaction before it
	// commits; white-box tests use it to hold up or crash the writer.
	beforeCommit func([]Event)
}

// Stats are the writer's counters since Open.
type Stats struct {
	Written   uint64 // events committed to disk
	Dropped   uint64 // events refused by Record: queue full or Log closed
	Failed    uint64 // events lost to a recovered panic in the writer
	Pruned    uint64 // rows deleted by retention or the size bound
	Queued    int    // events accepted but not yet committed
	LastError error  // the most recent write or retention error, nil if none

	Collapsed     uint64 // events counted on an earlier event's row
	PrunedForSize uint64 // rows of Pruned deleted to stay under MaxBytes
	DiskBytes     int64  // database plus WAL at the last size check
	MaxBytes      int64  // Config.MaxBytes in force; negative when unbounded
}

// Log is an open block log. Create it with [Open]; stop it with [Log.Close].
type Log struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	wdb  *sql.DB // one connection, used only by the writer goroutine
	rdb  *sql.DB // read-only connections for queries
	path string

	queue    chan Event
	flushReq chan chan error
	stop     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc // aborts the writer's in-flight statement

	closed     atomic.Bool
	inflight   atomic.Int64  // Record calls between the closed check and the send
	accepted   atomic.Uint64 // events Record put on the queue
	written    atomic.Uint64
	dropped    atomic.Uint64
	failed     atomic.Uint64
	pruned     atomic.Uint64
	pending    atomic.Int64 // events taken off the queue, not yet committed
	collapsed  atomic.Uint64
	prunedSize atomic.Uint64
	diskBytes  atomic.Int64

	errMu   sync.Mutex
	lastErr error

	closeOnce sync.Once
	closeErr  error

	// Owned by the writer goroutine.
	dirty         []*visit            // rows with uncommitted events, at most BatchSize
	open          map[visitKey]*visit // visits that later blocks may join
	order         []*visit            // open visits, oldest first from head
	head          int
	ids           []int64 // reused by writeBatch
	lastRetention time.Time
	retained      bool
	incremental   bool // the database has auto_vacuum = INCREMENTAL
	insert        *sql.Stmt
	update        *sql.Stmt
}

// Open opens or creates the database at cfg.Path, brings its schema up to
// date and starts the writer. ctx bounds the opening work (integrity check
// and migration), not the Log's lifetime.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Path == "" {
		return nil, errors.New("opening block log: empty path")
	}
	cfg = withDefaults(cfg)
	if cfg.MaxBytes > 0 && cfg.MaxBytes < MinMaxBytes {
		return nil, fmt.Errorf("opening block log: size limit %d bytes below the minimum %d", cfg.MaxBytes, MinMaxBytes)
	}
	if err := makePrivate(cfg.Path); err != nil {
		return nil, err
	}
	wdb, rdb, err := openDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	insert, err := wdb.PrepareContext(ctx, insertSQL)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("preparing insert in %s: %w", cfg.Path, err)
	}
	update, err := wdb.PrepareContext(ctx, updateSQL)
	if err != nil {
		insert.Close()
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("preparing update in %s: %w", cfg.Path, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	l := &Log{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      cfg.Clock,
		wdb:      wdb,
		rdb:      rdb,
		path:     cfg.Path,
		queue:    make(chan Event, cfg.QueueSize),
		flushReq: make(chan chan error),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		cancel:   cancel,
		dirty:    make([]*visit, 0, cfg.BatchSize),
		open:     make(map[visitKey]*visit),
		insert:   insert,
		update:   update,
	}
	go l.run(wctx)
	return l, nil
}

func withDefaults(cfg Config) Config {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxRows == 0 {
		cfg.MaxRows = DefaultMaxRows
	}
	if cfg.RetentionInterval <= 0 {
		cfg.RetentionInterval = DefaultRetentionInterval
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = DefaultBusyTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.CollapseWindow == 0 {
		cfg.CollapseWindow = DefaultCollapseWindow
	}
	if cfg.MaxOpenVisits <= 0 {
		cfg.MaxOpenVisits = DefaultMaxOpenVisits
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.synchronous == "" {
		cfg.synchronous = "FULL"
	}
	return cfg
}

// Record queues ev for writing and reports whether it was accepted. It
// never blocks: when the queue is full, or the Log is closed, the event is
// dropped and counted in Stats.Dropped.
func (l *Log) Record(ev Event) bool {
	// inflight lets Close wait for Records that passed the closed check, so
	// every accepted event is either written or visible in Stats.Queued.
	l.inflight.Add(1)
	defer l.inflight.Add(-1)
	if l.closed.Load() {
		l.dropped.Add(1)
		return false
	}
	if ev.Time.IsZero() {
		ev.Time = l.now()
	}
	select {
	case l.queue <- ev:
		l.accepted.Add(1)
		return true
	default:
		l.dropped.Add(1)
		return false
	}
}

// Stats returns the current counters.
func (l *Log) Stats() Stats {
	l.errMu.Lock()
	lastErr := l.lastErr
	l.errMu.Unlock()
	return Stats{
		Written:   l.written.Load(),
		Dropped:   l.dropped.Load(),
		Failed:    l.failed.Load(),
		Pruned:    l.pruned.Load(),
		Queued:    l.queued(),
		LastError: lastErr,

		Collapsed:     l.collapsed.Load(),
		PrunedForSize: l.prunedSize.Load(),
		DiskBytes:     l.diskBytes.Load(),
		MaxBytes:      l.cfg.MaxBytes,
	}
}

// queued counts from totals rather than from the channel's length: an
// event the writer has just received but not yet put in its batch is in
// neither, and Stats must not lose sight of it.
func (l *Log) queued() int {
	n := int64(l.accepted.Load()) - int64(l.written.Load()) - int64(l.failed.Load())
	return int(max(n, 0)) // a commit can be counted a moment before its Record
}

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("block log closed")

// Flush waits until every event accepted by Record before the call is
// committed, and applies retention if it is due. It returns the commit
// error if the writer could not write.
func (l *Log) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case l.flushReq <- reply:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("flushing block log: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("flushing block log: %w", ctx.Err())
	}
}

// Close stops accepting events, commits what is queued and closes the
// database. If ctx ends first, the writer is aborted and the error says how
// many events were lost. Close is idempotent; later calls return the first
// result.
func (l *Log) Close(ctx context.Context) error {
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

func (l *Log) close(ctx context.Context) error {
	l.closed.Store(true)
	var errs []error
	// Records in flight finish in nanoseconds; wait for them so their events
	// are on the queue before the writer's final drain.
	for l.inflight.Load() != 0 {
		if ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Microsecond)
	}
	close(l.stop)
	select {
	case <-l.done:
	case <-ctx.Done():
		l.cancel()
		<-l.done
	}
	l.cancel()
	if lost := len(l.queue) + int(l.pending.Load()); lost > 0 {
		cause := ctx.Err()
		if cause == nil {
			cause = l.Stats().LastError
		}
		if cause == nil {
			cause = errors.New("writer stopped")
		}
		errs = append(errs, fmt.Errorf("closing block log %s: %d events not written: %w", l.path, lost, cause))
	}
	if err := l.insert.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing insert statement: %w", err))
	}
	if err := l.update.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing update statement: %w", err))
	}
	if err := l.rdb.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing block log readers %s: %w", l.path, err))
	}
	if err := l.wdb.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing block log %s: %w", l.path, err))
	}
	return errors.Join(errs...)
}

func (l *Log) setErr(err error) {
	l.errMu.Lock()
	l.lastErr = err
	l.errMu.Unlock()
}

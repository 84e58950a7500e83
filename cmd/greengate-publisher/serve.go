package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

// bundleHandler serves the *.bundle files at the top of one directory.
//
// Every answer carries a strong ETag, the base64url SHA-256 of the file,
// so agents poll with If-None-Match and get 304 Not Modified; the hash is
// cached per (file, size, mtime) so a poll does not re-read the file.
// Files are replaced only by rename (sign and build write atomically), so
// a poll never sees half a bundle.
//
// Nothing is gzipped: a bundle's payload is already a zstd stream, and the
// envelope around it is a few hundred bytes of keys and signatures, so gzip
// would cost CPU on every download for no saving (TestServeNoGzipGain
// measures it). Only *.bundle files are served: no listing, no dot files
// (temporary files), no keys, no subdirectories.
type bundleHandler struct {
	dir string
	log *slog.Logger

	mu    sync.Mutex
	etags map[string]etagEntry
}

type etagEntry struct {
	info os.FileInfo // same file (inode), size and mtime: same content
	etag string
}

func newBundleHandler(dir string, log *slog.Logger) *bundleHandler {
	return &bundleHandler{dir: dir, log: log, etags: map[string]etagEntry{}}
}

func (h *bundleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok\n")
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".bundle") {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(h.dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	etag, err := h.etag(name, f, st)
	if err != nil {
		h.log.Error("hashing bundle", "file", name, "err", err)
		http.Error(w, "cannot read bundle", http.StatusInternalServerError)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Caches (a school proxy, a CDN) may keep it but must revalidate, so
	// a new version reaches agents on their next poll.
	w.Header().Set("Cache-Control", "no-cache")
	// ServeContent answers If-None-Match (strong compare) with 304,
	// If-Modified-Since, HEAD and ranges.
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// etag returns f's strong ETag, from the cache while size and mtime hold.
func (h *bundleHandler) etag(name string, f *os.File, st os.FileInfo) (string, error) {
	h.mu.Lock()
	e, ok := h.etags[name]
	h.mu.Unlock()
	// A rename puts a new file in place, so comparing the file identity
	// catches a re-sign within one mtime tick that kept the size.
	if ok && os.SameFile(e.info, st) && e.info.Size() == st.Size() && e.info.ModTime().Equal(st.ModTime()) {
		return e.etag, nil
	}
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tag := `"` + base64.RawURLEncoding.EncodeToString(hash.Sum(nil)) + `"`
	h.mu.Lock()
	h.etags[name] = etagEntry{st, tag}
	h.mu.Unlock()
	return tag, nil
}

// newServer returns an http.Server with a bound on every phase, so a slow
// or idle client cannot hold a connection for ever.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// 64 MiB, the largest bundle, at ~1 Mbit/s.
		WriteTimeout:   10 * time.Minute,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve runs srv on ln until ctx ends, then shuts down gracefully,
// giving in-flight downloads up to grace to finish.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, certFile, keyFile string, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if certFile != "" {
			errc <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// rebuilder re-builds and re-signs a bundle from a build source (usually
// naming upstream list URLs) into the served directory.
type rebuilder struct {
	in     string
	key    *bundle.PrivateKey
	cert   *bundle.Certificate
	dir    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
}

// rebuild builds once. It writes nothing when the build fails (a list
// that cannot be fetched or parsed: agents keep the bundle they have) or
// when the content is unchanged and the served bundle has more than half
// its validity left, so agents do not download the same rules again.
// The version is the build time in Unix seconds, or one more than the
// served bundle's if that is already higher, so it always increases.
func (rb *rebuilder) rebuild(ctx context.Context) (written bool, err error) {
	now := rb.now()
	b, _, err := buildBundle(ctx, rb.in, 0, now, rb.client)
	if err != nil {
		return false, err
	}
	out := filepath.Join(rb.dir, b.Publisher+".bundle")
	if f, err := os.Open(out); err == nil {
		old, ierr := bundle.Inspect(f)
		f.Close()
		if ierr == nil {
			halfLeft := old.Expires.Sub(now) > old.Expires.Sub(old.Created)/2
			if halfLeft && reflect.DeepEqual(old.Categories, b.Categories) && reflect.DeepEqual(old.SafeSearch, b.SafeSearch) {
				return false, nil
			}
			b.Version = max(uint64(now.Unix()), old.Version+1)
		}
	} else {
		b.Version = uint64(now.Unix())
	}
	data, err := bundle.Sign(b, rb.key, rb.cert)
	if err != nil {
		return false, err
	}
	if err := writeAtomic(out, data); err != nil {
		return false, err
	}
	n := b.Counts()
	rb.log.Info("rebuilt bundle", "file", out, "version", b.Version, "domains", n.Domains, "urls", n.URLs, "bytes", len(data))
	return true, nil
}

// loop rebuilds every interval until ctx ends. A failed rebuild is logged
// and retried at the next tick; the served bundle stays.
func (rb *rebuilder) loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := rb.rebuild(ctx); err != nil && ctx.Err() == nil {
			rb.log.Error("rebuild failed; still serving the previous bundle", "source", rb.in, "err", err)
		}
	}
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "DIR [-addr HOST:PORT] [-tls-cert FILE -tls-key FILE] [-rebuild SOURCE.json -every DUR -key SIGNING.key -cert SIGNING.cert]", stderr)
	addr := fs.String("addr", "localhost:8080", "address to listen on; ':8080' serves the whole network")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM); with -tls-key serves HTTPS. Bundles are signed, so plain HTTP is safe; TLS only hides what is fetched")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	rebuildSrc := fs.String("rebuild", "", "build source to re-build and re-sign into DIR at start and every -every")
	every := fs.Duration("every", 6*time.Hour, "how often to rebuild")
	signKey := fs.String("key", "", "signing private key file, for -rebuild")
	signCert := fs.String("cert", "", "the signing key's certificate file, for -rebuild")
	var now timeFlag
	fs.Var(&now, "now", "build time for -rebuild (RFC 3339; default the time of each build); the source should not fix 'created'")
	pos, ok := parseArgs(fs, args, 1)
	if !ok {
		return exitUsage
	}
	if (*certFile == "") != (*keyFile == "") || (*rebuildSrc != "" && (*signKey == "" || *signCert == "" || *every <= 0)) {
		fs.Usage()
		return exitUsage
	}
	dir := pos[0]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fail(stderr, "serve", fmt.Errorf("bundle directory %s: not a directory (%v)", dir, err))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var rb *rebuilder
	if *rebuildSrc != "" {
		key, cert, err := readSigner(*signKey, *signCert)
		if err != nil {
			return fail(stderr, "serve", err)
		}
		rb = &rebuilder{in: *rebuildSrc, key: key, cert: cert, dir: dir, log: log, now: func() time.Time { return now.or(time.Now()) },
			client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 15 * time.Second, ResponseHeaderTimeout: time.Minute}}}
		// A failed first build is not fatal: the bundle already in DIR,
		// if any, is served until a rebuild succeeds.
		if _, err := rb.rebuild(ctx); err != nil {
			log.Error("first build failed; serving what is in the directory", "source", *rebuildSrc, "err", err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(stderr, "serve", fmt.Errorf("listening: %w", err))
	}
	scheme := "http"
	if *certFile != "" {
		scheme = "https"
	}
	bundles, _ := filepath.Glob(filepath.Join(dir, "*.bundle"))
	fmt.Fprintf(stdout, "serving %d bundles from %s at %s://%s/ (health: /healthz)\n", len(bundles), dir, scheme, ln.Addr())
	rctx, rcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if rb != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rb.loop(rctx, *every)
		}()
	}
	err = serve(ctx, newServer(newBundleHandler(dir, log), log), ln, *certFile, *keyFile, 30*time.Second)
	rcancel() // serve may also end on its own error
	wg.Wait()
	if err != nil {
		return fail(stderr, "serve", err)
	}
	fmt.Fprintln(stdout, "stopped")
	return exitOK
}

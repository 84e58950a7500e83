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
	"strings"
	"sync"
	"time"
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

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "DIR [-addr HOST:PORT] [-tls-cert FILE -tls-key FILE]", stderr)
	addr := fs.String("addr", "localhost:8080", "address to listen on; ':8080' serves the whole network")
	certFile := fs.String("tls-cert", "", "TLS certificate (PEM); with -tls-key serves HTTPS. Bundles are signed, so plain HTTP is safe; TLS only hides what is fetched")
	keyFile := fs.String("tls-key", "", "TLS private key (PEM)")
	pos, ok := parseArgs(fs, args, 1)
	if !ok {
		return exitUsage
	}
	if (*certFile == "") != (*keyFile == "") {
		fs.Usage()
		return exitUsage
	}
	dir := pos[0]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fail(stderr, "serve", fmt.Errorf("bundle directory %s: not a directory (%v)", dir, err))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
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
	if err := serve(ctx, newServer(newBundleHandler(dir, log), log), ln, *certFile, *keyFile, 30*time.Second); err != nil {
		return fail(stderr, "serve", err)
	}
	fmt.Fprintln(stdout, "stopped")
	return exitOK
}

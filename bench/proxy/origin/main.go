// Command origin is the local origin server for scripts/bench-proxy.sh:
// /1k answers 1024 bytes; /big?mb=N streams N MiB. It serves plain HTTP
// and, with a throw-away self-signed certificate, HTTPS.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/greengate/greengate/internal/testcert"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:18080", "plain HTTP address")
	httpsAddr := flag.String("https", "127.0.0.1:18443", "HTTPS address")
	flag.Parse()
	kib := make([]byte, 1024)
	for i := range kib {
		kib[i] = 'a' + byte(i%26)
	}
	chunk := make([]byte, 1<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/1k", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1024")
		_, _ = w.Write(kib)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		if mb <= 0 {
			mb = 256
		}
		w.Header().Set("Content-Length", strconv.Itoa(mb<<20))
		for i := 0; i < mb; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	cert, _, err := testcert.SelfSigned("127.0.0.1", "localhost")
	if err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
	srvTLS := &http.Server{Addr: *httpsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() {
		if err := srvTLS.ListenAndServeTLS("", ""); err != nil {
			fmt.Fprintln(os.Stderr, "origin https:", err)
			os.Exit(1)
		}
	}()
	srv := &http.Server{Addr: *httpAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println("origin: ready")
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "origin http:", err)
		os.Exit(1)
	}
}

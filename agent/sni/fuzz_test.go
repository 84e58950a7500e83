package sni_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/greengate/greengate/agent/sni"
	"github.com/greengate/greengate/rules/hostname"
)

// FuzzPeek checks the properties the proxy relies on for any input:
// Peek never consumes (the reader yields the input unchanged), never reads
// past its cap, returns either a normalised non-empty name or one of the
// documented errors with a zero Hello, and gives the same answer however
// the bytes are delivered. It cannot hang: the input is finite and Peek
// stops at its end.
func FuzzPeek(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(helloDir, "*.bin"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed hellos in %s: %v", helloDir, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(0))
		if b[0] == 0x16 {
			f.Add(fragment(f, b, 7), uint16(300))
		}
	}
	f.Add(record(buildHello(sniExt("A.test."))), uint16(0))
	f.Add(record(buildHello(sniExt("a.test.", "b.test"))), uint16(0))
	f.Add([]byte{}, uint16(0))

	f.Fuzz(func(t *testing.T, data []byte, capArg uint16) {
		// Watchdog for "never hangs": a stuck Peek crashes the worker and
		// the fuzzer keeps the input. Generous, since CI machines are shared.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("HANG cap=%d data=%x", capArg, data))
			}
		}()
		opt := sni.Options{}
		if capArg > 0 {
			opt.MaxBytes = int(capArg)
		}
		limit := sni.DefaultMaxBytes
		if opt.MaxBytes > 0 {
			limit = opt.MaxBytes
		}
		src := &countingReader{r: bytes.NewReader(data)}
		br := bufio.NewReaderSize(src, limit)
		h, err := sni.Peek(br, opt)
		// Nothing consumed means everything read is still buffered: what one
		// connection can make us hold is bounded by the reader size.
		if src.total > br.Size() {
			t.Fatalf("read %d bytes from the connection, buffer is %d", src.total, br.Size())
		}
		rest, rerr := io.ReadAll(br)
		if rerr != nil || !bytes.Equal(rest, data) {
			t.Fatalf("Peek consumed or changed input: %d bytes left of %d (%v)", len(rest), len(data), rerr)
		}

		if err != nil {
			if h.ServerName != "" || h.RawServerName != "" || h.Len != 0 || h.ALPN != nil || h.ECH {
				t.Fatalf("error %v with non-zero Hello %+v", err, h)
			}
			known := errors.Is(err, sni.ErrNotTLS) || errors.Is(err, sni.ErrNoSNI) ||
				errors.Is(err, sni.ErrBadName) || errors.Is(err, sni.ErrTooLarge) ||
				errors.Is(err, sni.ErrMalformed) || (len(data) == 0 && errors.Is(err, io.EOF))
			if !known {
				t.Fatalf("error outside the documented classes: %v", err)
			}
		} else {
			if h.ServerName == "" || h.RawServerName == "" {
				t.Fatalf("success with empty name: %+v", h)
			}
			if n, nerr := hostname.NormalizeRequest(h.ServerName); nerr != nil || n != h.ServerName {
				t.Fatalf("ServerName %q not in normal form (%q, %v)", h.ServerName, n, nerr)
			}
			if strings.HasSuffix(h.ServerName, ".") || strings.ToLower(h.ServerName) != h.ServerName {
				t.Fatalf("ServerName %q not normalised", h.ServerName)
			}
			if plainASCII(h.RawServerName) {
				if want := strings.ToLower(strings.TrimSuffix(h.RawServerName, ".")); h.ServerName != want {
					t.Fatalf("ServerName %q, want %q from raw %q", h.ServerName, want, h.RawServerName)
				}
			}
			if h.Len <= 0 || h.Len > len(data) || h.Len > limit {
				t.Fatalf("Len %d outside (0, min(%d, %d)]", h.Len, len(data), limit)
			}
		}

		// Delivery must not matter: one byte per Read gives the same answer.
		br2 := bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), limit)
		h2, err2 := sni.Peek(br2, opt)
		if h2.ServerName != h.ServerName || h2.Len != h.Len || (err == nil) != (err2 == nil) {
			t.Fatalf("byte-at-a-time Peek = %+v, %v; whole = %+v, %v", h2, err2, h, err)
		}
	})
}

// plainASCII reports whether s has only the characters hostname keeps as
// they are (modulo case), so the expected normal form is easy to state.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

type countingReader struct {
	r     io.Reader
	total int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.total += n
	return n, err
}

// BenchmarkPeek measures one Peek of recorded hellos from a reader that
// already holds them: the per-connection CPU and garbage the proxy pays.
// Most of it is crypto/tls's own parse; the trailing-dot path parses twice.
//
// Last result (go1.26.8, AMD EPYC, 2 shared cores):
//
//	BenchmarkPeek/chromium-2                    9995 ns/op  195.40 MB/s  1953 hello-bytes  11369 B/op  51 allocs/op
//	BenchmarkPeek/chromium-trailing-dot-2      18830 ns/op  103.98 MB/s  1958 hello-bytes  25662 B/op  89 allocs/op
//	BenchmarkPeek/chromium-100-byte-records-2  11220 ns/op  182.53 MB/s  2048 hello-bytes  17169 B/op  58 allocs/op
//	BenchmarkPeek/openssl-2                     3971 ns/op   80.08 MB/s   318 hello-bytes   4384 B/op  39 allocs/op
func BenchmarkPeek(b *testing.B) {
	chromium := readHello(b, "chromium.bin")
	cases := []struct {
		name string
		raw  []byte
	}{
		{"chromium", chromium},
		{"chromium-trailing-dot", readHello(b, "chromium-dot.bin")},
		{"chromium-100-byte-records", fragment(b, chromium, 100)},
		{"openssl", readHello(b, "openssl.bin")},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			src := bytes.NewReader(bc.raw)
			br := sni.NewReader(src, sni.Options{})
			b.SetBytes(int64(len(bc.raw)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(bc.raw)
				br.Reset(src)
				h, err := sni.Peek(br, sni.Options{})
				if err != nil || h.ServerName == "" {
					b.Fatalf("Peek: %+v, %v", h, err)
				}
			}
			b.ReportMetric(float64(len(bc.raw)), "hello-bytes")
		})
	}
}

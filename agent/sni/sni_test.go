package sni_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/crypto/cryptobyte"

	"github.com/greengate/greengate/agent/sni"
)

const helloDir = "../../testdata/clienthello"

func readHello(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(helloDir, name))
	if err != nil {
		tb.Fatalf("reading recorded hello: %v", err)
	}
	return b
}

// peekAll runs Peek over r and also returns everything br yields after.
func peekAll(tb testing.TB, r io.Reader, opt sni.Options) (sni.Hello, error, []byte) {
	tb.Helper()
	br := sni.NewReader(r, opt)
	h, err := sni.Peek(br, opt)
	rest, rerr := io.ReadAll(br)
	if rerr != nil {
		tb.Fatalf("reading after Peek: %v", rerr)
	}
	return h, err, rest
}

// handshakeOf reassembles the handshake bytes carried by raw's records.
func handshakeOf(tb testing.TB, raw []byte) (msg []byte, version [2]byte) {
	tb.Helper()
	copy(version[:], raw[1:3])
	for len(raw) > 0 {
		if len(raw) < 5 || raw[0] != 0x16 {
			tb.Fatalf("not a handshake record stream")
		}
		n := int(raw[3])<<8 | int(raw[4])
		msg = append(msg, raw[5:5+n]...)
		raw = raw[5+n:]
	}
	return msg, version
}

// fragment re-frames a recorded hello into TLS records of at most size
// bytes each: legal TLS (RFC 8446 5.1 lets any handshake message span
// records), and what a middlebox or an evasive client may do.
func fragment(tb testing.TB, raw []byte, size int) []byte {
	tb.Helper()
	msg, v := handshakeOf(tb, raw)
	var out []byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		out = append(out, 0x16, v[0], v[1], byte(n>>8), byte(n))
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// record frames one handshake message into a single record.
func record(msg []byte) []byte {
	return append([]byte{0x16, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// ext is one TLS extension for buildHello.
type ext struct {
	typ  uint16
	data []byte
}

// sniExt encodes a server_name extension with one host_name per name.
func sniExt(names ...string) ext {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, n := range names {
			b.AddUint8(0)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
		}
	})
	return ext{0, b.BytesOrPanic()}
}

// buildHello encodes a minimal TLS 1.2 ClientHello handshake message with
// the given extensions, for the cases no real client will send us.
func buildHello(exts ...ext) []byte {
	var b cryptobyte.Builder
	b.AddUint8(1)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(make([]byte, 32))
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0xc02f) })
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				b.AddUint16(e.typ)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.data) })
			}
		})
	})
	return b.BytesOrPanic()
}

func TestPeekRecordedHellos(t *testing.T) {
	t.Parallel()
	h2 := []string{"h2", "http/1.1"}
	tests := []struct {
		file, name, raw string
		ech             bool
		alpn            []string
	}{
		// Chromium sends GREASE ECH to every server, hence ECH without a
		// configured ECH key: the outer name is still the real one here.
		{"chromium.bin", "chromium.test", "chromium.test", true, h2},
		{"chromium-dot.bin", "chromium-dot.test", "chromium-dot.test.", true, h2},
		{"curl.bin", "curl.test", "curl.test", false, h2},
		{"go.bin", "go.test", "go.test", false, h2},
		// Real ECH: the recorder asked for secret.test; only the public
		// name is visible and must be what we decide on.
		{"go-ech.bin", "public.test", "public.test", true, h2},
		{"openssl.bin", "openssl.test", "openssl.test", false, nil},
		{"openssl-dot.bin", "openssl-dot.test", "Openssl-Dot.test.", false, nil},
		{"openssl-tls12.bin", "openssl-tls12.test", "openssl-tls12.test", false, nil},
		{"python.bin", "python.test", "python.test", false, nil},
		{"python-dot.bin", "python-dot.test", "python-dot.test.", false, nil},
		{"node.bin", "node.test", "node.test", false, nil},
		{"node-dot.bin", "node-dot.test", "node-dot.test.", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			raw := readHello(t, tt.file)
			h, err, rest := peekAll(t, bytes.NewReader(raw), sni.Options{})
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if h.ServerName != tt.name || h.RawServerName != tt.raw {
				t.Errorf("names = %q (raw %q), want %q (raw %q)", h.ServerName, h.RawServerName, tt.name, tt.raw)
			}
			if h.ECH != tt.ech {
				t.Errorf("ECH = %v, want %v", h.ECH, tt.ech)
			}
			if !slices.Equal(h.ALPN, tt.alpn) {
				t.Errorf("ALPN = %q, want %q", h.ALPN, tt.alpn)
			}
			if h.Len != len(raw) {
				t.Errorf("Len = %d, want %d", h.Len, len(raw))
			}
			if strings.Contains(h.ServerName, "secret") || strings.Contains(h.RawServerName, "secret") {
				t.Errorf("ECH inner name leaked: %q", h.ServerName)
			}
			if !bytes.Equal(rest, raw) {
				t.Errorf("reader yields %d bytes after Peek, want the %d-byte hello unchanged", len(rest), len(raw))
			}
		})
	}
}

// TestPeekFragmented splits recorded hellos over many TLS records and feeds
// them one byte per Read, so every length decision is made on a partial
// buffer.
func TestPeekFragmented(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"chromium.bin", "chromium-dot.bin", "go-ech.bin", "openssl-dot.bin"} {
		for _, size := range []int{1, 2, 3, 4, 5, 100, 1000, 1 << 14} {
			t.Run(fmt.Sprintf("%s/%d-byte-records", file, size), func(t *testing.T) {
				t.Parallel()
				orig := readHello(t, file)
				want, err, _ := peekAll(t, bytes.NewReader(orig), sni.Options{})
				if err != nil {
					t.Fatalf("Peek of original: %v", err)
				}
				raw := fragment(t, orig, size)
				h, err, rest := peekAll(t, iotest.OneByteReader(bytes.NewReader(raw)), sni.Options{})
				if err != nil {
					t.Fatalf("Peek of %d-byte records: %v", size, err)
				}
				if h.ServerName != want.ServerName || h.ECH != want.ECH || !slices.Equal(h.ALPN, want.ALPN) {
					t.Errorf("got %+v, want %+v", h, want)
				}
				if h.Len != len(raw) || !bytes.Equal(rest, raw) {
					t.Errorf("Len %d, rest %d bytes; want both %d and rest unchanged", h.Len, len(rest), len(raw))
				}
			})
		}
	}
}

func TestPeekRejects(t *testing.T) {
	t.Parallel()
	goHello := readHello(t, "go.bin")
	lie := func(b []byte, at int, v ...byte) []byte {
		b = slices.Clone(b)
		copy(b[at:], v)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"plain http", readHello(t, "malformed-http-get.bin"), sni.ErrNotTLS},
		{"ssh banner", []byte("SSH-2.0-OpenSSH_9.2\r\n"), sni.ErrNotTLS},
		{"high bit garbage", []byte{0x80, 0x05, 0x02, 0x00, 0x00, 0x00, 0x00}, sni.ErrNotTLS},
		{"sslv2 hello from old java", readHello(t, "malformed-sslv2.bin"), sni.ErrNoSNI},
		{"0x16 but no tls version", []byte{0x16, 0x47, 0x45, 0x54, 0x20, 0x2f}, sni.ErrNotTLS},
		{"empty-ish: one byte", []byte{0x16}, sni.ErrMalformed},
		{"truncated mid header", goHello[:3], sni.ErrMalformed},
		{"truncated mid hello", goHello[:700], sni.ErrMalformed},
		{"truncated by one byte", goHello[:len(goHello)-1], sni.ErrMalformed},
		{"zero-length record", lie(goHello, 3, 0, 0), sni.ErrMalformed},
		{"record over 2^14", lie(goHello, 3, 0x40, 0x01), sni.ErrMalformed},
		{"huge record length", lie(goHello, 3, 0xff, 0xff), sni.ErrMalformed},
		{"huge declared handshake length", lie(goHello, 6, 0xff, 0xff, 0xff), sni.ErrTooLarge},
		{"handshake length larger than record stream", lie(goHello, 6, 0x00, 0x10, 0x00), sni.ErrMalformed},
		{"handshake length shorter than body", lie(goHello, 6, 0x00, 0x00, 0x30), sni.ErrMalformed},
		{"server hello not client hello", lie(goHello, 5, 2), sni.ErrMalformed},
		{"alert record mid hello", append(fragment(t, goHello, 100)[:105], 0x15, 3, 1, 0, 2, 2, 40), sni.ErrMalformed},
		{"no sni extension", record(buildHello()), sni.ErrNoSNI},
		{"zero-length sni", record(buildHello(sniExt(""))), sni.ErrMalformed},
		{"empty server name list", record(buildHello(ext{0, []byte{0, 0}})), sni.ErrMalformed},
		{"sni list length lies", record(buildHello(ext{0, []byte{0, 200, 0, 0, 1, 'a'}})), sni.ErrMalformed},
		{"sni name length lies", record(buildHello(ext{0, []byte{0, 4, 0, 0, 200, 'a'}})), sni.ErrMalformed},
		{"two host names", record(buildHello(sniExt("good.test", "bad.test"))), sni.ErrMalformed},
		// The trailing-dot recovery must not become a way around other checks.
		{"two host names first dotted", record(buildHello(sniExt("good.test.", "bad.test"))), sni.ErrMalformed},
		{"dotted name and duplicate extension", record(buildHello(sniExt("a.test."), sniExt("b.test"))), sni.ErrMalformed},
		{"name is a dot", record(buildHello(sniExt("."))), sni.ErrBadName},
		{"two trailing dots", record(buildHello(sniExt("bad.test.."))), sni.ErrBadName},
		{"empty label and trailing dot", record(buildHello(sniExt("bad..test."))), sni.ErrBadName},
		{"empty label", record(buildHello(sniExt("bad..test"))), sni.ErrBadName},
		{"leading dot", record(buildHello(sniExt(".bad.test"))), sni.ErrBadName},
		{"nul byte", record(buildHello(sniExt("good.test\x00.bad.test"))), sni.ErrBadName},
		{"space", record(buildHello(sniExt("bad test"))), sni.ErrBadName},
		{"slash", record(buildHello(sniExt("bad.test/x"))), sni.ErrBadName},
		{"over-long name", record(buildHello(sniExt(strings.Repeat("a.", 200) + "test"))), sni.ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err, rest := peekAll(t, bytes.NewReader(tt.in), sni.Options{})
			t.Logf("error: %v", err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Peek error = %v, want %v", err, tt.want)
			}
			for _, other := range []error{sni.ErrNotTLS, sni.ErrNoSNI, sni.ErrBadName, sni.ErrTooLarge, sni.ErrMalformed} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("error %v also matches %v; classes must be distinct", err, other)
				}
			}
			if h.ServerName != "" || h.RawServerName != "" || h.Len != 0 || h.ALPN != nil || h.ECH {
				t.Errorf("Hello on error = %+v, want zero", h)
			}
			if !bytes.Equal(rest, tt.in) {
				t.Errorf("reader yields %q after Peek, want input unchanged", rest)
			}
		})
	}
}

// TestPeekNames covers what a child might type to slip a blocked name past
// an exact-match list: case, a trailing dot, an IP literal, a port.
func TestPeekNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ sent, want string }{
		{"Blocked.TEST", "blocked.test"},
		{"BLOCKED.test.", "blocked.test"},
		{"blocked.test", "blocked.test"},
		{"www.blocked.test.", "www.blocked.test"},
		{"intranet", "intranet"},
		{"192.0.2.1", "192.0.2.1"},
		{"xn--bcher-kva.test.", "xn--bcher-kva.test"},
		{"under_score.test", "under_score.test"},
	}
	for _, tt := range tests {
		t.Run(tt.sent, func(t *testing.T) {
			t.Parallel()
			in := record(buildHello(sniExt(tt.sent)))
			h, err, rest := peekAll(t, bytes.NewReader(in), sni.Options{})
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if h.ServerName != tt.want || h.RawServerName != tt.sent {
				t.Errorf("got %q (raw %q), want %q (raw %q)", h.ServerName, h.RawServerName, tt.want, tt.sent)
			}
			if !bytes.Equal(rest, in) {
				t.Errorf("input consumed")
			}
		})
	}
}

func TestPeekCap(t *testing.T) {
	t.Parallel()
	raw := readHello(t, "chromium.bin")
	t.Run("hello over a small cap", func(t *testing.T) {
		t.Parallel()
		_, err, rest := peekAll(t, bytes.NewReader(raw), sni.Options{MaxBytes: 1024})
		if !errors.Is(err, sni.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
		if !bytes.Equal(rest, raw) {
			t.Errorf("input consumed")
		}
	})
	t.Run("exact cap", func(t *testing.T) {
		t.Parallel()
		h, err, _ := peekAll(t, bytes.NewReader(raw), sni.Options{MaxBytes: len(raw)})
		if err != nil || h.ServerName != "chromium.test" {
			t.Fatalf("Peek at cap = %+v, %v", h, err)
		}
	})
	t.Run("one-byte records past the default cap", func(t *testing.T) {
		t.Parallel()
		// 1948 one-byte records take 11,688 bytes; a 16 KiB hello split the
		// same way would not fit and must be refused, not waited for.
		big := fragment(t, record(buildHello(ext{0xffce, make([]byte, 4000)}, sniExt("a.test"))), 1)
		_, err, _ := peekAll(t, bytes.NewReader(big), sni.Options{})
		if !errors.Is(err, sni.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("reader smaller than cap", func(t *testing.T) {
		t.Parallel()
		br := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
		if _, err := sni.Peek(br, sni.Options{}); err == nil {
			t.Fatal("Peek with a 4 KiB reader and the default cap succeeded; want a configuration error")
		}
	})
}

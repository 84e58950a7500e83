// Package sni reads the server name a TLS client asks for, without
// decrypting anything and without consuming a single byte of the connection.
//
// The proxy wraps an accepted connection in a bufio.Reader (NewReader), calls
// PeekConn, decides on Hello.ServerName, and then either refuses the
// connection or copies the reader (which still holds the whole ClientHello)
// and the connection to the origin untouched.
//
//	br := sni.NewReader(conn, sni.Options{})
//	hello, err := sni.PeekConn(conn, br, sni.Options{})
//	// decide on hello.ServerName, then io.Copy(origin, br) ...
//
// # What it does
//
// Peek reads the TLS record headers and the handshake header to learn how
// many bytes the ClientHello occupies, peeking exactly that many,
// incrementally, so hellos spread over several TCP segments and several TLS
// records (a handshake message fragmented across records) both work. The
// parsing itself is crypto/tls's: a throwaway tls.Server runs over a
// read-only copy of the peeked bytes and GetConfigForClient records the
// hello and aborts. No certificate, no key, no handshake reply ever exists.
//
// ServerName is normalised (rules/hostname.NormalizeRequest: lower case,
// one trailing dot removed, punycode), so it compares byte for byte with
// list entries. RawServerName is what the client sent.
//
// ECH: with Encrypted Client Hello the real name is encrypted and only the
// outer (public) name is visible; Peek reports the outer name and sets
// Hello.ECH so policy can tell. Decisions are made on the outer name.
//
// # Errors
//
// Every failure that should change a verdict has a sentinel, tested with
// errors.Is; none of them returns a partial Hello:
//
//   - ErrNotTLS: the first bytes are not a TLS handshake record (plain HTTP,
//     SSH, garbage). Nothing was parsed.
//   - ErrNoSNI: a valid hello without a server name, including the
//     SSLv2-compatible hello old Java sends, which cannot carry one.
//   - ErrBadName: a hello whose server name is not a host name
//     ("a..test", "a test", "."); wraps the hostname error.
//   - ErrTooLarge: the hello would need more than Options.MaxBytes. Refused
//     as soon as a length field says so, without waiting for the bytes.
//   - ErrMalformed: lying lengths, truncation, a record that is not a
//     handshake, or anything crypto/tls refuses (its error is wrapped).
//
// A read deadline surfaces as an error satisfying
// errors.Is(err, os.ErrDeadlineExceeded); a client that hangs up before
// sending anything gives io.EOF, one that hangs up mid-hello ErrMalformed
// (wrapping io.ErrUnexpectedEOF); other read errors come back wrapped. What to do with each class (refuse, fall
// back to the destination address, ...) is the proxy's policy, not this
// package's: this package neither fails open nor closed.
//
// # What it does not do
//
// It does not decrypt, terminate TLS, resolve names, or look at anything
// after the ClientHello. It does not handle QUIC. It does not set a deadline
// on its own in Peek: use PeekConn, or set one on the connection.
//
// # Concurrency
//
// Peek and PeekConn are safe to call from many goroutines on different
// connections; there is no shared state. A bufio.Reader must not be used by
// anyone else during the call.
package sni

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"crypto/tls"

	"github.com/greengate/greengate/rules/hostname"
)

const (
	recordHeaderLen        = 5
	recordTypeHandshake    = 0x16
	handshakeHeaderLen     = 4
	handshakeClientHello   = 0x01
	maxRecordPlaintext     = 1 << 14 // RFC 8446 section 5.1
	extensionServerName    = 0x0000
	extensionEncryptedHelo = 0xfe0d // encrypted_client_hello, RFC 9849
)

// DefaultMaxBytes is the default cap on bytes peeked: a 16 KiB ClientHello
// plus headers for up to 64 records. Real hellos are 0.2–2.2 KB (Chromium's
// post-quantum key share is the largest); 16 KiB leaves room for a big
// PSK ticket while bounding what one connection can make us hold.
const DefaultMaxBytes = 16<<10 + 64*recordHeaderLen

// DefaultTimeout is how long PeekConn waits for a whole hello by default.
// Clients send the hello right after connecting; a client that sends half
// and stalls is holding a proxy slot.
const DefaultTimeout = 10 * time.Second

// Sentinel errors; see the package documentation for what each one means.
var (
	ErrNotTLS    = errors.New("sni: not a TLS client hello")
	ErrNoSNI     = errors.New("sni: client hello has no server name")
	ErrBadName   = errors.New("sni: server name is not a host name")
	ErrTooLarge  = errors.New("sni: client hello larger than the cap")
	ErrMalformed = errors.New("sni: malformed client hello")
)

// Options tunes Peek and PeekConn. The zero value is ready to use.
type Options struct {
	// MaxBytes caps the bytes peeked, record headers included. Zero means
	// DefaultMaxBytes. The bufio.Reader must be at least this big.
	MaxBytes int
	// Timeout bounds how long PeekConn waits for the whole hello. Zero
	// means DefaultTimeout. Peek ignores it.
	Timeout time.Duration
}

func (o Options) maxBytes() int {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Hello is what a ClientHello says about where the client wants to go.
type Hello struct {
	// ServerName is the normalised SNI host name; never empty when err is nil.
	ServerName string
	// RawServerName is the SNI exactly as sent (case, trailing dot).
	RawServerName string
	// ECH reports an encrypted_client_hello extension: ServerName is then
	// the outer, public name and the real destination is hidden. Chromium
	// sends a GREASE ECH extension to every server, so ECH alone does not
	// prove the client hides anything.
	ECH bool
	// ALPN lists the application protocols offered, in client order.
	ALPN []string
	// Len is how many bytes the hello occupies in the reader.
	Len int
}

// NewReader returns a bufio.Reader over r big enough for Peek with opt.
func NewReader(r io.Reader, opt Options) *bufio.Reader {
	return bufio.NewReaderSize(r, opt.maxBytes())
}

// PeekConn is Peek with a read deadline of opt.Timeout set on c for the
// duration of the call and cleared afterwards. br must read from c.
func PeekConn(c net.Conn, br *bufio.Reader, opt Options) (Hello, error) {
	if err := c.SetReadDeadline(time.Now().Add(opt.timeout())); err != nil {
		return Hello{}, fmt.Errorf("sni: setting read deadline: %w", err)
	}
	h, err := Peek(br, opt)
	// Clear even on error: the proxy may still write a refusal or read an
	// HTTP request from the same connection.
	if cerr := c.SetReadDeadline(time.Time{}); cerr != nil && err == nil {
		return Hello{}, fmt.Errorf("sni: clearing read deadline: %w", cerr)
	}
	return h, err
}

// Peek reads the ClientHello at the front of br without consuming it: after
// Peek returns, with or without an error, reading br yields the same bytes
// the client sent. It blocks until the whole hello has arrived, br fails, or
// a length field exceeds opt.MaxBytes; br's source should carry a deadline.
func Peek(br *bufio.Reader, opt Options) (Hello, error) {
	limit := opt.maxBytes()
	if br.Size() < limit {
		return Hello{}, fmt.Errorf("sni: peeking client hello: reader buffer %d bytes is smaller than cap %d", br.Size(), limit)
	}
	n, err := helloExtent(br, limit)
	if err != nil {
		return Hello{}, err
	}
	raw, err := br.Peek(n)
	if err != nil { // cannot happen: helloExtent peeked n bytes already
		return Hello{}, fmt.Errorf("sni: re-peeking %d bytes: %w", n, err)
	}
	h, err := parse(raw)
	if err != nil {
		return Hello{}, err
	}
	h.Len = n
	return h, nil
}

// helloExtent returns how many bytes of br the records carrying the whole
// ClientHello occupy, peeking one record at a time so it never asks for a
// byte the client has no reason to send yet.
func helloExtent(br *bufio.Reader, limit int) (int, error) {
	first, err := br.Peek(1)
	if err != nil {
		return 0, fmt.Errorf("sni: reading first byte: %w", err)
	}
	if first[0] != recordTypeHandshake {
		return 0, notTLS(br, first[0])
	}
	var (
		off    int                      // bytes of records examined so far
		hsHave int                      // handshake bytes seen so far
		hsNeed = -1                     // whole handshake message length, once known
		hsHdr  [handshakeHeaderLen]byte // may itself straddle records
	)
	for {
		if off+recordHeaderLen > limit {
			return 0, fmt.Errorf("%w: record header at offset %d past cap %d", ErrTooLarge, off, limit)
		}
		p, err := peek(br, off+recordHeaderLen)
		if err != nil {
			return 0, err
		}
		hdr := p[off:]
		if off == 0 && hdr[1] != 3 {
			// 0x16 followed by something other than a TLS version: not TLS.
			return 0, fmt.Errorf("%w: record version %#02x%02x", ErrNotTLS, hdr[1], hdr[2])
		}
		if hdr[0] != recordTypeHandshake || hdr[1] != 3 {
			return 0, fmt.Errorf("%w: record at offset %d has type %#x version %#02x%02x before the hello ended", ErrMalformed, off, hdr[0], hdr[1], hdr[2])
		}
		recLen := int(hdr[3])<<8 | int(hdr[4])
		if recLen == 0 || recLen > maxRecordPlaintext {
			return 0, fmt.Errorf("%w: record at offset %d declares %d bytes", ErrMalformed, off, recLen)
		}
		bodyStart := off + recordHeaderLen
		end := bodyStart + recLen
		if end > limit {
			return 0, fmt.Errorf("%w: record at offset %d ends at %d, past cap %d", ErrTooLarge, off, end, limit)
		}
		if hsNeed < 0 {
			// Read just the handshake header first: a record may legally
			// be 16 KiB, and a lying hello length should be refused
			// before we wait for the client to fill it.
			k := min(recLen, handshakeHeaderLen-hsHave)
			if p, err = peek(br, bodyStart+k); err != nil {
				return 0, err
			}
			copy(hsHdr[hsHave:], p[bodyStart:bodyStart+k])
			if hsHave+k == handshakeHeaderLen {
				if hsHdr[0] != handshakeClientHello {
					return 0, fmt.Errorf("%w: first handshake message has type %d, not client hello", ErrMalformed, hsHdr[0])
				}
				hsNeed = handshakeHeaderLen + (int(hsHdr[1])<<16 | int(hsHdr[2])<<8 | int(hsHdr[3]))
				// The fewest bytes that could hold the rest: this record,
				// then one more header and the remainder.
				if rest := hsNeed - hsHave - recLen; rest > 0 && end+recordHeaderLen+rest > limit {
					return 0, fmt.Errorf("%w: hello declares %d bytes, cap %d", ErrTooLarge, hsNeed, limit)
				}
			}
		}
		if _, err = peek(br, end); err != nil {
			return 0, err
		}
		hsHave += recLen
		off = end
		if hsNeed >= 0 && hsHave >= hsNeed {
			return off, nil
		}
	}
}

// peek wraps bufio.Reader.Peek so a short read says what it was doing. A
// deadline error stays visible to errors.Is(err, os.ErrDeadlineExceeded).
func peek(br *bufio.Reader, n int) ([]byte, error) {
	p, err := br.Peek(n)
	if err == nil {
		return p, nil
	}
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: connection ended after %d of %d bytes: %w", ErrMalformed, len(p), n, io.ErrUnexpectedEOF)
	}
	return nil, fmt.Errorf("sni: reading client hello (%d of %d bytes): %w", len(p), n, err)
}

// notTLS classifies a first byte that is not a TLS handshake record. An
// SSLv2-compatible ClientHello (RFC 5246 appendix E.2: two-byte length with
// the top bit set, then msg_type 1 and a major version of 3) is a real TLS
// client that cannot send extensions, so it is ErrNoSNI rather than
// ErrNotTLS: policy for "TLS without a name" applies to it.
func notTLS(br *bufio.Reader, b0 byte) error {
	if b0&0x80 == 0 {
		return fmt.Errorf("%w: first byte %#02x", ErrNotTLS, b0)
	}
	p, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("%w: first byte %#02x", ErrNotTLS, b0)
	}
	msgLen := int(p[0]&0x7f)<<8 | int(p[1])
	if p[2] == handshakeClientHello && p[3] == 3 && msgLen >= 9 {
		return fmt.Errorf("%w: sslv2-compatible client hello (version 3.%d) cannot carry one", ErrNoSNI, peekByte(br, 4))
	}
	return fmt.Errorf("%w: first bytes % x", ErrNotTLS, p)
}

func peekByte(br *bufio.Reader, i int) byte {
	p, err := br.Peek(i + 1)
	if err != nil {
		return 0
	}
	return p[i]
}

// errAbort stops the throwaway handshake once the hello has been read.
var errAbort = errors.New("sni: hello captured")

// parse runs crypto/tls over a copy of raw, the complete records of one
// ClientHello.
func parse(raw []byte) (Hello, error) {
	name, ech, alpn, err := parseTLS(raw)
	if err != nil {
		// crypto/tls refuses a server_name ending in a dot (RFC 6066
		// forbids it) before GetConfigForClient runs. But Chromium, openssl
		// s_client, Python and Node all send "host.test." when the user
		// types the dot (see testdata/clienthello), so refusing would let
		// "blocked.test." through a fail-open proxy and break it under a
		// fail-closed one. Instead we find the name with a small bounded
		// walk, overwrite the dot in a private copy with a letter, and let
		// crypto/tls validate that copy. Only a trailing dot is forgiven:
		// anything else crypto/tls dislikes still fails, and the name we
		// decide on is the walked one, its dot stripped by hostname.
		fixed, dotted, ok := undotCopy(raw)
		if !ok {
			return Hello{}, fmt.Errorf("%w: parsing %d bytes: %w", ErrMalformed, len(raw), err)
		}
		if _, ech, alpn, err = parseTLS(fixed); err != nil {
			return Hello{}, fmt.Errorf("%w: parsing %d bytes with trailing-dot name %q: %w", ErrMalformed, len(raw), dotted, err)
		}
		name = dotted
	}
	return finish(name, ech, alpn)
}

// parseTLS returns what crypto/tls's GetConfigForClient saw, or an error if
// crypto/tls refused the hello before getting that far.
func parseTLS(raw []byte) (name string, ech bool, alpn []string, err error) {
	got := false
	cfg := &tls.Config{
		GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
			got = true
			name = chi.ServerName
			ech = slices.Contains(chi.Extensions, extensionEncryptedHelo)
			alpn = slices.Clone(chi.SupportedProtos)
			return nil, errAbort
		},
	}
	// The replay conn never blocks, so the background context cannot hang.
	err = tls.Server(&replayConn{r: bytes.NewReader(raw)}, cfg).HandshakeContext(context.Background())
	if !got {
		if err == nil { // unreachable: GetConfigForClient always aborts
			err = errors.New("handshake ended without a hello")
		}
		return "", false, nil, fmt.Errorf("crypto/tls refused the hello: %w", err)
	}
	return name, ech, alpn, nil
}

func finish(raw string, ech bool, alpn []string) (Hello, error) {
	if raw == "" {
		return Hello{}, ErrNoSNI
	}
	name, err := hostname.NormalizeRequest(raw)
	if err != nil {
		return Hello{}, fmt.Errorf("%w: %q: %w", ErrBadName, raw, err)
	}
	return Hello{ServerName: name, RawServerName: raw, ECH: ech, ALPN: alpn}, nil
}

// replayConn is a read-only net.Conn over the peeked bytes. Writes (the
// alert crypto/tls sends on abort) are discarded: they must never reach the
// client, whose connection belongs to the proxy.
type replayConn struct{ r *bytes.Reader }

var _ net.Conn = (*replayConn)(nil)

func (c *replayConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return replayAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return replayAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

type replayAddr struct{}

func (replayAddr) Network() string { return "replay" }
func (replayAddr) String() string  { return "replay" }

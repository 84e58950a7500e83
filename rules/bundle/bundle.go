// Package bundle defines GreenGate's signed rule bundle: one
// self-verifying file that any static web server or CDN can host.
//
// The package is pure: it encodes, decodes, signs and verifies bytes. It
// does no network or file I/O, keeps no state, and all its functions are
// safe for concurrent use. Fetching, storing and installing bundles is
// agent/update's job; turning list files into a Bundle is rules/lists'.
//
// # Keys
//
// Every key is ed25519, named, and identified by a 32-bit id,
// KeyID(name, pub) = first 4 bytes of SHA-256(name || "\n" || 0x01 || pub),
// as in golang.org/x/mod/sumdb/note. Text forms, one line each, fit in
// settings files:
//
//	public:  <name>+<id, 8 hex digits>+<base64(0x01 || 32-byte key)>
//	private: PRIVATE+KEY+<name>+<id>+<base64(0x01 || 32-byte seed)>
//
// A name is 1 to MaxNameLen bytes of printable ASCII without '+'.
//
// An offline root key certifies a signing key for one publisher id and a
// period [NotBefore, NotAfter] (Certify). Agents pin root public keys
// (NewRoots, ParseRoots), several at once so a root can rotate. The
// signing key signs bundles (Sign). A certificate file holds
// "GREENGATE+CERT+" followed by the base64 of the binary certificate.
//
// # File format
//
// All integers are big-endian; times are Unix seconds. A bundle file is
//
//	magic       8 bytes  "GGBUNDLE"
//	format      uint16   FormatVersion (1)
//	certLen     uint16   at most MaxCertSize
//	cert        certLen bytes, see below
//	decodedLen  uint64   payload size after decompression, <= MaxDecodedSize
//	payloadLen  uint64   whole file <= MaxBundleSize
//	payload     payloadLen bytes: a zstd stream of decodedLen bytes
//	signature   64 bytes: ed25519 by the certified signing key over
//	            "greengate bundle v1\n" || every byte above
//
// and a certificate is
//
//	alg 0x01 | rootName (uint8 len, bytes) | rootID uint32 |
//	signerName (uint8 len, bytes) | signerID uint32 | signerKey 32 bytes |
//	publisher (uint8 len, bytes) | notBefore int64 | notAfter int64 |
//	signature 64 bytes: ed25519 by the root over
//	"greengate certificate v1\n" || every certificate byte before it
//
// The two signature contexts differ, so neither signature can stand in for
// the other. The decompressed payload is
//
//	version uint64 | created int64 | expires int64 | publisher str |
//	categories: count, then per category
//	  id str | name.zh str | name.en str | desc.zh str | desc.en str |
//	  lists: count, then per list
//	    source str | domains strs | urls strs | allow strs
//	engines: count, then per engine
//	  name str | hosts strs | target str | moderateTarget str | param str
//	totals: domains uvarint | urls uvarint | allow uvarint
//
// where a count is a uvarint, str is a uvarint length and bytes, and strs
// is a count and that many strs. Uvarints must be minimal; categories,
// lists, engines and every strs must be sorted by bytes and unique; the
// totals must equal the entries; no byte may trail. So each bundle has
// exactly one payload encoding and decoding then encoding reproduces it.
// Bundle.Normalize puts content into this order.
//
// # Verifying
//
// Open reads at most MaxBundleSize bytes and checks, in this order, before
// it decompresses or decodes one payload byte: the envelope's structure
// and sizes (ErrMalformed, ErrTooLarge), that a pinned root made the
// certificate (ErrUnknownKey, ErrBadSignature), that now is inside the
// certificate's period (ErrCertExpired), and the bundle signature
// (ErrBadSignature). Only then does it decompress, refusing more than
// decodedLen bytes (ErrTooLarge), decode strictly (ErrMalformed), and
// check that the payload's publisher is the certificate's
// (ErrPublisherMismatch), that created is inside the certificate's period
// (ErrCertExpired), and that created <= now < expires (ErrNotYetValid,
// ErrExpired). Rollback is the caller's check against what it has
// installed: CheckVersion (ErrRollback). Every failure fails closed: the
// caller keeps what it had.
//
// # Example
//
// testdata/bundles in this repository holds vectors and the TEST ONLY keys
// that made them (see its README). good.bundle, 959 bytes, is
//
//	4747 4255 4e44 4c45    "GGBUNDLE"
//	0001                   format 1
//	00b3                   certLen 179
//	01                     certificate: alg ed25519
//	13 "greengate-test-root" c999bc63          root name and id
//	16 "greengate-test-signing" 79f307f0       signing key name and id
//	24cc68b2...f8a20c (32 bytes)              signing key
//	0e "greengate-test"                        publisher
//	0000 0000 6955 b900  0000 0000 6b36 ec80   2026-01-01 .. 2027-01-01
//	6298f68f...6c07 (64 bytes)                root's signature
//	0000 0000 0000 0422    decodedLen 1058
//	0000 0000 0000 02b0    payloadLen 688
//	28b5 2ffd ...          zstd frame, 688 bytes
//	... (64 bytes)         signing key's signature
//
// The root's public key, in root.pub, is
//
//	greengate-test-root+c999bc63+Adj22KHH/waldkIrpAXpo8/AIsyvO3bOz6+C5kQHC3uJ
//
// and is opened with
//
//	roots, err := bundle.ParseRoots(rootsFileText) // e.g. testdata/bundles/root.pub
//	b, err := bundle.Open(f, roots, time.Now())
//	if err == nil {
//		err = bundle.CheckVersion(installed, b)
//	}
//	switch {
//	case errors.Is(err, bundle.ErrRollback): // replayed or old: keep the installed one
//	case err != nil: // anything else: keep the installed one, report err
//	}
package bundle

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Format constants and bounds. The bounds are part of the format: a file
// outside them is refused by every conforming reader.
const (
	FormatVersion = 1

	MaxBundleSize  = 64 << 20  // whole file, bytes
	MaxDecodedSize = 256 << 20 // decompressed payload, bytes
	MaxCertSize    = 1 + 3*(1+MaxNameLen) + 2*4 + 32 + 2*8 + 64

	MaxNameLen   = 64   // key names, publisher, category and engine ids
	MaxTextLen   = 4096 // names and descriptions
	MaxDomainLen = 253  // domain entries and hosts
	MaxEntryLen  = 2048 // URL entries
)

const (
	magic         = "GGBUNDLE"
	bundleContext = "greengate bundle v1\n"
	headerLen     = 8 + 2 + 2 // magic, format, certLen

	decompressSlack = 1 << 20
	lensLen         = 8 + 8 // decodedLen, payloadLen
)

// Errors that change a verdict. Open and CheckVersion wrap them with
// detail; branch with errors.Is.
var (
	ErrMalformed         = errors.New("malformed bundle")
	ErrTooLarge          = errors.New("bundle too large")
	ErrUnknownKey        = errors.New("unknown key")
	ErrBadSignature      = errors.New("bad signature")
	ErrCertExpired       = errors.New("signing key used outside its certified period")
	ErrPublisherMismatch = errors.New("bundle publisher differs from its certificate")
	ErrExpired           = errors.New("bundle expired")
	ErrNotYetValid       = errors.New("bundle not yet valid")
	ErrRollback          = errors.New("bundle version not newer than installed")
)

// A MalformedError says where a bundle broke the format. It matches
// ErrMalformed with errors.Is.
type MalformedError struct {
	Section string // "envelope", "certificate" or "payload"
	Offset  int    // byte offset within the section
	Reason  string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed bundle: %s at byte %d: %s", e.Section, e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(section string, off int, reason string) error {
	return &MalformedError{Section: section, Offset: off, Reason: reason}
}

// Open reads a bundle from r, verifies it against roots at time now, and
// decodes it. It never decodes a payload byte before the signature chain
// has been verified. On error the bundle is nil.
func Open(r io.Reader, roots *Roots, now time.Time) (*Bundle, error) {
	return open(r, roots, now, verifyAll)
}

// OpenLapsed is Open for a bundle the caller verified and installed
// before and still holds on its own disk: every check of Open except that
// the bundle (ErrExpired) and its signing certificate (ErrCertExpired, for
// now; created must still be inside the period) may have expired since.
// The signature chain to a pinned root is checked as by Open. An agent
// uses it to keep enforcing its newest rules after they expire rather
// than fall back to older ones (fail-safe); callers must check
// b.Expires themselves and say that the bundle expired. Never use it for
// a bundle that arrives from the network: one that was never installed
// has no business being used expired.
func OpenLapsed(r io.Reader, roots *Roots, now time.Time) (*Bundle, error) {
	return open(r, roots, now, verifyLapsed)
}

// Inspect decodes a bundle WITHOUT verifying any signature or time. It is
// for the publisher checking a file it just built; never install what it
// returns.
func Inspect(r io.Reader) (*Bundle, error) {
	return open(r, nil, time.Time{}, verifyNone)
}

// How open checks a bundle.
type verifyMode int

const (
	verifyAll    verifyMode = iota // Open
	verifyLapsed                   // OpenLapsed: expiry and the key's period at now not checked
	verifyNone                     // Inspect
)

// CheckVersion returns ErrRollback unless b is newer than installed. A
// replayed old bundle is still correctly signed; only this catches it.
func CheckVersion(installed uint64, b *Bundle) error {
	if b.Version <= installed {
		return fmt.Errorf("checking version: bundle %d, installed %d: %w", b.Version, installed, ErrRollback)
	}
	return nil
}

// envelope is a bundle file split into its parts.
type envelope struct {
	cert       *Certificate
	decodedLen uint64
	payload    []byte
	signed     []byte // bundleContext || file without the signature
	sig        []byte
}

func readEnvelope(r io.Reader) (*envelope, error) {
	r = io.LimitReader(r, MaxBundleSize+1)
	// buf starts with the signature context so the signed message is one
	// slice, with no second copy of a large payload.
	buf := bytes.NewBuffer(make([]byte, 0, len(bundleContext)+headerLen+MaxCertSize+lensLen))
	buf.WriteString(bundleContext)
	read := func(n int, what string) ([]byte, error) {
		start := buf.Len()
		got, err := io.CopyN(buf, r, int64(n))
		if err == io.EOF {
			return nil, malformed("envelope", start-len(bundleContext)+int(got), "truncated "+what)
		}
		if err != nil {
			return nil, fmt.Errorf("reading bundle %s: %w", what, err)
		}
		return buf.Bytes()[start:], nil
	}
	hdr, err := read(headerLen, "header")
	if err != nil {
		return nil, err
	}
	if string(hdr[:8]) != magic {
		return nil, malformed("envelope", 0, "not a GreenGate bundle (bad magic)")
	}
	if f := binary.BigEndian.Uint16(hdr[8:]); f != FormatVersion {
		return nil, malformed("envelope", 8, fmt.Sprintf("unsupported format version %d", f))
	}
	certLen := int(binary.BigEndian.Uint16(hdr[10:]))
	if certLen > MaxCertSize {
		return nil, malformed("envelope", 10, "certificate longer than MaxCertSize")
	}
	certRaw, err := read(certLen, "certificate")
	if err != nil {
		return nil, err
	}
	cert, err := ParseCertificate(certRaw)
	if err != nil {
		return nil, err
	}
	lens, err := read(lensLen, "lengths")
	if err != nil {
		return nil, err
	}
	e := &envelope{cert: cert, decodedLen: binary.BigEndian.Uint64(lens)}
	payloadLen := binary.BigEndian.Uint64(lens[8:])
	fixed := uint64(headerLen + certLen + lensLen + ed25519.SignatureSize)
	if payloadLen > MaxBundleSize-fixed {
		return nil, fmt.Errorf("reading bundle: payload of %d bytes: %w (MaxBundleSize %d)", payloadLen, ErrTooLarge, MaxBundleSize)
	}
	if e.decodedLen > MaxDecodedSize {
		return nil, fmt.Errorf("reading bundle: decoded payload of %d bytes: %w (MaxDecodedSize %d)", e.decodedLen, ErrTooLarge, MaxDecodedSize)
	}
	if e.decodedLen < payloadMin {
		return nil, malformed("envelope", headerLen+certLen, "decoded length below the smallest payload")
	}
	// Grows with the bytes that actually arrive, not with payloadLen.
	start := buf.Len()
	want := int64(payloadLen) + ed25519.SignatureSize
	n, err := buf.ReadFrom(io.LimitReader(r, want+1))
	if err != nil {
		return nil, fmt.Errorf("reading bundle payload: %w", err)
	}
	if n < want {
		return nil, malformed("envelope", start-len(bundleContext)+int(n), "truncated payload or signature")
	}
	if n > want {
		return nil, malformed("envelope", start-len(bundleContext)+int(want), "trailing bytes after the signature")
	}
	all := buf.Bytes()
	e.payload = all[start : start+int(payloadLen)]
	e.signed = all[:len(all)-ed25519.SignatureSize]
	e.sig = all[len(all)-ed25519.SignatureSize:]
	return e, nil
}

func open(r io.Reader, roots *Roots, now time.Time, mode verifyMode) (*Bundle, error) {
	e, err := readEnvelope(r)
	if err != nil {
		return nil, err
	}
	verify := mode != verifyNone
	if verify {
		var err error
		if mode == verifyLapsed {
			err = e.cert.verifySignature(roots)
		} else {
			err = e.cert.Verify(roots, now)
		}
		if err != nil {
			return nil, err
		}
		if !ed25519.Verify(e.cert.Signer.Key, e.signed, e.sig) {
			return nil, fmt.Errorf("verifying bundle signature by %s: %w", e.cert.Signer.ref(), ErrBadSignature)
		}
	}
	// From here on the bytes are the publisher's own.
	raw, err := decompress(e.payload, e.decodedLen)
	if err != nil {
		return nil, err
	}
	b, err := decodePayload(raw)
	if err != nil {
		return nil, err
	}
	b.Cert = e.cert
	if b.Publisher != e.cert.Publisher {
		return nil, fmt.Errorf("checking publisher: bundle says %q, certificate %q: %w", b.Publisher, e.cert.Publisher, ErrPublisherMismatch)
	}
	if !verify {
		return b, nil
	}
	if err := e.cert.checkPeriod(b.Created, "bundle created"); err != nil {
		return nil, err
	}
	if now.Before(b.Created) {
		return nil, fmt.Errorf("checking bundle %d: created %s, now %s: %w", b.Version, b.Created.Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrNotYetValid)
	}
	if mode == verifyAll && !now.Before(b.Expires) {
		return nil, fmt.Errorf("checking bundle %d: expired %s, now %s: %w", b.Version, b.Expires.Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrExpired)
	}
	return b, nil
}

// decompress inflates a zstd payload to exactly decodedLen bytes. The
// decoder's output limit is decodedLen (plus decompressSlack, because the
// limit also caps the window and small frames declare a window of at
// least 1 KiB), so a bomb stops at the first block past it, or at the
// frame header if that declares more.
func decompress(payload []byte, decodedLen uint64) ([]byte, error) {
	limit := decodedLen + decompressSlack
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(limit))
	if err != nil {
		return nil, fmt.Errorf("creating zstd decoder: %w", err)
	}
	defer dec.Close()
	out, err := dec.DecodeAll(payload, make([]byte, 0, decodedLen))
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return nil, fmt.Errorf("decompressing payload: more than the declared %d bytes: %w", decodedLen, ErrTooLarge)
	}
	if err != nil {
		return nil, &MalformedError{Section: "payload", Reason: "zstd: " + err.Error()}
	}
	if uint64(len(out)) != decodedLen {
		return nil, malformed("payload", len(out), fmt.Sprintf("decompressed to %d bytes, declared %d", len(out), decodedLen))
	}
	return out, nil
}

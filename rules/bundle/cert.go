package bundle

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// certContext prefixes the bytes a root signs, so a certificate signature
// can never be replayed as a bundle signature or the other way round.
const certContext = "greengate certificate v1\n"

// certTextPrefix starts the text form of a certificate (a .cert file).
const certTextPrefix = "GREENGATE+CERT+"

// A Certificate is a root key's statement that a signing key may sign
// bundles for one publisher during [NotBefore, NotAfter].
type Certificate struct {
	RootName  string
	RootID    uint32
	Signer    PublicKey
	Publisher string
	NotBefore time.Time
	NotAfter  time.Time

	raw []byte // the encoded certificate, signature included
}

// Certify has root sign a certificate for signer. The period is in whole
// seconds; NotBefore must be before NotAfter.
func Certify(root *PrivateKey, signer PublicKey, publisher string, notBefore, notAfter time.Time) (*Certificate, error) {
	c := &Certificate{
		RootName:  root.pub.Name,
		RootID:    root.pub.ID,
		Signer:    signer,
		Publisher: publisher,
		NotBefore: notBefore.Truncate(time.Second).UTC(),
		NotAfter:  notAfter.Truncate(time.Second).UTC(),
	}
	if KeyID(signer.Name, signer.Key) != signer.ID || !validName(signer.Name) || len(signer.Key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("certifying %s: malformed signing key", signer.ref())
	}
	if !validName(publisher) {
		return nil, fmt.Errorf("certifying %s: invalid publisher id %q", signer.ref(), publisher)
	}
	if !c.NotBefore.Before(c.NotAfter) {
		return nil, fmt.Errorf("certifying %s: period %s..%s is empty", signer.ref(), c.NotBefore, c.NotAfter)
	}
	body := c.appendBody(nil)
	sig := root.sign(append([]byte(certContext), body...))
	c.raw = append(body, sig...)
	return c, nil
}

func appendStr8(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }

func (c *Certificate) appendBody(b []byte) []byte {
	b = append(b, algEd25519)
	b = appendStr8(b, c.RootName)
	b = binary.BigEndian.AppendUint32(b, c.RootID)
	b = appendStr8(b, c.Signer.Name)
	b = binary.BigEndian.AppendUint32(b, c.Signer.ID)
	b = append(b, c.Signer.Key...)
	b = appendStr8(b, c.Publisher)
	b = binary.BigEndian.AppendUint64(b, uint64(c.NotBefore.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(c.NotAfter.Unix()))
	return b
}

// Bytes returns the binary certificate as embedded in a bundle.
func (c *Certificate) Bytes() []byte { return append([]byte(nil), c.raw...) }

// MarshalText returns "GREENGATE+CERT+<base64>", the .cert file form.
func (c *Certificate) MarshalText() ([]byte, error) {
	return []byte(certTextPrefix + base64.StdEncoding.EncodeToString(c.raw)), nil
}

// ParseCertificateText parses the .cert file form. It checks structure
// only; signatures and the period are checked by Open or Verify.
func ParseCertificateText(text string) (*Certificate, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(text), certTextPrefix)
	if !ok {
		return nil, fmt.Errorf("parsing certificate: missing %q prefix", certTextPrefix)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: decoding base64: %w", err)
	}
	return ParseCertificate(raw)
}

// ParseCertificate parses a binary certificate strictly: every length is
// bounded, the signing key id must match the key, and no byte may trail.
func ParseCertificate(raw []byte) (*Certificate, error) {
	if len(raw) > MaxCertSize {
		return nil, malformed("certificate", 0, "longer than MaxCertSize")
	}
	d := decoder{buf: raw, section: "certificate"}
	if alg := d.u8(); d.err == nil && alg != algEd25519 {
		return nil, malformed("certificate", 0, "unknown key algorithm")
	}
	c := &Certificate{}
	c.RootName = d.name8()
	c.RootID = d.u32()
	c.Signer.Name = d.name8()
	c.Signer.ID = d.u32()
	c.Signer.Key = ed25519.PublicKey(d.bytes(ed25519.PublicKeySize))
	c.Publisher = d.name8()
	c.NotBefore = d.time()
	c.NotAfter = d.time()
	d.bytes(ed25519.SignatureSize)
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(raw) {
		return nil, malformed("certificate", d.off, "trailing bytes")
	}
	if KeyID(c.Signer.Name, c.Signer.Key) != c.Signer.ID {
		return nil, malformed("certificate", 0, "signing key id does not match the key")
	}
	if !c.NotBefore.Before(c.NotAfter) {
		return nil, malformed("certificate", 0, "empty validity period")
	}
	c.Signer.Key = append(ed25519.PublicKey(nil), c.Signer.Key...)
	c.raw = append([]byte(nil), raw...)
	return c, nil
}

// Verify checks that a pinned root signed c and that now is inside c's
// period. The errors are ErrUnknownKey, ErrBadSignature and ErrCertExpired.
func (c *Certificate) Verify(roots *Roots, now time.Time) error {
	if err := c.verifySignature(roots); err != nil {
		return err
	}
	return c.checkPeriod(now, "now")
}

// verifySignature checks that a pinned root signed c, whatever the time.
func (c *Certificate) verifySignature(roots *Roots) error {
	root, ok := roots.lookup(c.RootName, c.RootID)
	if !ok {
		return fmt.Errorf("verifying certificate of %s: root %s+%08x is not pinned: %w", c.Signer.ref(), c.RootName, c.RootID, ErrUnknownKey)
	}
	body, sig := c.raw[:len(c.raw)-ed25519.SignatureSize], c.raw[len(c.raw)-ed25519.SignatureSize:]
	if !ed25519.Verify(root.Key, append([]byte(certContext), body...), sig) {
		return fmt.Errorf("verifying certificate of %s by root %s: %w", c.Signer.ref(), root.ref(), ErrBadSignature)
	}
	return nil
}

func (c *Certificate) checkPeriod(t time.Time, what string) error {
	if t.Before(c.NotBefore) || t.After(c.NotAfter) {
		return fmt.Errorf("checking signing key %s: %s (%s) is outside its period %s..%s: %w",
			c.Signer.ref(), what, t.UTC().Format(time.RFC3339), c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), ErrCertExpired)
	}
	return nil
}

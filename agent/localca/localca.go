// Package localca is GreenGate's certificate authority of one machine. It
// exists for one purpose: to show the block page for an HTTPS site that is
// already blocked, instead of a browser error that looks like a broken
// network. Allowed HTTPS is never terminated with it.
//
// The CA is made on first use, on the machine it serves, and never leaves
// it: an ECDSA P-256 key in ca.key (0600, in a 0700 directory owned by
// the service) and its certificate in ca.crt. Every install has its own
// key, so a key taken from one machine opens no other. The CA's name says
// what it is and where it was made ("GreenGate block pages, host NAME").
//
// Leaves are minted per host on demand, valid for LeafTTL (a week by
// default), cached (CacheSize hosts), and signed for one shared leaf key
// that lives only in memory: minting is one signature, not a key
// generation.
//
// A CA is safe for concurrent use. Trusting it on a machine is the job of
// the installer and `greengate ca install` (package sysproxy's CA steps).
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/greengate/greengate/internal/privfile"
)

// File names in the CA's directory.
const (
	KeyFile  = "ca.key"
	CertFile = "ca.crt"
)

// Defaults for zero Config fields.
const (
	DefaultLeafTTL   = 7 * 24 * time.Hour
	DefaultCacheSize = 1024
	caValidity       = 10 * 365 * 24 * time.Hour
	maxFile          = 64 << 10 // a PEM key or certificate is a few hundred bytes
)

// ErrNoCA is returned by Load when the machine has no CA yet.
var ErrNoCA = errors.New("no local CA on this machine (it is made when HTTPS block pages are turned on)")

// Config configures a CA. Zero values take the stated defaults.
type Config struct {
	Dir       string           // where ca.key and ca.crt live; required
	Hostname  string           // the machine's name, for the CA's name; default os.Hostname
	LeafTTL   time.Duration    // leaf lifetime; default DefaultLeafTTL
	CacheSize int              // leaves kept; default DefaultCacheSize
	Clock     func() time.Time // default time.Now
}

// CA mints leaf certificates for block pages.
type CA struct {
	cfg     Config
	cert    *x509.Certificate
	certDER []byte
	key     *ecdsa.PrivateKey
	leafKey *ecdsa.PrivateKey

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
	order  []string // insertion order, for eviction
	minted uint64
	hits   uint64
}

// Open loads the machine's CA from cfg.Dir, making it first if there is
// none. A key and certificate that do not belong together, or a CA that
// has expired, are replaced by a new CA (the old one is no longer
// trusted anywhere it mattered, so `greengate ca install` must run again;
// Open's caller logs that).
func Open(cfg Config) (*CA, error) {
	if cfg.Dir == "" {
		return nil, errors.New("local CA config has no directory")
	}
	ca, err := Load(cfg)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, ErrNoCA) && !errors.Is(err, errStale) {
		return nil, err
	}
	if err := create(cfg); err != nil {
		return nil, err
	}
	return Load(cfg)
}

var errStale = errors.New("local CA expired or its key does not match")

// Load loads the machine's CA without making one: ErrNoCA when there is
// none.
func Load(cfg Config) (*CA, error) {
	cfg = withDefaults(cfg)
	keyPEM, err := readSmall(filepath.Join(cfg.Dir, KeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCA
	}
	if err != nil {
		return nil, err
	}
	certPEM, err := readSmall(filepath.Join(cfg.Dir, CertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing", errStale, CertFile)
	}
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		return nil, fmt.Errorf("%w: not PEM", errStale)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: reading key: %v", errStale, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: key is not ECDSA", errStale)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: reading certificate: %v", errStale, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: key and certificate differ", errStale)
	}
	if now := cfg.Clock(); now.Add(cfg.LeafTTL).After(cert.NotAfter) {
		return nil, fmt.Errorf("%w: valid until %s", errStale, cert.NotAfter.Format(time.DateOnly))
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &CA{cfg: cfg, cert: cert, certDER: cb.Bytes, key: key, leafKey: leafKey, leaves: map[string]*tls.Certificate{}}, nil
}

func withDefaults(cfg Config) Config {
	if cfg.LeafTTL <= 0 {
		cfg.LeafTTL = DefaultLeafTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	return cfg
}

// readSmall reads one of the CA's files: never through a link, never a
// non-regular file, never more than a CA file can be (package privfile).
// The directory is the service's, and a planted link must not make it
// read something else.
func readSmall(path string) ([]byte, error) { return privfile.Read(path, maxFile) }

func create(cfg Config) error {
	cfg = withDefaults(cfg)
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("creating CA directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := randSerial()
	if err != nil {
		return err
	}
	now := cfg.Clock()
	name := "GreenGate block pages"
	if cfg.Hostname != "" {
		name += ", host " + cfg.Hostname
	}
	ski := sha256.Sum256(elliptic.MarshalCompressed(elliptic.P256(), key.X, key.Y))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         name,
			Organization:       []string{"GreenGate local CA (this machine only)"},
			OrganizationalUnit: []string{"Shows the block page for blocked HTTPS sites; never used for allowed sites"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski[:20],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("making the CA certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// The key first: a crash between the two leaves a key without a
	// certificate, which Open replaces, never a certificate without its key.
	if err := privfile.Write(filepath.Join(cfg.Dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		return err
	}
	return privfile.Write(filepath.Join(cfg.Dir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func randSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// PEM is the CA certificate, for trust stores and `greengate ca export`.
func (c *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.certDER})
}

// DER is the CA certificate in DER form (Chromium's CACertificates policy
// takes it base64-encoded).
func (c *CA) DER() []byte { return c.certDER }

// Fingerprint is the SHA-256 of the CA certificate, hex, as browsers show it.
func (c *CA) Fingerprint() string {
	s := sha256.Sum256(c.certDER)
	return hex.EncodeToString(s[:])
}

// Subject is the CA's name.
func (c *CA) Subject() string { return c.cert.Subject.CommonName }

// NotAfter is when the CA expires.
func (c *CA) NotAfter() time.Time { return c.cert.NotAfter }

// Stats reports leaves minted and cache hits since Open.
func (c *CA) Stats() (minted, hits uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.minted, c.hits
}

// Leaf returns a certificate for host (a normalised name or an IP
// address), from the cache while it has more than a quarter of its life
// left, freshly minted otherwise.
func (c *CA) Leaf(host string) (*tls.Certificate, error) {
	if host == "" || len(host) > 253 {
		return nil, fmt.Errorf("no certificate for host %q", host)
	}
	now := c.cfg.Clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.leaves[host]; ok && now.Add(c.cfg.LeafTTL/4).Before(l.Leaf.NotAfter) {
		c.hits++
		return l, nil
	}
	l, err := c.mint(host, now)
	if err != nil {
		return nil, err
	}
	if _, ok := c.leaves[host]; !ok {
		if len(c.order) >= c.cfg.CacheSize {
			delete(c.leaves, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, host)
	}
	c.leaves[host] = l
	c.minted++
	return l, nil
}

func (c *CA) mint(host string, now time.Time) (*tls.Certificate, error) {
	serial, err := randSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: host, Organization: []string{"GreenGate block page"}},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.Add(c.cfg.LeafTTL),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		AuthorityKeyId: c.cert.SubjectKeyId,
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &c.leafKey.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("minting a block-page certificate for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.certDER}, PrivateKey: c.leafKey, Leaf: leaf}, nil
}

// ServerConfig is a TLS server configuration that answers with a leaf for
// host, whatever name the client's hello asks for: the proxy has already
// decided on host (from CONNECT or SNI), and a hello that names another
// host must not make it mint a certificate for that one.
func (c *CA) ServerConfig(host string) (*tls.Config, error) {
	leaf, err := c.Leaf(host)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{*leaf},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

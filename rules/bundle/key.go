package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// algEd25519 is the only key algorithm. It is carried in the key text so a
// future algorithm can be told apart instead of misread.
const algEd25519 = 1

// privatePrefix starts every private key text, so a private key pasted
// where a public one belongs is refused rather than published.
const privatePrefix = "PRIVATE+KEY+"

// KeyID returns the id of the public key pub named name: the first four
// bytes, big-endian, of SHA-256(name || "\n" || 0x01 || pub). It is the
// same construction as golang.org/x/mod/sumdb/note key hashes, so a
// key text can be checked for typos without any other data.
func KeyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validName reports whether s can be a key name or publisher id: 1 to
// MaxNameLen bytes of printable ASCII without '+' (the text separator).
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '+' {
			return false
		}
	}
	return true
}

// A PublicKey is a named ed25519 public key. Its text form is
// "<name>+<id as 8 hex digits>+<base64(0x01 || key)>".
type PublicKey struct {
	Name string
	ID   uint32
	Key  ed25519.PublicKey
}

// NewPublicKey names key and computes its id.
func NewPublicKey(name string, key ed25519.PublicKey) (PublicKey, error) {
	if !validName(name) {
		return PublicKey{}, fmt.Errorf("naming public key: invalid name %q", name)
	}
	if len(key) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("naming public key %s: key is %d bytes, want %d", name, len(key), ed25519.PublicKeySize)
	}
	return PublicKey{Name: name, ID: KeyID(name, key), Key: key}, nil
}

// keyLine returns the one key line in a key file's text. Blank lines and
// lines starting with '#' are ignored, so files can say what a key is for.
func keyLine(text string) (string, error) {
	var key string
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if key != "" {
			return "", errors.New("more than one key line")
		}
		key = line
	}
	if key == "" {
		return "", errors.New("no key")
	}
	return key, nil
}

// ParsePublicKey parses the text form of a public key: one key line,
// optionally with '#' comment lines, so the text can come from a file.
func ParsePublicKey(text string) (PublicKey, error) {
	text, err := keyLine(text)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parsing public key: %w", err)
	}
	if strings.HasPrefix(text, privatePrefix) {
		return PublicKey{}, errors.New("parsing public key: this is a PRIVATE key; give the .pub file")
	}
	name, id, key, err := splitKey(text)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parsing public key: %w", err)
	}
	if len(key) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("parsing public key %s: key is %d bytes, want %d", name, len(key), ed25519.PublicKeySize)
	}
	pk := PublicKey{Name: name, ID: id, Key: ed25519.PublicKey(key)}
	if KeyID(name, pk.Key) != id {
		return PublicKey{}, fmt.Errorf("parsing public key %s: id %08x does not match the key (typo?)", name, id)
	}
	return pk, nil
}

// String returns the text form of k.
func (k PublicKey) String() string {
	return fmt.Sprintf("%s+%08x+%s", k.Name, k.ID, base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, k.Key...)))
}

// ref returns "name+id", the form used in messages.
func (k PublicKey) ref() string { return fmt.Sprintf("%s+%08x", k.Name, k.ID) }

// splitKey parses "<name>+<hex id>+<base64(alg || data)>" and returns data.
func splitKey(text string) (name string, id uint32, data []byte, err error) {
	name, rest, ok1 := strings.Cut(text, "+")
	hexID, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return "", 0, nil, errors.New(`want "name+id+key"`)
	}
	if !validName(name) {
		return "", 0, nil, fmt.Errorf("invalid key name %q", name)
	}
	n, err := strconv.ParseUint(hexID, 16, 32)
	if err != nil || len(hexID) != 8 {
		return "", 0, nil, fmt.Errorf("key %s: id %q is not 8 hex digits", name, hexID)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", 0, nil, fmt.Errorf("key %s: decoding base64: %w", name, err)
	}
	if len(raw) == 0 || raw[0] != algEd25519 {
		return "", 0, nil, fmt.Errorf("key %s: unknown key algorithm", name)
	}
	return name, uint32(n), raw[1:], nil
}

// A PrivateKey is a named ed25519 private key. Its text form is
// "PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>", where id is the id of
// the matching public key. Its String method redacts the secret so a key
// that reaches a log leaks nothing; MarshalText gives the full text.
type PrivateKey struct {
	pub  PublicKey
	priv ed25519.PrivateKey
}

// GenerateKey makes a new key named name from rand (crypto/rand.Reader in
// production; a fixed reader only for test vectors).
func GenerateKey(rand io.Reader, name string) (*PrivateKey, error) {
	if !validName(name) {
		return nil, fmt.Errorf("generating key: invalid name %q", name)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("generating key %s: reading randomness: %w", name, err)
	}
	return newPrivateKey(name, seed), nil
}

func newPrivateKey(name string, seed []byte) *PrivateKey {
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	return &PrivateKey{pub: PublicKey{Name: name, ID: KeyID(name, pub), Key: pub}, priv: priv}
}

// ParsePrivateKey parses the text form of a private key, with the same
// comment rules as ParsePublicKey.
func ParsePrivateKey(text string) (*PrivateKey, error) {
	text, err := keyLine(text)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	rest, ok := strings.CutPrefix(text, privatePrefix)
	if !ok {
		return nil, errors.New(`parsing private key: missing "PRIVATE+KEY+" prefix (is this a public key?)`)
	}
	name, id, seed, err := splitKey(rest)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("parsing private key %s: seed is %d bytes, want %d", name, len(seed), ed25519.SeedSize)
	}
	k := newPrivateKey(name, seed)
	if k.pub.ID != id {
		return nil, fmt.Errorf("parsing private key %s: id %08x does not match the key", name, id)
	}
	return k, nil
}

// Public returns the public half of k.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// MarshalText returns the full secret text form of k.
func (k *PrivateKey) MarshalText() ([]byte, error) {
	data := append([]byte{algEd25519}, k.priv.Seed()...)
	return fmt.Appendf(nil, "%s%s+%08x+%s", privatePrefix, k.pub.Name, k.pub.ID, base64.StdEncoding.EncodeToString(data)), nil
}

// String returns a redacted form of k, safe for logs.
func (k *PrivateKey) String() string {
	return fmt.Sprintf("%s%s+%08x+(redacted)", privatePrefix, k.pub.Name, k.pub.ID)
}

func (k *PrivateKey) sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Roots is the set of root public keys an agent trusts, looked up by name
// and id so that during a rotation the old and new roots are both pinned.
// A Roots is immutable after NewRoots and safe for concurrent use.
type Roots struct {
	keys map[rootRef]PublicKey
}

type rootRef struct {
	name string
	id   uint32
}

// NewRoots pins keys. Two different keys with the same name and id (a
// forged collision, or a settings mix-up) are refused rather than guessed.
func NewRoots(keys ...PublicKey) (*Roots, error) {
	r := &Roots{keys: make(map[rootRef]PublicKey, len(keys))}
	for _, k := range keys {
		if KeyID(k.Name, k.Key) != k.ID || !validName(k.Name) {
			return nil, fmt.Errorf("pinning root key %s: id does not match key", k.ref())
		}
		ref := rootRef{k.Name, k.ID}
		if old, ok := r.keys[ref]; ok && !old.Key.Equal(k.Key) {
			return nil, fmt.Errorf("pinning root key %s: two different keys share this name and id", k.ref())
		}
		r.keys[ref] = k
	}
	return r, nil
}

// ParseRoots parses public keys, one per line; blank lines and lines
// starting with '#' are ignored. It is the format of a roots file in
// settings and of testdata/bundles/*.pub.
func ParseRoots(text string) (*Roots, error) {
	var keys []PublicKey
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := ParsePublicKey(line)
		if err != nil {
			return nil, fmt.Errorf("parsing roots: line %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("parsing roots: no keys")
	}
	return NewRoots(keys...)
}

// Keys returns the pinned keys in no particular order.
func (r *Roots) Keys() []PublicKey {
	out := make([]PublicKey, 0, len(r.keys))
	for _, k := range r.keys {
		out = append(out, k)
	}
	return out
}

func (r *Roots) lookup(name string, id uint32) (PublicKey, bool) {
	if r == nil {
		return PublicKey{}, false
	}
	k, ok := r.keys[rootRef{name, id}]
	return k, ok
}

package settings

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// HashParams are argon2id's cost parameters.
type HashParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultHashParams follow RFC 9106's second recommendation (64 MiB, 3
// passes) with 2 lanes: old lab PCs have 2 cores and little memory to
// spare, and a password check happens a few times a day. About 0.1-0.2 s
// on this project's 2-core test machine.
var DefaultHashParams = HashParams{Time: 3, Memory: 64 * 1024, Threads: 2}

// Bounds a stored hash must respect, so a crafted or corrupt password file
// cannot make a check take minutes or gigabytes.
const (
	maxTime    = 16
	maxMemory  = 1 << 20 // 1 GiB
	maxThreads = 16
	saltLen    = 16
	keyLen     = 32
	// MinPasswordLen and MaxPasswordLen bound a new password (bytes).
	MinPasswordLen = 6
	MaxPasswordLen = 1024
)

// Password errors.
var (
	ErrWrongPassword = errors.New("wrong password")
	ErrNoPassword    = errors.New("no password set")
	ErrWeakPassword  = errors.New("password too short or too long")
	ErrBadHash       = errors.New("bad password hash")
)

// HashPassword returns the PHC string of password under a new random salt:
// "$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>" (unpadded base64).
func HashPassword(password string, p HashParams) (string, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen || !utf8.ValidString(password) {
		return "", fmt.Errorf("%w: %d to %d bytes of text", ErrWeakPassword, MinPasswordLen, MaxPasswordLen)
	}
	if p == (HashParams{}) {
		p = DefaultHashParams
	}
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("making salt: %w", err)
	}
	h := Hash{Params: p, Salt: salt, Key: argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)}
	return h.String(), nil
}

// VerifyPassword checks password against a PHC string in constant time.
// It returns nil, ErrWrongPassword, or an error matching ErrBadHash.
func VerifyPassword(password, phc string) error {
	h, err := ParseHash(phc)
	if err != nil {
		return err
	}
	if len(password) > MaxPasswordLen {
		// Still do the work, so a long guess costs the same as a short one.
		password = password[:MaxPasswordLen]
		_ = argon2.IDKey([]byte(password), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Key)))
		return ErrWrongPassword
	}
	k := argon2.IDKey([]byte(password), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Key)))
	if subtle.ConstantTimeCompare(k, h.Key) != 1 {
		return ErrWrongPassword
	}
	return nil
}

// Hash is a parsed PHC argon2id string.
type Hash struct {
	Params HashParams
	Salt   []byte
	Key    []byte
}

// String is the canonical PHC form.
func (h Hash) String() string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.Params.Memory, h.Params.Time, h.Params.Threads, b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

func (p HashParams) check() error {
	if p.Time < 1 || p.Time > maxTime || p.Threads < 1 || p.Threads > maxThreads ||
		p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory {
		return fmt.Errorf("%w: parameters m=%d t=%d p=%d out of bounds", ErrBadHash, p.Memory, p.Time, p.Threads)
	}
	return nil
}

// ParseHash parses the canonical PHC form only: anything String would not
// write is refused, so a stored hash has exactly one spelling.
func ParseHash(s string) (Hash, error) {
	bad := func(why string) (Hash, error) { return Hash{}, fmt.Errorf("%w: %s", ErrBadHash, why) }
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	var p HashParams
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("want m=,t=,p=")
	}
	num := func(s, prefix string, bits int) (uint64, bool) {
		v, ok := strings.CutPrefix(s, prefix)
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') || v[0] == '+' {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 10, bits)
		return n, err == nil
	}
	m, ok1 := num(kv[0], "m=", 32)
	t, ok2 := num(kv[1], "t=", 32)
	th, ok3 := num(kv[2], "p=", 8)
	if !ok1 || !ok2 || !ok3 {
		return bad("bad parameters")
	}
	p = HashParams{Time: uint32(t), Memory: uint32(m), Threads: uint8(th)}
	if err := p.check(); err != nil {
		return Hash{}, err
	}
	// Strict still skips CR and LF, so compare the re-encoding too.
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 || b64.EncodeToString(salt) != parts[4] {
		return bad("bad salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 || b64.EncodeToString(key) != parts[5] {
		return bad("bad key")
	}
	return Hash{Params: p, Salt: salt, Key: key}, nil
}

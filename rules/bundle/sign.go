package bundle

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Sign encodes b, compresses it and signs it with key, which cert must
// certify. It refuses a bundle that agents would refuse: a publisher other
// than the certificate's, or a [Created, Expires] that leaves the
// certificate's period. b must be normalized (see Normalize).
func Sign(b *Bundle, key *PrivateKey, cert *Certificate) ([]byte, error) {
	if !key.pub.Key.Equal(cert.Signer.Key) || key.pub.Name != cert.Signer.Name {
		return nil, fmt.Errorf("signing bundle: key %s is not the certified key %s", key.pub.ref(), cert.Signer.ref())
	}
	if b.Publisher != cert.Publisher {
		return nil, fmt.Errorf("signing bundle: publisher %q, certificate is for %q: %w", b.Publisher, cert.Publisher, ErrPublisherMismatch)
	}
	if err := cert.checkPeriod(b.Created, "created"); err != nil {
		return nil, fmt.Errorf("signing bundle: %w", err)
	}
	if err := cert.checkPeriod(b.Expires, "expires"); err != nil {
		return nil, fmt.Errorf("signing bundle: %w", err)
	}
	return sign(b, key, cert)
}

// sign is Sign without the certificate checks; tests use it to build the
// bundles that agents must refuse.
func sign(b *Bundle, key *PrivateKey, cert *Certificate) ([]byte, error) {
	payload, err := encodePayload(b)
	if err != nil {
		return nil, fmt.Errorf("signing bundle: %w", err)
	}
	if len(payload) > MaxDecodedSize {
		return nil, fmt.Errorf("signing bundle: payload of %d bytes: %w", len(payload), ErrTooLarge)
	}
	z, err := compress(payload)
	if err != nil {
		return nil, err
	}
	return seal(cert, uint64(len(payload)), z, key)
}

// compressLevel trades publisher time for agent download size; sorted
// domain lists compress about 4:1 at this level.
const compressLevel = zstd.SpeedBetterCompression

func compress(payload []byte) ([]byte, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(compressLevel), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("creating zstd encoder: %w", err)
	}
	defer enc.Close()
	return enc.EncodeAll(payload, nil), nil
}

// seal writes the envelope around an already compressed payload.
func seal(cert *Certificate, decodedLen uint64, z []byte, key *PrivateKey) ([]byte, error) {
	size := headerLen + len(cert.raw) + lensLen + len(z) + ed25519.SignatureSize
	if size > MaxBundleSize {
		return nil, fmt.Errorf("signing bundle: %d bytes: %w", size, ErrTooLarge)
	}
	out := make([]byte, 0, len(bundleContext)+size)
	out = append(out, bundleContext...)
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint16(out, FormatVersion)
	out = binary.BigEndian.AppendUint16(out, uint16(len(cert.raw)))
	out = append(out, cert.raw...)
	out = binary.BigEndian.AppendUint64(out, decodedLen)
	out = binary.BigEndian.AppendUint64(out, uint64(len(z)))
	out = append(out, z...)
	out = append(out, key.sign(out)...)
	return out[len(bundleContext):], nil
}

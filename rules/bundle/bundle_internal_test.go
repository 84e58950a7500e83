package bundle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func goodPayload(t testing.TB) []byte {
	p, err := encodePayload(sampleBundle(10, day(2026, 2, 1), day(2026, 6, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPayloadCanonical(t *testing.T) {
	t.Parallel()
	p := goodPayload(t)
	b, err := decodePayload(p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := encodePayload(b)
	if err != nil || !bytes.Equal(again, p) {
		t.Fatalf("decode then encode changed the bytes (err %v)", err)
	}
	b.Normalize()
	if again, _ := encodePayload(b); !bytes.Equal(again, p) {
		t.Fatal("Normalize is not idempotent")
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	p := goodPayload(t)
	// Offsets into the good payload: the version field, then the publisher.
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"trailing byte", append(bytes.Clone(p), 0)},
		{"version zero", func() []byte { q := bytes.Clone(p); binary.BigEndian.PutUint64(q, 0); return q }()},
		{"expires before created", func() []byte { q := bytes.Clone(p); binary.BigEndian.PutUint64(q[16:], 1); return q }()},
		{"non-minimal uvarint", func() []byte {
			q := bytes.Clone(p[:24])
			q = append(q, 0x8e, 0x00) // 14 in two bytes
			return append(q, p[25:]...)
		}()},
		{"wrong totals", func() []byte { q := bytes.Clone(p); q[len(q)-1]++; return q }()},
		{"huge count", func() []byte {
			q := bytes.Clone(p[:24+1+len(testPublisher)])
			return binary.AppendUvarint(q, 1<<62)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := decodePayload(tt.data)
			var me *MalformedError
			if b != nil || !errors.As(err, &me) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestDecodeRefusesUnsorted(t *testing.T) {
	t.Parallel()
	b := sampleBundle(10, day(2026, 2, 1), day(2026, 6, 1))
	l := &b.Categories[1].Lists[0] // gambling: several domains
	l.Domains[0], l.Domains[1] = l.Domains[1], l.Domains[0]
	// Bypass validate the way a hostile encoder would.
	p := writePayload(b)
	if _, err := decodePayload(p); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	p := goodPayload(f)
	f.Add(p)
	f.Add(p[:len(p)/2])
	small, _ := encodePayload(&Bundle{Version: 1, Created: day(2026, 1, 1), Expires: day(2026, 2, 1), Publisher: "p"})
	f.Add(small)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodePayload(data)
		if err != nil {
			if b != nil {
				t.Fatal("bundle returned with an error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := encodePayload(b)
		if err != nil {
			t.Fatalf("decoded bundle does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("decode then encode changed the bytes")
		}
	})
}

// A signed payload that declares more than MaxDecodedSize is refused
// from the header, before the decoder is even created.
func TestDeclaredTooLarge(t *testing.T) {
	t.Parallel()
	root, signing := testKey("greengate-test-root"), testKey("greengate-test-signing")
	cert := mustCert(t, root, signing, day(2026, 1, 1), day(2027, 1, 1))
	data, err := seal(cert, MaxDecodedSize+1, []byte("x"), signing)
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := NewRoots(root.Public())
	if _, err := Open(bytes.NewReader(data), roots, vectorNow); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

// Attacks that need a valid root signature on something unusual.
func TestSignedButWrong(t *testing.T) {
	t.Parallel()
	root, signing, other := testKey("greengate-test-root"), testKey("greengate-test-signing"), testKey("greengate-test-other")
	cert := mustCert(t, root, signing, day(2026, 1, 1), day(2027, 1, 1))
	otherCert := mustCert(t, root, other, day(2026, 1, 1), day(2027, 1, 1))
	roots, err := NewRoots(root.Public())
	if err != nil {
		t.Fatal(err)
	}
	normal := sampleBundle(10, day(2026, 2, 1), day(2026, 6, 1))
	good, err := Sign(normal, signing, cert)
	if err != nil {
		t.Fatal(err)
	}
	swapCert := func(data []byte, c *Certificate) []byte {
		out := append([]byte(nil), data[:headerLen-2]...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(c.raw)))
		out = append(out, c.raw...)
		return append(out, data[headerLen+len(cert.raw):]...)
	}
	wrongPublisher := sampleBundle(10, day(2026, 2, 1), day(2026, 6, 1))
	wrongPublisher.Publisher = "evil-corp"
	backdated := sampleBundle(10, day(2025, 12, 1), day(2026, 6, 1))
	tests := []struct {
		name string
		data func() ([]byte, error)
		want error
	}{
		{"certificate of another signing key spliced in", func() ([]byte, error) { return swapCert(good, otherCert), nil }, ErrBadSignature},
		{"publisher differs from certificate", func() ([]byte, error) { return sign(wrongPublisher, signing, cert) }, ErrPublisherMismatch},
		{"created before the key's period", func() ([]byte, error) { return sign(backdated, signing, cert) }, ErrCertExpired},
		{"certificate signature from another root", func() ([]byte, error) {
			forged := mustCert(t, testKey("greengate-test-root-2"), signing, day(2026, 1, 1), day(2027, 1, 1))
			// Claim the pinned root's name and id with the other root's signature.
			raw := bytes.Clone(forged.raw)
			off := 1
			raw = append(append(raw[:off:off], byte(len(root.pub.Name))), append([]byte(root.pub.Name), raw[off+1+len("greengate-test-root-2"):]...)...)
			binary.BigEndian.PutUint32(raw[off+1+len(root.pub.Name):], root.pub.ID)
			c, err := ParseCertificate(raw)
			if err != nil {
				return nil, err
			}
			return sign(normal, signing, c)
		}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := tt.data()
			if err != nil {
				t.Fatal(err)
			}
			b, err := Open(bytes.NewReader(data), roots, vectorNow)
			if b != nil || !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k := testKey("greengate-test-root")
	priv, _ := k.MarshalText()
	pub := k.Public().String()
	if strings.Contains(k.String(), string(priv[len(privatePrefix)+len("greengate-test-root")+10:])) {
		t.Error("String leaks the private key")
	}
	if p, err := ParsePrivateKey(string(priv)); err != nil || !p.Public().Key.Equal(k.Public().Key) {
		t.Errorf("private key round trip: %v", err)
	}
	if p, err := ParsePublicKey("# comment\n" + pub + "\n"); err != nil || p.String() != pub {
		t.Errorf("public key round trip: %v", err)
	}
	bad := []struct{ name, text string }{
		{"private as public", string(priv)},
		{"typo in id", strings.Replace(pub, "+c", "+d", 1)},
		{"two keys", pub + "\n" + pub},
		{"empty", "# nothing\n"},
		{"plus in name", "a+b+" + pub},
		{"short key", "x+00000000+AQID"},
	}
	for _, tt := range bad {
		if _, err := ParsePublicKey(tt.text); err == nil {
			t.Errorf("%s: parsed", tt.name)
		}
	}
	if _, err := ParsePrivateKey(pub); err == nil {
		t.Error("public key parsed as private")
	}
	other := testKey("greengate-test-root-2")
	forged := PublicKey{Name: k.pub.Name, ID: k.pub.ID, Key: other.pub.Key}
	if _, err := NewRoots(k.Public(), forged); err == nil {
		t.Error("pinned a key whose id does not match")
	}
}

func FuzzParseKey(f *testing.F) {
	k := testKey("greengate-test-root")
	priv, _ := k.MarshalText()
	f.Add(k.Public().String())
	f.Add(string(priv))
	f.Fuzz(func(t *testing.T, text string) {
		if pk, err := ParsePublicKey(text); err == nil {
			again, err := ParsePublicKey(pk.String())
			if err != nil || again.String() != pk.String() || KeyID(pk.Name, pk.Key) != pk.ID {
				t.Fatalf("public key %q does not round-trip: %v", text, err)
			}
		}
		if sk, err := ParsePrivateKey(text); err == nil {
			out, _ := sk.MarshalText()
			again, err := ParsePrivateKey(string(out))
			if err != nil || again.Public().String() != sk.Public().String() {
				t.Fatalf("private key %q does not round-trip: %v", text, err)
			}
		}
	})
}

func FuzzParseCertificate(f *testing.F) {
	c := mustCert(f, testKey("greengate-test-root"), testKey("greengate-test-signing"), day(2026, 1, 1), day(2027, 1, 1))
	f.Add(c.raw)
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseCertificate(raw)
		if err != nil {
			if c != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, %v", c, err)
			}
			return
		}
		if !bytes.Equal(c.Bytes(), raw) {
			t.Fatal("certificate bytes differ from input")
		}
		if again := c.appendBody(nil); !bytes.Equal(again, raw[:len(raw)-64]) {
			t.Fatal("certificate is not canonical")
		}
		text, _ := c.MarshalText()
		if c2, err := ParseCertificateText(string(text)); err != nil || !bytes.Equal(c2.raw, raw) {
			t.Fatalf("text round trip: %v", err)
		}
	})
}

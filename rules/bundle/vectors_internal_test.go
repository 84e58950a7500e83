package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

var update = flag.Bool("update", false, "rewrite testdata/bundles from the generator in TestVectors")

// vectorDir is shared with agent/update's tests; see its README.md.
const vectorDir = "../../testdata/bundles"

// VectorNow is the fixed time every vector assumes.
var vectorNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// testKey derives a TEST ONLY key from its name, so regenerating the
// vectors gives the same bytes and TestVectors can compare them.
func testKey(name string) *PrivateKey {
	seed := sha256.Sum256([]byte("greengate TEST ONLY key: " + name))
	return newPrivateKey(name, seed[:])
}

func mustCert(t testing.TB, root *PrivateKey, signer *PrivateKey, nb, na time.Time) *Certificate {
	t.Helper()
	c, err := Certify(root, signer.Public(), testPublisher, nb, na)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const testPublisher = "greengate-test"

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// sampleBundle is a small bundle with real-looking entries.
func sampleBundle(version uint64, created, expires time.Time) *Bundle {
	b := &Bundle{
		Version:   version,
		Created:   created,
		Expires:   expires,
		Publisher: testPublisher,
		Categories: []Category{
			{
				ID:          "gambling",
				Name:        Text{ZH: "赌博", EN: "Gambling"},
				Description: Text{ZH: "在线赌场、博彩和彩票网站", EN: "Online casinos, betting and lotteries"},
				Lists: []List{{
					Source:  "ut1/gambling/domains",
					Domains: []string{"bet365.com", "pokerstars.com", "williamhill.com", "888casino.com", "draftkings.com", "casino.example.net"},
					URLs:    []string{"reddit.com/r/sportsbook", "sites.google.com/view/free-casino-bonus"},
					Allow:   []string{"begambleaware.org", "gamblersanonymous.org"},
				}},
			},
			{
				ID:          "adult",
				Name:        Text{ZH: "成人内容", EN: "Adult"},
				Description: Text{ZH: "色情和露骨的性内容", EN: "Pornography and sexually explicit material"},
				Lists: []List{
					{
						Source:  "ut1/adult/domains",
						Domains: []string{"pornhub.com", "xvideos.com", "xhamster.com", "redtube.com", "youporn.com", "xnxx.com"},
						URLs:    []string{"reddit.com/r/nsfw", "tumblr.com/tagged/nsfw"},
					},
					{
						Source:  "custom/adult",
						Domains: []string{"adult.example.com"},
						Allow:   []string{"plannedparenthood.org", "scarleteen.com"},
					},
				},
			},
		},
		SafeSearch: []Engine{
			{Name: "google", Hosts: []string{"www.google.com", "google.com", "www.google.com.hk"}, Target: "forcesafesearch.google.com", Param: "safe=active"},
			{Name: "bing", Hosts: []string{"www.bing.com", "bing.com", "cn.bing.com"}, Target: "strict.bing.com", Param: "adlt=strict"},
			{Name: "duckduckgo", Hosts: []string{"duckduckgo.com", "www.duckduckgo.com"}, Target: "safe.duckduckgo.com", Param: "kp=1"},
			{Name: "youtube", Hosts: []string{"www.youtube.com", "m.youtube.com", "youtubei.googleapis.com", "youtube.googleapis.com", "www.youtube-nocookie.com"}, Target: "restrict.youtube.com", ModerateTarget: "restrictmoderate.youtube.com"},
		},
	}
	b.Normalize()
	return b
}

// Vector is one line of testdata/bundles/vectors.json.
type Vector struct {
	File      string   `json:"file"`
	Roots     []string `json:"roots"`     // root public key files to pin
	Installed uint64   `json:"installed"` // version already installed, for CheckVersion
	Error     string   `json:"error"`     // sentinel name, "" when the bundle must install
	Version   uint64   `json:"version,omitempty"`
	Note      string   `json:"note"`
}

type vectorManifest struct {
	Now     time.Time `json:"now"`
	Vectors []Vector  `json:"vectors"`
}

// generateVectors returns every vector file's name and bytes.
func generateVectors(t testing.TB) (map[string][]byte, vectorManifest) {
	root, root2, unpinned := testKey("greengate-test-root"), testKey("greengate-test-root-2"), testKey("greengate-test-unpinned-root")
	signing, signing2, signingOld, signingU := testKey("greengate-test-signing"), testKey("greengate-test-signing-2"), testKey("greengate-test-signing-2024"), testKey("greengate-test-signing-u")
	period := func(r, s *PrivateKey) *Certificate { return mustCert(t, r, s, day(2026, 1, 1), day(2027, 1, 1)) }
	cert, cert2, certU := period(root, signing), period(root2, signing2), period(unpinned, signingU)
	certOld := mustCert(t, root, signingOld, day(2024, 1, 1), day(2025, 1, 1))

	files := map[string][]byte{}
	keyFile := func(name, what string, k *PrivateKey) {
		text, _ := k.MarshalText()
		hdr := "# TEST ONLY - " + what + ". Published in the repository; never trust it outside tests.\n"
		files[name+".key"] = []byte(hdr + string(text) + "\n")
		files[name+".pub"] = []byte(hdr + k.Public().String() + "\n")
	}
	keyFile("root", "root key pinned by the vectors", root)
	keyFile("root2", "second root key, for rotation", root2)
	keyFile("signing", "signing key certified by root", signing)
	for name, c := range map[string]*Certificate{"signing.cert": cert} {
		text, _ := c.MarshalText()
		files[name] = append(text, '\n')
	}
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	normal := func(v uint64) *Bundle { return sampleBundle(v, day(2026, 2, 1), day(2026, 6, 1)) }
	good := must(Sign(normal(10), signing, cert))
	files["good.bundle"] = good
	files["good-root2.bundle"] = must(Sign(normal(10), signing2, cert2))
	bad := bytes.Clone(good)
	bad[len(bad)-ed25519SigSize-10] ^= 0x01 // inside the compressed payload
	files["bad-signature.bundle"] = bad
	files["unknown-key.bundle"] = must(Sign(normal(10), signingU, certU))
	files["cert-expired.bundle"] = must(sign(normal(10), signingOld, certOld))
	files["expired.bundle"] = must(Sign(sampleBundle(10, day(2026, 1, 2), day(2026, 2, 1)), signing, cert))
	files["not-yet-valid.bundle"] = must(Sign(sampleBundle(10, day(2026, 4, 1), day(2026, 8, 1)), signing, cert))
	files["rollback-v2.bundle"] = must(Sign(normal(2), signing, cert))
	files["rollback-v1.bundle"] = must(Sign(normal(1), signing, cert))
	files["truncated.bundle"] = good[:len(good)/2]
	over := bytes.Clone(good[:headerLen+len(cert.raw)+lensLen])
	binary.BigEndian.PutUint64(over[headerLen+len(cert.raw)+8:], MaxBundleSize)
	files["oversized.bundle"] = over
	files["decompression-bomb.bundle"] = must(seal(cert, 4096, bombStream(t, 512<<20), signing))

	m := vectorManifest{Now: vectorNow, Vectors: []Vector{
		{File: "good.bundle", Roots: []string{"root.pub"}, Version: 10, Note: "adult and gambling categories and the safe-search map"},
		{File: "good-root2.bundle", Roots: []string{"root.pub", "root2.pub"}, Version: 10, Note: "signed under the second root; both roots pinned (rotation)"},
		{File: "good-root2.bundle", Roots: []string{"root.pub"}, Error: "ErrUnknownKey", Note: "second root not pinned"},
		{File: "bad-signature.bundle", Roots: []string{"root.pub"}, Error: "ErrBadSignature", Note: "good.bundle with one payload bit flipped"},
		{File: "unknown-key.bundle", Roots: []string{"root.pub", "root2.pub"}, Error: "ErrUnknownKey", Note: "certified by a root nobody pinned"},
		{File: "cert-expired.bundle", Roots: []string{"root.pub"}, Error: "ErrCertExpired", Note: "signing key certified for 2024 only, used in 2026"},
		{File: "expired.bundle", Roots: []string{"root.pub"}, Error: "ErrExpired", Note: "expired 2026-02-01"},
		{File: "not-yet-valid.bundle", Roots: []string{"root.pub"}, Error: "ErrNotYetValid", Note: "created 2026-04-01"},
		{File: "rollback-v2.bundle", Roots: []string{"root.pub"}, Installed: 1, Version: 2, Note: "install this first"},
		{File: "rollback-v1.bundle", Roots: []string{"root.pub"}, Installed: 2, Error: "ErrRollback", Version: 1, Note: "valid signature, older version: a replay"},
		{File: "truncated.bundle", Roots: []string{"root.pub"}, Error: "ErrMalformed", Note: "first half of good.bundle"},
		{File: "oversized.bundle", Roots: []string{"root.pub"}, Error: "ErrTooLarge", Note: "header of good.bundle declaring a MaxBundleSize payload; refused before reading it"},
		{File: "decompression-bomb.bundle", Roots: []string{"root.pub"}, Error: "ErrTooLarge", Note: "validly signed; declares 4096 bytes, inflates to 512 MiB (more than MaxDecodedSize)"},
	}}
	manifest, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	files["vectors.json"] = append(manifest, '\n')
	return files, m
}

const ed25519SigSize = 64

// bombStream compresses n zero bytes as a stream without a content size,
// so only the decoder's running limit can stop it.
func bombStream(t testing.TB, n int64) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestVectors checks that the committed vectors are exactly what the
// generator makes, so they can neither rot nor be edited by hand.
// Regenerate with: go test ./rules/bundle -run TestVectors -update
func TestVectors(t *testing.T) {
	files, _ := generateVectors(t)
	for name, want := range files {
		path := filepath.Join(vectorDir, name)
		if *update {
			mode := os.FileMode(0o644)
			if filepath.Ext(name) == ".key" {
				mode = 0o600
			}
			if err := os.WriteFile(path, want, mode); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading vector (regenerate with -update): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output; regenerate with -update", name)
		}
	}
}

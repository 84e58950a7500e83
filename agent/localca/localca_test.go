package localca_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/greengate/greengate/agent/localca"
)

func open(t testing.TB, dir string) *localca.CA {
	t.Helper()
	ca, err := localca.Open(localca.Config{Dir: dir, Hostname: "lab-pc-7"})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func pool(ca *localca.CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(ca.PEM())
	return p
}

// handshake runs a real TLS handshake on loopback: the server answers
// with the CA's leaf for host, the client verifies against roots for
// serverName.
func handshake(t *testing.T, ca *localca.CA, host, serverName string, roots *x509.CertPool) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := ca.ServerConfig(host)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s := tls.Server(c, cfg)
		_ = s.SetDeadline(time.Now().Add(5 * time.Second))
		_ = s.Handshake()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: serverName})
	if err == nil {
		c.Close()
	}
	<-done
	return err
}

func TestMadeOnceKeptPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	a := open(t, dir)
	b := open(t, dir)
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("a second Open made a new CA instead of loading the first")
	}
	if got := a.Subject(); got != "GreenGate block pages, host lab-pc-7" {
		t.Errorf("CA name %q does not say what it is and where", got)
	}
	for name, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, localca.KeyFile): 0o600} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	other := open(t, filepath.Join(t.TempDir(), "ca"))
	if other.Fingerprint() == a.Fingerprint() {
		t.Fatal("two installs share a CA")
	}
}

func TestLeafVerifiesForItsHostOnly(t *testing.T) {
	t.Parallel()
	ca := open(t, t.TempDir())
	if err := handshake(t, ca, "www.pornhub.com", "www.pornhub.com", pool(ca)); err != nil {
		t.Fatalf("a client that trusts the CA refused its leaf: %v", err)
	}
	// The leaf is for the decided host only: a client asking for another
	// name, or not trusting this machine's CA, refuses it.
	var herr x509.HostnameError
	if err := handshake(t, ca, "www.pornhub.com", "bank.example", pool(ca)); !errors.As(err, &herr) {
		t.Fatalf("leaf accepted for another name: %v", err)
	}
	var uerr x509.UnknownAuthorityError
	other := open(t, t.TempDir())
	if err := handshake(t, ca, "www.pornhub.com", "www.pornhub.com", pool(other)); !errors.As(err, &uerr) {
		t.Fatalf("leaf accepted by a client trusting another install's CA: %v", err)
	}
	if err := handshake(t, ca, "192.0.2.7", "192.0.2.7", pool(ca)); err != nil {
		t.Fatalf("IP leaf: %v", err)
	}
}

func TestLeavesCachedAndRenewed(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	ca, err := localca.Open(localca.Config{Dir: t.TempDir(), Clock: func() time.Time { return now }, LeafTTL: 24 * time.Hour, CacheSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := ca.Leaf("a.example")
	l2, _ := ca.Leaf("a.example")
	if l1 != l2 {
		t.Fatal("second leaf for the same host was minted again")
	}
	if got := l1.Leaf.NotAfter.Sub(now); got != 24*time.Hour {
		t.Errorf("leaf lives %v, want the configured 24h", got)
	}
	now = now.Add(20 * time.Hour) // less than a quarter of its life left
	if l3, _ := ca.Leaf("a.example"); l3 == l1 {
		t.Fatal("a leaf near its end was served from the cache")
	}
	ca.Leaf("b.example")
	ca.Leaf("c.example") // evicts a.example
	if minted, hits := ca.Stats(); minted != 4 || hits != 1 {
		t.Fatalf("minted %d, hits %d; want 4 and 1", minted, hits)
	}
	if _, err := ca.Leaf(""); err == nil {
		t.Fatal("a leaf for no host")
	}
}

func TestBadFilesReplacedOrRefused(t *testing.T) {
	t.Parallel()
	t.Run("corrupt key makes a new CA", func(t *testing.T) {
		dir := t.TempDir()
		first := open(t, dir)
		if err := os.WriteFile(filepath.Join(dir, localca.KeyFile), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
		if again := open(t, dir); again.Fingerprint() == first.Fingerprint() {
			t.Fatal("a CA whose key is gone was kept")
		}
	})
	t.Run("expired CA makes a new one", func(t *testing.T) {
		dir := t.TempDir()
		first := open(t, dir)
		later := func() time.Time { return time.Now().Add(11 * 365 * 24 * time.Hour) }
		again, err := localca.Open(localca.Config{Dir: dir, Clock: later})
		if err != nil {
			t.Fatal(err)
		}
		if again.Fingerprint() == first.Fingerprint() {
			t.Fatal("an expired CA was kept")
		}
	})
	t.Run("a planted link is not followed", func(t *testing.T) {
		dir := t.TempDir()
		secret := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(secret, []byte("not a key"), 0o600)
		if err := os.Symlink(secret, filepath.Join(dir, localca.KeyFile)); err != nil {
			t.Fatal(err)
		}
		if _, err := localca.Open(localca.Config{Dir: dir}); err == nil {
			t.Fatal("Open followed a link for its key")
		}
	})
	t.Run("no CA yet", func(t *testing.T) {
		if _, err := localca.Load(localca.Config{Dir: t.TempDir()}); !errors.Is(err, localca.ErrNoCA) {
			t.Fatalf("Load on an empty dir = %v, want ErrNoCA", err)
		}
	})
}

// BenchmarkLeaf is the cost of a block page's certificate: minted for a
// new host, and served from the cache for a known one.
func BenchmarkLeaf(b *testing.B) {
	ca := open(b, b.TempDir())
	b.Run("mint", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := ca.Leaf("h" + string(rune('a'+i%26)) + time.Now().Format("150405.000000000") + ".example"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/leaf")
	})
	b.Run("cached", func(b *testing.B) {
		ca.Leaf("known.example")
		for b.Loop() {
			ca.Leaf("known.example")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/leaf")
	})
}

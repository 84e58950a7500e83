package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/greengate/greengate/rules/bundle"
)

func cmdKeygen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", "-role root|signing -name NAME -out PREFIX", stderr)
	role := fs.String("role", "signing", "root (kept offline, certifies signing keys) or signing (signs bundles)")
	name := fs.String("name", "", "key name, e.g. example-root-2026")
	out := fs.String("out", "", "writes PREFIX.key (private, mode 0600) and PREFIX.pub")
	if _, ok := parseArgs(fs, args, 0); !ok {
		return exitUsage
	}
	if *name == "" || *out == "" || (*role != "root" && *role != "signing") {
		fs.Usage()
		return exitUsage
	}
	k, err := bundle.GenerateKey(rand.Reader, *name)
	if err != nil {
		return fail(stderr, "keygen", err)
	}
	hint := map[string]string{
		"root":    "GreenGate ROOT key. Keep the .key offline; agents pin the .pub.",
		"signing": "GreenGate signing key. Needs a certificate from a root key (greengate-publisher certify).",
	}[*role]
	priv, _ := k.MarshalText()
	// The private key is written first and never over an existing file,
	// so a slip of -out cannot destroy a root key.
	if err := writeNew(*out+".key", fmt.Appendf(nil, "# %s\n%s\n", hint, priv), 0o600); err != nil {
		return fail(stderr, "keygen", err)
	}
	if err := writeNew(*out+".pub", fmt.Appendf(nil, "# %s\n%s\n", hint, k.Public()), 0o644); err != nil {
		return fail(stderr, "keygen", err)
	}
	fmt.Fprintf(stdout, "%s key %s\nwrote %s.key (private) and %s.pub\n", *role, k.Public(), *out, *out)
	return exitOK
}

// writeNew creates path with mode perm, refusing to replace a file.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return f.Close()
}

func readPrivateKey(path string) (*bundle.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	return bundle.ParsePrivateKey(string(b))
}

func cmdCertify(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("certify", "-root-key ROOT.key -signing-key SIGNING.pub -publisher ID -not-after T|-valid DUR -out FILE.cert", stderr)
	rootPath := fs.String("root-key", "", "root private key file")
	signPath := fs.String("signing-key", "", "signing PUBLIC key file")
	publisher := fs.String("publisher", "", "publisher id the signing key may sign for")
	var notBefore, notAfter timeFlag
	fs.Var(&notBefore, "not-before", "start of the period, RFC 3339 (default now)")
	fs.Var(&notAfter, "not-after", "end of the period, RFC 3339")
	valid := fs.Duration("valid", 0, "length of the period, instead of -not-after (e.g. 2160h)")
	out := fs.String("out", "", "certificate file to write")
	if _, ok := parseArgs(fs, args, 0); !ok {
		return exitUsage
	}
	if *rootPath == "" || *signPath == "" || *publisher == "" || *out == "" || (notAfter.t.IsZero() == (*valid == 0)) {
		fs.Usage()
		return exitUsage
	}
	root, err := readPrivateKey(*rootPath)
	if err != nil {
		return fail(stderr, "certify", err)
	}
	pubText, err := os.ReadFile(*signPath)
	if err != nil {
		return fail(stderr, "certify", fmt.Errorf("reading signing key: %w", err))
	}
	signer, err := bundle.ParsePublicKey(string(pubText))
	if err != nil {
		return fail(stderr, "certify", err)
	}
	nb := notBefore.or(time.Now())
	na := notAfter.or(nb.Add(*valid))
	cert, err := bundle.Certify(root, signer, *publisher, nb, na)
	if err != nil {
		return fail(stderr, "certify", err)
	}
	text, _ := cert.MarshalText()
	if err := os.WriteFile(*out, append(text, '\n'), 0o644); err != nil {
		return fail(stderr, "certify", fmt.Errorf("writing certificate: %w", err))
	}
	fmt.Fprintf(stdout, "certified %s+%08x for publisher %s, %s to %s, by root %s+%08x\n",
		signer.Name, signer.ID, cert.Publisher, cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), cert.RootName, cert.RootID)
	return exitOK
}

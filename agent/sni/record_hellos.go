//go:build ignore

// Command record_hellos captures the first TLS ClientHello a real client
// sends to a loopback listener and writes its raw bytes (record headers
// included, exactly as they came off the wire) to a file. It never answers
// the handshake, so the client fails after sending; that is expected.
//
// It is run by scripts/record-hellos.sh to build testdata/clienthello/:
//
//	go run ./agent/sni/record_hellos.go -listen 127.0.0.1:0 -out f.bin -port-file p
//	go run ./agent/sni/record_hellos.go -go-client go.test -out go.bin
//	go run ./agent/sni/record_hellos.go -go-client secret.test -ech public.test -out ech.bin
package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// maxCapture bounds what a misbehaving client can make us buffer.
const maxCapture = 64 << 10

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	out := flag.String("out", "", "file to write the captured hello to")
	portFile := flag.String("port-file", "", "write the chosen port here once listening")
	goClient := flag.String("go-client", "", "also dial ourselves with Go crypto/tls using this ServerName")
	echPublic := flag.String("ech", "", "with -go-client: offer real ECH with this outer public_name")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listening on %s: %v", *listen, err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		if err := os.WriteFile(*portFile, []byte(fmt.Sprint(port)), 0o644); err != nil {
			log.Fatalf("writing port file: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	if *goClient != "" {
		go dialGo(ctx, ln.Addr().String(), *goClient, *echPublic)
	}

	if tl, ok := ln.(*net.TCPListener); ok {
		_ = tl.SetDeadline(time.Now().Add(*timeout))
	}
	c, err := ln.Accept()
	if err != nil {
		log.Fatalf("accepting: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	hello, err := readHello(c)
	if err != nil {
		log.Fatalf("reading hello: %v (got %d bytes)", err, len(hello))
	}
	if err := os.WriteFile(*out, hello, 0o644); err != nil {
		log.Fatalf("writing %s: %v", *out, err)
	}
	log.Printf("wrote %d bytes to %s", len(hello), *out)
}

// readHello reads TLS records until one whole handshake message is in, so the
// capture stops at the ClientHello and never waits for bytes that won't come.
func readHello(r io.Reader) ([]byte, error) {
	var raw, hs []byte
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return raw, err
		}
		raw = append(raw, hdr[:]...)
		if hdr[0] != 0x16 {
			return raw, errors.New("not a TLS handshake record")
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if len(raw)+n > maxCapture {
			return raw, errors.New("hello too large")
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return raw, err
		}
		raw = append(raw, body...)
		hs = append(hs, body...)
		if len(hs) >= 4 {
			want := 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
			if len(hs) >= want {
				return raw, nil
			}
		}
	}
}

func dialGo(ctx context.Context, addr, name, echPublic string) {
	cfg := &tls.Config{ServerName: name, NextProtos: []string{"h2", "http/1.1"}}
	if echPublic != "" {
		list, err := echConfigList(echPublic)
		if err != nil {
			log.Fatalf("building ECH config: %v", err)
		}
		cfg.EncryptedClientHelloConfigList = list
		cfg.MinVersion = tls.VersionTLS13
	}
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
	}
}

// echConfigList builds a one-entry ECHConfigList (draft-ietf-tls-esni-22
// section 4) around a fresh X25519 key: enough for crypto/tls to send a real
// ECH outer hello whose SNI is publicName.
func echConfigList(publicName string) ([]byte, error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(list *cryptobyte.Builder) {
		list.AddUint16(0xfe0d)
		list.AddUint16LengthPrefixed(func(c *cryptobyte.Builder) {
			c.AddUint8(7)       // config_id
			c.AddUint16(0x0020) // DHKEM(X25519, HKDF-SHA256)
			c.AddUint16LengthPrefixed(func(pk *cryptobyte.Builder) { pk.AddBytes(k.PublicKey().Bytes()) })
			c.AddUint16LengthPrefixed(func(cs *cryptobyte.Builder) {
				cs.AddUint16(0x0001) // HKDF-SHA256
				cs.AddUint16(0x0001) // AES-128-GCM
			})
			c.AddUint8(0) // maximum_name_length
			c.AddUint8LengthPrefixed(func(n *cryptobyte.Builder) { n.AddBytes([]byte(publicName)) })
			c.AddUint16(0) // extensions
		})
	})
	return b.Bytes()
}

package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/rules/policy"
)

// BlockPageCA mints the certificates the proxy shows HTTPS block pages
// with; package localca's CA is one. Nil in Config means HTTPS blocks are
// refused at CONNECT (or the connection closed after the ClientHello)
// with no page.
type BlockPageCA interface {
	// ServerConfig is a TLS configuration answering with a certificate
	// for host only.
	ServerConfig(host string) (*tls.Config, error)
}

// Limits of a terminated block connection. It only ever answers with the
// block page, so it needs little: a small header, a few requests, and
// no patience.
const (
	tlsBlockHandshake = 10 * time.Second
	tlsBlockIdle      = 30 * time.Second
	tlsBlockMaxHeader = 64 << 10
	tlsBlockRequests  = 32
	refusedMemory     = 4096 // hosts whose clients refused our certificate
)

// refusedHosts remembers hosts whose clients refused the local CA's
// certificate (a pinning app, a browser that does not trust it): they
// get the plain refusal from then on, with no handshake that fails.
type refusedHosts struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (r *refusedHosts) has(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.m[host]
	return ok
}

// add reports whether host is new.
func (r *refusedHosts) add(host string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[host]; ok {
		return false
	}
	if r.m == nil || len(r.m) >= refusedMemory {
		r.m = map[string]struct{}{} // forget all rather than grow; they relearn in one handshake
	}
	r.m[host] = struct{}{}
	return true
}

// canShowTLSBlock reports whether a blocked TLS connection to host may be
// answered with the block page rather than refused.
func (p *Proxy) canShowTLSBlock(host string) bool {
	return p.cfg.CA != nil && !p.refusedCert.has(host)
}

// serveTLSBlock answers a blocked TLS connection with the block page: it
// terminates TLS with a leaf for host, the name that was decided and
// blocked, and answers every request on the connection with that host's
// block page (or the "ask a parent" page), whatever path or Host header
// the request names: nothing is ever forwarded from here. conn is the
// client connection (a CONNECT already answered 200); src reads its
// bytes, the peeked ClientHello first. The block is recorded once for the
// connection, on its first request.
func (p *Proxy) serveTLSBlock(d *decision, conn net.Conn, src io.Reader, host string, v policy.Verdict, reason string) {
	cfg, err := p.cfg.CA.ServerConfig(host)
	if err != nil {
		p.log.Warn("proxy: no block-page certificate", "host", host, "err", err)
		p.record(d, v, blocklog.ActionBlock, host, "", reason)
		return
	}
	tc := tls.Server(&prereadConn{Conn: conn, r: src}, cfg)
	_ = conn.SetDeadline(time.Now().Add(tlsBlockHandshake))
	if err := tc.Handshake(); err != nil {
		p.record(d, v, blocklog.ActionBlock, host, "", reason)
		// crypto/tls reports the client's alert as a "remote error".
		var alert *net.OpError
		if errors.As(err, &alert) && alert.Op == "remote error" && p.refusedCert.add(host) {
			// The client saw our certificate and said no: remember, so
			// the next attempt is refused plainly and quickly.
			p.log.Info("proxy: a client refused the block-page certificate; HTTPS blocks for this host are refused without a page from now on",
				"host", host, "client", d.client, "alert", err)
		}
		return
	}
	// One buffered reader for the connection, so pipelined requests are
	// kept; the limit under it is renewed per request.
	lr := &limitedConnReader{r: tc}
	rd := bufio.NewReaderSize(lr, 4096)
	recorded := false
	for range tlsBlockRequests {
		_ = conn.SetDeadline(time.Now().Add(tlsBlockIdle))
		lr.n = tlsBlockMaxHeader
		req, err := http.ReadRequest(rd)
		if err != nil {
			if lr.n <= 0 {
				_, _ = io.WriteString(tc, "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			}
			break
		}
		// The decided host, never the request's Host: a Host header that
		// names another site opens nothing here.
		req.URL.Scheme, req.URL.Host, req.Host = "https", host, host
		var resp *http.Response
		if req.URL.Path == requestPath {
			resp = p.requestResponse(req, d)
		} else {
			if !recorded {
				p.record(d, v, blocklog.ActionBlock, host, redactedURL(req.URL), reason)
				recorded = true
			}
			resp = p.blockResponse(req, d.eng, v, host)
		}
		hasBody := req.ContentLength != 0 || len(req.TransferEncoding) > 0
		closing := req.Close || hasBody
		if closing {
			resp.Close = true
			resp.Header.Set("Connection", "close")
		}
		err = resp.Write(tc)
		resp.Body.Close()
		if err != nil || closing {
			break
		}
	}
	if !recorded {
		p.record(d, v, blocklog.ActionBlock, host, "", reason)
	}
	_ = tc.Close()
}

// prereadConn is a connection whose first bytes were already read (the
// peeked ClientHello): reads come from r, writes go to the connection.
type prereadConn struct {
	net.Conn
	r io.Reader
}

func (c *prereadConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// limitedConnReader lets n bytes through before it reports EOF: a request
// head larger than that ends the connection instead of growing a buffer.
// Its n is reset for every request.
type limitedConnReader struct {
	r io.Reader
	n int
}

func (l *limitedConnReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if len(b) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= n
	return n, err
}

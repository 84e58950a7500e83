package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/rules/hostname"
	"github.com/greengate/greengate/rules/policy"
)

// Browsers send an unencrypted ws:// WebSocket through a proxy as a
// CONNECT to port 80 with the HTTP upgrade inside the tunnel. That is the
// one thing a port-80 tunnel may carry: the request inside is read before
// anything is dialled, must be a WebSocket upgrade for the CONNECT host,
// and is decided on its path as plain HTTP is. Any other plain HTTP must
// come to the proxy as plain HTTP, where every request is decided, not
// only a tunnel's first.

// wsPort is the port whose tunnels carry ws:// WebSockets.
const wsPort = 80

// maxTunnelHead bounds the request head read from a port-80 tunnel.
const maxTunnelHead = 16 << 10

// errNotWebSocket is a port-80 tunnel carrying something else.
var errNotWebSocket = errors.New("not a WebSocket upgrade")

// readHead reads an HTTP request head (through the blank line) from src,
// at most maxTunnelHead bytes, and returns its bytes and the request.
func readHead(src io.Reader) ([]byte, *http.Request, error) {
	var head []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(head, []byte("\r\n\r\n")) {
		if len(head) >= maxTunnelHead {
			return nil, nil, fmt.Errorf("request head over %d bytes", maxTunnelHead)
		}
		n, err := src.Read(buf[:min(len(buf), maxTunnelHead-len(head))])
		head = append(head, buf[:n]...)
		if err != nil && !bytes.Contains(head, []byte("\r\n\r\n")) {
			return nil, nil, fmt.Errorf("reading the request head: %w", err)
		}
	}
	end := bytes.Index(head, []byte("\r\n\r\n")) + 4
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head[:end])))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the request head: %w", err)
	}
	return head, req, nil
}

// checkUpgrade returns the path and query of a WebSocket upgrade for host,
// or errNotWebSocket.
func checkUpgrade(req *http.Request, host string) (string, error) {
	if req.Method != http.MethodGet || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") ||
		!headerHasToken(req.Header, "Connection", "upgrade") {
		return "", errNotWebSocket
	}
	if req.URL.IsAbs() {
		return "", fmt.Errorf("%w: absolute target in a tunnel", errNotWebSocket)
	}
	h := req.Host
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if port != "80" {
			return "", fmt.Errorf("%w: Host %q names another port", errNotWebSocket, req.Host)
		}
		h = hh
	}
	n, err := hostname.NormalizeRequest(h)
	if err != nil || n != host {
		return "", fmt.Errorf("%w: Host %q is not the tunnel's %s", errNotWebSocket, req.Host, host)
	}
	return req.URL.RequestURI(), nil
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// tunnelRefusal answers inside a tunnel, where the client speaks HTTP.
func tunnelRefusal(w io.Writer, code int, msg string) {
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s\n",
		code, http.StatusText(code), len(msg)+1, msg)
}

// serveWebSocketTunnel carries a port-80 tunnel (see above) whose CONNECT
// host was allowed: src is the client's bytes after the CONNECT.
func (p *Proxy) serveWebSocketTunnel(ctx context.Context, d *decision, conn net.Conn, src io.Reader, host string) {
	_ = conn.SetReadDeadline(time.Now().Add(p.cfg.HelloTimeout))
	head, req, err := readHead(src)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		p.log.Debug("proxy: port-80 tunnel closed before a request head", "client", d.client, "host", host, "err", err)
		return
	}
	pathQuery, err := checkUpgrade(req, host)
	if err != nil {
		p.log.Debug("proxy: port-80 tunnel refused", "client", d.client, "host", host, "err", err)
		tunnelRefusal(conn, http.StatusForbidden, "GreenGate: a tunnel to port 80 carries only WebSockets for its own host; send plain HTTP to the proxy")
		return
	}
	u := req.URL
	u.Scheme, u.Host = "http", host
	if pv := p.decideHTTP(d, host, u); pv.Action == policy.Block {
		p.record(d, pv, blocklog.ActionBlock, host, redactedURL(u), "websocket: "+pv.Reason.String())
		tunnelRefusal(conn, http.StatusForbidden, "GreenGate: "+host+pathQuery+" is blocked ("+blockWhat(d.eng, pv)+")")
		return
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	up, err := p.dial(dctx, "tcp", hostPort(host, wsPort))
	cancel()
	if err != nil {
		p.log.Info("proxy: WebSocket origin unreachable", "host", host, "err", err)
		tunnelRefusal(conn, http.StatusBadGateway, "GreenGate: the site could not be reached")
		return
	}
	defer up.Close()
	p.splice(conn, io.MultiReader(bytes.NewReader(head), src), up)
}

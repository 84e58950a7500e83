// Package sysproxy points a machine's browsers at the GreenGate proxy: it
// writes the proxy auto-config (PAC) script the agent serves at
// /proxy.pac, and the system settings that make browsers fetch it.
//
// Explicit-proxy mode is only as strong as its lock, so every step here
// locks what the platform lets an administrator lock (dconf locks, KDE's
// [$i] immutable groups, Firefox and Chromium policies, machine-wide
// WinINET). Transparent mode (agent/transparent) is the robust
// alternative; this package is for machines where it is not available.
//
// The PAC is fail-closed: it names the proxy with no DIRECT fallback, so
// stopping the agent stops browsing instead of unfiltering it. Only
// loopback and plain host names go direct (the tray, local printers'
// pages).
//
// Linux steps each have their own file and take a root directory, so
// tests run them on temp dirs: GNOME (dconf defaults and locks), KDE
// (kioslaverc), /etc/environment (command-line tools), Firefox and
// Chromium/Chrome policies. Apply and Remove are idempotent and keep
// everything in a file that is not GreenGate's. Windows and macOS are
// command lines (WindowsCommands, MacCommands), run by the installer.
//
// Nothing here keeps state; all functions are safe for concurrent use on
// different roots.
package sysproxy

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/greengate/greengate/rules/hostname"
)

// PACPath is where the agent serves the PAC script.
const PACPath = "/proxy.pac"

// closedProxy is what a PAC names when it was given no usable address: a
// port nothing listens on, so browsing fails instead of going direct.
const closedProxy = "127.0.0.1:9"

// PAC returns the PAC script for a proxy at proxyAddr ("127.0.0.1:8899").
// An address that is not host:port with a valid host gives a script that
// sends everything to a closed port (fail-closed), never one that goes
// direct or carries the bad text into JavaScript.
func PAC(proxyAddr string) string {
	addr, ok := cleanAddr(proxyAddr)
	if !ok {
		addr = closedProxy
	}
	return `// GreenGate proxy auto-config. Everything goes through the filter;
// there is no DIRECT fallback on purpose: if the filter is down, browsing
// stops instead of going unfiltered.
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || host === "localhost" || shExpMatch(host, "127.*") ||
      host === "::1" || host === "[::1]") {
    return "DIRECT";
  }
  return "PROXY ` + addr + `";
}
`
}

// PACFor is PAC for a proxy listening on listenAddr, as seen by a client
// that fetched the PAC from requestHost (the request's Host header). A
// proxy listening on all addresses (LAN mode) is named by the address the
// client used, which is the one it can reach.
func PACFor(listenAddr, requestHost string) string {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return PAC("")
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		h := requestHost
		if hh, _, err := net.SplitHostPort(requestHost); err == nil {
			h = hh
		}
		host = strings.Trim(h, "[]")
	}
	return PAC(net.JoinHostPort(host, port))
}

// cleanAddr accepts host:port already in canonical form (normal host name
// or canonical IP, port 1-65535 without leading zeros) and returns it.
func cleanAddr(a string) (string, bool) {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		c := netip.AddrPortFrom(ip, uint16(n)).String()
		if ip.Zone() != "" || c != a {
			return "", false // one spelling only, as for host names
		}
		return c, true
	}
	h, err := hostname.Normalize(host)
	if err != nil || h != host {
		return "", false
	}
	return net.JoinHostPort(h, port), true
}

// PACURL is the URL browsers fetch the PAC from, for a proxy at proxyAddr
// (the agent serves it on the proxy's own port). An unusable address
// gives the closed port's URL.
func PACURL(proxyAddr string) string {
	addr, ok := cleanAddr(proxyAddr)
	if !ok {
		addr = closedProxy
	}
	return "http://" + addr + PACPath
}

// checkURL refuses a PAC URL that could break out of the files it is
// written into (quotes, newlines, brackets of INI groups).
func checkURL(u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("PAC URL %q: want http:// or https://", u)
	}
	if strings.ContainsAny(u, "\"'\\\n\r\t []{}$`;") {
		return fmt.Errorf("PAC URL %q: characters not allowed", u)
	}
	return nil
}

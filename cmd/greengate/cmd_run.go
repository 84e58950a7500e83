package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/greengate/greengate/agent"
	"github.com/greengate/greengate/agent/localca"
	"github.com/greengate/greengate/agent/proxy"
)

// runLists collects repeated --list CATEGORY=FILE flags for run.
type runLists []agent.ListSpec

func (l *runLists) String() string { return fmt.Sprint(*l) }

func (l *runLists) Set(v string) error {
	cat, path, ok := strings.Cut(v, "=")
	if !ok || cat == "" || path == "" {
		return fmt.Errorf("want CATEGORY=FILE, got %q", v)
	}
	*l = append(*l, agent.ListSpec{Category: cat, Path: path})
	return nil
}

// parsePorts reads "443,8443": decimal ports 1-65535, no duplicates.
func parsePorts(s string) ([]uint16, error) {
	var out []uint16
	seen := map[uint16]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 || f[0] == '+' {
			return nil, fmt.Errorf("reading port list %q: bad port %q", s, f)
		}
		if !seen[uint16(n)] {
			seen[uint16(n)] = true
			out = append(out, uint16(n))
		}
	}
	return out, nil
}

// parseNets reads "192.168.1.0/24,10.0.0.0/8".
func parseNets(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("reading networks %q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// defaultDataDir is where the block log lives: the system state directory
// for the service (root), the user's state directory otherwise.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/greengate"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "greengate")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "greengate")
	}
	return filepath.Join(os.TempDir(), "greengate-state")
}

func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var lists runLists
	listen := fs.String("listen", proxy.DefaultListen, "proxy address")
	dataDir := fs.String("data-dir", defaultDataDir(), "state directory (block log)")
	ports := fs.String("connect-ports", "443", "ports HTTPS CONNECT may reach, comma-separated (port 80 tunnels carry ws:// WebSockets without it)")
	lan := fs.String("lan", "", "LAN mode: client networks allowed besides loopback, comma-separated CIDRs")
	reach := fs.String("lan-reachable", "", "LAN mode: private networks (an intranet) clients may reach through the proxy, comma-separated CIDRs")
	transp := fs.String("transparent", "", "also serve nft-redirected connections on this address (Linux; see greengate transparent enable), e.g. :3129")
	verbose := fs.Bool("v", false, "log every decision-level detail (debug)")
	blockPages := fs.Bool("https-block-pages", false, "show the block page for blocked HTTPS with this machine's local CA (made in DATA-DIR/ca on first use; trust it with greengate ca install)")
	fs.Var(&lists, "list", "block a list: CATEGORY=FILE (repeatable; any list format)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: greengate run [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	cports, err := parsePorts(*ports)
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate run: %v\n", err)
		return 2
	}
	var allowed []netip.Prefix
	if *lan != "" {
		nets, err := parseNets(*lan)
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate run: %v\n", err)
			return 2
		}
		allowed = append([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, nets...)
	}
	var reachable []netip.Prefix
	if *reach != "" {
		if reachable, err = parseNets(*reach); err != nil {
			fmt.Fprintf(e.stderr, "greengate run: %v\n", err)
			return 2
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	if host, _, err := net.SplitHostPort(*listen); err == nil && *lan != "" {
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
			log.Warn("LAN mode with a loopback listen address: LAN clients cannot connect; use --listen 0.0.0.0:8899")
		}
	}
	var ca proxy.BlockPageCA
	if *blockPages {
		c, err := localca.Open(localca.Config{Dir: caDir(*dataDir)})
		if err != nil {
			fmt.Fprintf(e.stderr, "greengate run: %v\n", err)
			return 2
		}
		log.Info("HTTPS block pages on: blocked HTTPS sites are answered with the block page; allowed HTTPS is never decrypted",
			"ca", c.Subject(), "fingerprint", c.Fingerprint()[:16])
		ca = c
	}
	a, err := agent.New(ctx, agent.Config{
		CA:             ca,
		Listen:         *listen,
		DataDir:        *dataDir,
		Lists:          lists,
		ConnectPorts:   cports,
		AllowedClients: allowed,
		LANReachable:   reachable,
		Logger:         log,
		Transparent:    *transp,
		Ready: func(addr net.Addr) {
			fmt.Fprintf(e.stdout, "greengate: listening on http://%s\n", addr)
		},
	})
	if err != nil {
		fmt.Fprintf(e.stderr, "greengate run: %v\n", err)
		return 2
	}
	if err := a.Run(ctx); err != nil {
		fmt.Fprintf(e.stderr, "greengate run: %v\n", err)
		return 2
	}
	return 0
}

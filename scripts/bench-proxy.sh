#!/usr/bin/env bash
# Measures GreenGate's proxy against going direct, on loopback:
#   - wrk, 1 KiB responses, at 1, 16 and 128 connections: req/s, p50, p99
#   - the agent's RSS (ps) after loading a 1M-domain --list, and after load
#   - ready time: process start to "listening on" with the 1M-domain list
#   - CONNECT tunnel throughput for a large HTTPS body (curl), vs direct
# Needs wrk and curl (apt-get install wrk curl). Numbers depend on the
# machine and on whatever else runs on it; compare runs on one machine.
# DURATION (default 5s) is each wrk run; DOMAINS (default 1000000) the list.
#
# PEERS=1 installs the peers from Debian (as root, services not started)
# and runs each on its own port against the same origin, list and wrk runs.
#
# Last runs (go1.26.8, 2 cores; wrk, origin and proxy share them), req/s
# at 1 | 16 | 128 connections, ranges over 5 runs (peers: 3) of one session:
#   direct                   12.3k-15.8k | 62.5k-67.1k | 68.8k-72.3k
#   GreenGate (1M)            4.9k-5.9k  | 22.9k-26.3k | 26.8k-32.2k  0.37-0.45x direct
#   nginx (no filtering)      6.4k-6.8k  | 30.2k-36.0k | 33.1k-45.4k  0.46-0.64x direct
#   haproxy (no filtering)    6.2k       | 33.6k       | 36.6k        0.51-0.54x direct (1 run)
#   squid (919k ACL)          3.2k-3.3k  | 12.3k-12.9k | 13.0k-14.4k  (squid refuses subdomains of entries)
#   squid+squidGuard (1M)     2.2k-2.6k  |  8.6k-9.6k  |  9.9k-10.5k
#   e2guardian (1M)           2.3k-2.6k  |  5.2k-6.2k  |  5.4k-6.8k   (site list; phrase filtering off)
#   privoxy (10k entries)     1.7k-2.4k  |  5.2k-5.5k  |  5.4k-5.5k
#   tinyproxy (10k regexes)   0.1k-0.2k  |  0.5k-0.7k  |  0.3k-0.7k
# GreenGate is 2.4-3.1x squid+squidGuard, the best filter the issue names,
# in the same runs, and 1.8-2.2x squid with a plain ACL; 0.64-0.87x nginx
# and 0.68-0.88x HAProxy, which decide nothing. The common GET is served on
# the proxy's own lane (agent/proxy/lane.go); before it, 0.31-0.41x direct.
# perf with the lane: 63 % of the agent's time in the kernel, most of it
# loopback TCP writes (the writer runs the receiver's stack); the rest
# parsing (net/http's), the scheduler and sysmon. 0.6x direct is where
# the C proxies are with nothing to decide.
# Added p50 at 16 conns: +0.34 to +0.43 ms (a closed loop at saturation:
# it follows req/s). Ready with the list: GreenGate 0.56-0.66 s, e2guardian
# 0.9 s, squid 6.5-6.9 s, squid+squidGuard 4.1-4.3 s. RSS after wrk:
# GreenGate 51-53 MiB, of which 23.3-24.4 MiB per million domains (the
# agent on the embedded rules alone, same load: 27-28 MiB); squid 93,
# squid+squidGuard 87-89, e2guardian 58, tinyproxy 88 (its forks), privoxy
# 8, nginx 16-17, haproxy 16 MiB. CONNECT, 256 MiB over TLS, median of 3
# interleaved runs: 87-139 % of direct, 95 % or more in 4 of 5 (TLS on
# both ends dominates; the agent splices).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
DOMAINS=${DOMAINS:-1000000}
BIG_MB=${BIG_MB:-256}
PROXY=127.0.0.1:18899
HTTP=127.0.0.1:18080
HTTPS=127.0.0.1:18443

for t in wrk curl; do
	command -v $t >/dev/null || { echo "bench-proxy: needs $t (apt-get install $t)" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
# stop_peer ends a process: TERM, then KILL after 3 s (e2guardian ignores
# TERM for minutes).
stop_peer() {
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true # no "Killed" notice from bash
}
cleanup() {
	for p in "${pids[@]}"; do stop_peer "$p"; done
	pkill -9 -f -- "-c $work/" 2>/dev/null || true # peers' own children
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -trimpath -o "$work/" ./cmd/greengate ./bench/proxy/origin ./bench/proxy/genlist
"$work/genlist" -n "$DOMAINS" >"$work/bench.txt"
echo "list: $DOMAINS domains, $(du -h "$work/bench.txt" | cut -f1)"

"$work/origin" -http $HTTP -https $HTTPS >/dev/null &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://$HTTP/1k" >/dev/null && break; sleep 0.05; done

t0=$(date +%s.%N)
"$work/greengate" run --listen $PROXY --data-dir "$work/state" --connect-ports 443,${HTTPS##*:} \
	--list "bench=$work/bench.txt" >"$work/agent.out" 2>"$work/agent.err" &
agent=$!
pids+=($agent)
until grep -q "listening on" "$work/agent.out" 2>/dev/null; do
	kill -0 $agent 2>/dev/null || { cat "$work/agent.err" >&2; exit 1; }
	sleep 0.01
done
t1=$(date +%s.%N)
ready=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
rss_ready=$(ps -o rss= -p $agent | tr -d ' ')

# A blocked name from the list must be blocked: the list is really loaded.
blocked=$(sed -n 2p "$work/bench.txt")
code=$(curl -s -o /dev/null -w '%{http_code}' -x http://$PROXY "http://$blocked/")
[ "$code" = 403 ] || { echo "bench-proxy: $blocked not blocked ($code)" >&2; exit 1; }

# wrk has no proxy support; an absolute-form path sent to the proxy is the
# request a browser sends to a proxy.
cat >"$work/proxy.lua" <<EOF
wrk.path = "http://$HTTP/1k"
EOF

run_wrk() { # label conns url [script]
	local threads=2
	[ "$2" -eq 1 ] && threads=1
	local out
	out=$(wrk -t$threads -c"$2" -d"$DURATION" --latency ${4:+-s "$4"} "$3" 2>&1)
	local rps p50 p99 errs
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
	printf "%-7s %5s conns  %10s req/s  p50 %8s  p99 %8s  %s\n" "$1" "$2" "$rps" "$p50" "$p99" "$errs"
	last_rps=$rps
	last_p50=$(awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/ && $1 !~ /ms$/) v *= 1000; print v }' <<<"$p50") # ms
}

echo
echo "wrk, 1 KiB responses, $DURATION each (2 shared cores: wrk, origin and agent compete)"
ratios="" added=""
for c in 1 16 128; do
	run_wrk direct $c "http://$HTTP/1k"
	d=$last_rps dl=$last_p50
	run_wrk proxy $c "http://$PROXY/" "$work/proxy.lua"
	ratios+=$(awk -v c=$c -v d="$d" -v p="$last_rps" 'BEGIN { printf "  %d conns %.2fx", c, p / d }')
	added+=$(awk -v c=$c -v d="$dl" -v p="$last_p50" 'BEGIN { printf "  %d conns %+.2f ms", c, p - d }')
done
echo "proxy/direct req/s:$ratios"
echo "proxy-direct p50:  $added"
rss_load=$(ps -o rss= -p $agent | tr -d ' ')

echo
echo "CONNECT tunnel, ${BIG_MB} MiB HTTPS body (curl, TLS on both ends, no SNI: IP URL), 3 runs each, interleaved"
ds=() ps=()
for _ in 1 2 3; do
	ds+=("$(curl -sk -o /dev/null -w '%{speed_download}' "https://$HTTPS/big?mb=$BIG_MB")")
	ps+=("$(curl -sk -o /dev/null -w '%{speed_download}' -x http://$PROXY "https://$HTTPS/big?mb=$BIG_MB")")
done
mid() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
d=$(mid "${ds[@]}") p=$(mid "${ps[@]}")
awk -v d="$d" -v p="$p" 'BEGIN {
	printf "direct  %8.0f MB/s (median)\nproxy   %8.0f MB/s (median)  %.0f%% of direct\n", d / 1e6, p / 1e6, 100 * p / d }'
echo "each run, B/s: direct ${ds[*]}; proxy ${ps[*]}"
rss_end=$(ps -o rss= -p $agent | tr -d ' ')

echo
echo "agent with $DOMAINS domains: ready in ${ready}s; RSS $((rss_ready / 1024)) MiB at ready, $((rss_load / 1024)) MiB after wrk, $((rss_end / 1024)) MiB after the tunnel"

# The same agent and the same wrk runs with the embedded rules only: what
# the list itself costs is the difference.
"$work/greengate" run --listen 127.0.0.1:18898 --data-dir "$work/state0" >"$work/agent0.out" 2>&1 &
agent0=$!
pids+=($agent0)
until grep -q "listening on" "$work/agent0.out" 2>/dev/null; do sleep 0.01; done
rss0_ready=$(ps -o rss= -p $agent0 | tr -d ' ')
for c in 1 16 128; do wrk -t$((c > 1 ? 2 : 1)) -c$c -d"$DURATION" -s "$work/proxy.lua" http://127.0.0.1:18898/ >/dev/null; done
rss0_load=$(ps -o rss= -p $agent0 | tr -d ' ')
kill $agent0 2>/dev/null || true
echo "agent with the embedded rules only: RSS $((rss0_ready / 1024)) MiB at ready, $((rss0_load / 1024)) MiB after wrk"
awk -v a="$rss_ready" -v b="$rss0_ready" -v c="$rss_load" -v d="$rss0_load" -v n="$DOMAINS" 'BEGIN {
	printf "RSS per million domains: %.1f MiB at ready, %.1f MiB after wrk\n", (a - b) / 1024 / (n / 1e6), (c - d) / 1024 / (n / 1e6) }'

[ "${PEERS:-0}" = 1 ] || { echo; echo "peers: run with PEERS=1 (installs tinyproxy, privoxy, squid, squidguard, e2guardian and, as references, nginx and haproxy, as root)"; exit 0; }
kill $agent 2>/dev/null || true

# The peers from Debian's packages. policy-rc.d keeps their postinst from
# starting them as services on this machine: each runs below, by hand, on
# its own port, and stops with the script.
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
	missing=()
	for pkg in tinyproxy privoxy squid squidguard e2guardian nginx-light haproxy; do
		dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing ${missing[*]} (services not started)"
		had_policy=0
		[ -e /usr/sbin/policy-rc.d ] && had_policy=1
		[ $had_policy = 1 ] || printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			echo "bench-proxy: could not install some peers; measuring those that are there" >&2
		[ $had_policy = 1 ] || rm -f /usr/sbin/policy-rc.d
	fi
fi

# Peers on the same origin and the same wrk runs. Squid, squidGuard and
# e2guardian get the same 1M domains. tinyproxy (a regex per entry) and
# privoxy (a pattern per entry) try their patterns one by one (privoxy
# took 0.2-0.5 s a request with 1M where the issue was measured): they get
# the list's first PEER_SMALL (10000) entries, as their users would have to.
PEER_SMALL=${PEER_SMALL:-10000}
chmod 755 "$work"
peer_bench() { # name port start-command...
	local name=$1 port=$2
	shift 2
	local t0 t1 pid
	t0=$(date +%s.%N)
	"$@" >"$work/$name.out" 2>&1 &
	pid=$!
	pids+=($pid)
	for _ in $(seq 600); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$port" "http://$HTTP/1k")" = 200 ] && break
		kill -0 $pid 2>/dev/null || { echo "$name died:"; tail -5 "$work/$name.out"; return; }
		sleep 0.1
	done
	t1=$(date +%s.%N)
	echo
	echo "$name: ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')s"
	case "$name" in squid* | e2guardian | tinyproxy* | privoxy*)
		# e2guardian answers its block page with 200: say whether it blocked.
		local page
		page=$(curl -s -w '\n%{http_code}' -x "http://127.0.0.1:$port" "http://$blocked/")
		echo "$name: listed $blocked answered $(tail -1 <<<"$page")$(grep -q 'Access Denied' <<<"$page" && echo ' (its block page)')" ;;
	esac
	for c in 1 16 128; do
		if [ -n "${PEER_REVERSE:-}" ]; then
			# A reverse proxy: asked for the origin's path itself.
			run_wrk "$name" $c "http://127.0.0.1:$port/1k"
		else
			run_wrk "$name" $c "http://127.0.0.1:$port/" "$work/proxy.lua"
		fi
	done
	# Its processes: the one started, its children, and any matching
	# PEER_PROCS (e2guardian's workers are not children of the one started).
	local rss=0 p
	for p in $( (pgrep -P $pid; echo $pid; [ -z "${PEER_PROCS:-}" ] || pgrep -f -- "$PEER_PROCS") | sort -u); do
		rss=$((rss + $(ps -o rss= -p "$p" 2>/dev/null || echo 0)))
	done
	echo "$name: RSS $((rss / 1024)) MiB (with children) after wrk"
	stop_peer $pid
	sleep 1
}

if command -v tinyproxy >/dev/null; then
	cat >"$work/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 18901
Listen 127.0.0.1
Timeout 60
MaxClients 512
LogLevel Critical
DisableViaHeader Yes
Filter "$work/tinyproxy.filter"
FilterExtended On
FilterURLs Off
EOF
	grep -v '^#' "$work/bench.txt" | awk -v n="$PEER_SMALL" 'NR <= n' | sed 's/\./\\./g; s/^/(^|\\.)/; s/$/$/' >"$work/tinyproxy.filter"
	peer_bench "tinyproxy-$PEER_SMALL" 18901 tinyproxy -d -c "$work/tinyproxy.conf"
fi
if command -v privoxy >/dev/null; then
	cat >"$work/privoxy.conf" <<EOF
confdir /etc/privoxy
actionsfile $work/privoxy.action
listen-address 127.0.0.1:18902
max-client-connections 512
keep-alive-timeout 5
EOF
	{ echo '{+block{GreenGate bench list}}'; grep -v '^#' "$work/bench.txt" | awk -v n="$PEER_SMALL" 'NR <= n' | sed 's/^/./'; } >"$work/privoxy.action"
	peer_bench "privoxy-$PEER_SMALL" 18902 privoxy --no-daemon "$work/privoxy.conf"
fi
if command -v squid >/dev/null; then
	# Squid refuses a dstdomain list where one entry is a subdomain of
	# another; drop those (the parent covers them) and say how many are left.
	awk '/^[^#]/ { d[$1] = 1 } END { for (x in d) { s = x; keep = 1
		while ((i = index(s, ".")) > 0) { s = substr(s, i + 1); if (s in d) { keep = 0; break } }
		if (keep) print "." x } }' "$work/bench.txt" >"$work/squid.list"
	echo
	echo "squid: $(wc -l <"$work/squid.list") entries after removing subdomains of other entries"
	touch "$work/squid-cache.log" && chown proxy "$work/squid-cache.log" "$work"
	cat >"$work/squid.conf" <<EOF
http_port 127.0.0.1:18903
acl bench dstdomain "$work/squid.list"
http_access deny bench
http_access allow localhost
http_access deny all
cache deny all
cache_mem 8 MB
access_log none
cache_log $work/squid-cache.log
pid_filename $work/squid.pid
coredump_dir $work
cache_effective_user proxy
shutdown_lifetime 1 seconds
via off
forwarded_for delete
EOF
	peer_bench squid 18903 squid -N -f "$work/squid.conf"
fi
if command -v squid >/dev/null && command -v squidGuard >/dev/null; then
	# squid + squidGuard, the classic pair: the same 1M domains in
	# squidGuard's Berkeley DB (built first, counted in its ready time).
	mkdir -p "$work/sg/db/bench" "$work/sg/log"
	grep -v '^#' "$work/bench.txt" >"$work/sg/db/bench/domains"
	cat >"$work/sg/sg.conf" <<EOF
dbhome $work/sg/db
logdir $work/sg/log
dest bench {
	domainlist bench/domains
}
acl {
	default {
		pass !bench all
		redirect 302:http://127.0.0.1/blocked
	}
}
EOF
	sed -e "s|^acl bench dstdomain.*|url_rewrite_program /usr/bin/squidGuard -c $work/sg/sg.conf|" \
		-e "s|^http_access deny bench|url_rewrite_children 8 startup=4 idle=2 concurrency=0|" \
		-e "s|18903|18904|" -e "s|squid.pid|squidsg.pid|" "$work/squid.conf" >"$work/squidsg.conf"
	cat >"$work/sgstart.sh" <<EOF
#!/bin/sh
squidGuard -c $work/sg/sg.conf -C all && chown -R proxy $work/sg && exec squid -N -f $work/squidsg.conf
EOF
	peer_bench squid+squidGuard 18904 sh "$work/sgstart.sh"
fi
if command -v e2guardian >/dev/null; then
	# e2guardian 5 on its own (no parent proxy), the same 1M domains as its
	# banned site list, logging blocks only, as GreenGate does. Its
	# page-content phrase filtering is off: GreenGate does not read pages,
	# so this compares the same work.
	cp -r /etc/e2guardian "$work/e2g"
	sed -i "s|/etc/e2guardian|$work/e2g|g" "$work/e2g/e2guardian.conf" "$work/e2g/e2guardianf1.conf"
	sed -i -e "s|^loglevel = .*|loglevel = 1|" -e "s|^filterip =.*|filterip = 127.0.0.1|" \
		-e "s|^filterports = .*|filterports = 18905|" -e "s|^nodaemon = .*|nodaemon = on|" \
		-e "s|^weightedphrasemode = .*|weightedphrasemode = 0|" \
		-e "s|^#pidfilename = .*|pidfilename = '$work/e2g.pid'|" \
		-e "s|^#loglocation = .*|loglocation = '$work/e2g-access.log'|" "$work/e2g/e2guardian.conf"
	grep -v '^#' "$work/bench.txt" >"$work/e2g/lists/bannedsitelist"
	chmod -R a+rX "$work/e2g" && chmod 777 "$work"
	# -N: its "nodaemon = on" still forks to the background.
	PEER_PROCS="e2guardian -N -c $work/e2g/" peer_bench e2guardian 18905 e2guardian -N -c "$work/e2g/e2guardian.conf"
fi
if command -v nginx >/dev/null; then
	# Not a filter: nginx forwarding to the same origin over kept-alive
	# connections, a worker per core, no list, no log: what the best
	# C proxy does here with nothing to decide, one more process on the
	# same 2 cores doing a server's and a client's socket work for every
	# request. (One worker: 0.47-0.49x direct.)
	mkdir -p "$work/nginx"
	cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	upstream origin { server $HTTP; keepalive 128; }
	server {
		listen 127.0.0.1:18906;
		location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
	}
}
EOF
	peer_bench "nginx (reference, no filtering)" 18906 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx"
fi
if command -v haproxy >/dev/null; then
	# The other reference: HAProxy, the fastest C proxy there is, passing
	# requests to the same origin with kept-alive connections shared
	# between clients. One thread (two did no better here). It is a
	# reverse proxy (it answers an absolute URL whose host is not the
	# Host field with 400), so wrk asks it for /1k.
	cat >"$work/haproxy.cfg" <<EOF
global
	nbthread 1
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	option http-keep-alive
frontend f
	bind 127.0.0.1:18907
	default_backend b
backend b
	http-reuse always
	server o $HTTP
EOF
	PEER_REVERSE=1 peer_bench "haproxy (reference, no filtering)" 18907 haproxy -db -f "$work/haproxy.cfg"
fi

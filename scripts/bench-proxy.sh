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
# Last run (2 cores shared with three other engineers' builds; noisy):
#   direct   1 conn 21.0k req/s p50 38us  | proxy   1 conn  3.7k req/s p50 256us
#   direct  16 conn 33.6k req/s p50 353us | proxy  16 conn 14.0k req/s p50 0.99ms
#   direct 128 conn 33.3k req/s p50 3.4ms | proxy 128 conn  9.6k req/s p50 12.1ms
#   p99 proxy: 2.4 ms, 7.1 ms, 141 ms. CONNECT 256 MiB: direct 402 MB/s, proxy
#   295 MB/s. 1M domains: ready 0.83 s, RSS 120 MiB at ready, 85 MiB after load.
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
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
}

echo
echo "wrk, 1 KiB responses, $DURATION each (2 shared cores: wrk, origin and agent compete)"
for c in 1 16 128; do
	run_wrk direct $c "http://$HTTP/1k"
	run_wrk proxy $c "http://$PROXY/" "$work/proxy.lua"
done
rss_load=$(ps -o rss= -p $agent | tr -d ' ')

echo
echo "CONNECT tunnel, ${BIG_MB} MiB HTTPS body (curl, TLS on both ends, no SNI: IP URL)"
d=$(curl -sk -o /dev/null -w '%{speed_download}' "https://$HTTPS/big?mb=$BIG_MB")
p=$(curl -sk -o /dev/null -w '%{speed_download}' -x http://$PROXY "https://$HTTPS/big?mb=$BIG_MB")
awk -v d="$d" -v p="$p" 'BEGIN { printf "direct  %8.0f MB/s\nproxy   %8.0f MB/s\n", d / 1e6, p / 1e6 }'
rss_end=$(ps -o rss= -p $agent | tr -d ' ')

echo
echo "agent with $DOMAINS domains: ready in ${ready}s; RSS $((rss_ready / 1024)) MiB at ready, $((rss_load / 1024)) MiB after wrk, $((rss_end / 1024)) MiB after the tunnel"
echo
echo "peers (squid+squidGuard, e2guardian, privoxy, tinyproxy): not measured by this script yet"

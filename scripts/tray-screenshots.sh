#!/usr/bin/env bash
# Screenshots of every tray window, in English and Simplified Chinese, from
# the real cgo tray binary under Xvfb, talking to the real admin API.
#
#   scripts/tray-screenshots.sh [OUT_DIR]      (default /tmp/greengate-shots)
#
# The agent side is the real agent: `greengate service run` (settings,
# grants, block log, admin API) on temp settings and state dirs, its proxy
# on a free loopback port. The parent password is set through the admin API
# (`greengate settings password`, the call the tray's wizard makes), a second
# profile and two users through `greengate settings apply`, and the block
# log is filled by real blocked requests through the proxy with curl, plus
# two "ask a parent" requests to /greengate/request. So the log holds only
# what was blocked today, and the status shows the built-in rules alone (no
# bundles are configured). The wizard shots come from a second agent that
# has no password yet.
#
# Needs: xvfb, xdotool, imagemagick (import), fonts-noto-cjk for Chinese, and
# the cgo build deps of scripts/deps.sh. Takes a few minutes: each window is
# a fresh tray process, and the first frame under llvmpipe is slow.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/greengate-shots}
mkdir -p "$out"
for tool in Xvfb xdotool import; do
	command -v "$tool" >/dev/null || { echo "tray-screenshots: $tool missing (apt-get install xvfb xdotool imagemagick fonts-noto-cjk)" >&2; exit 1; }
done
fc-list :lang=zh >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ] || echo "tray-screenshots: no CJK font installed (fonts-noto-cjk); Chinese will show as boxes" >&2

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

echo "tray-screenshots: building greengate-tray (cgo)"
go build -o "$work/greengate-tray" ./cmd/greengate-tray

echo "tray-screenshots: building greengate (the agent)"
go build -o "$work/greengate" ./cmd/greengate
gg="$work/greengate"
password="parent-pass"

# free_port prints the first loopback port from $1 up that nothing listens on.
free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# start_agent NAME PORT: `greengate service run` with its own settings dir
# (default settings, proxy on 127.0.0.1:PORT), state dir and admin socket
# $work/NAME.sock. Waits for the socket.
start_agent() {
	local name=$1 port=$2
	mkdir -p "$work/$name/etc" "$work/$name/state"
	"$gg" settings default | sed "s/\"listen\": \"[^\"]*\"/\"listen\": \"127.0.0.1:$port\"/" >"$work/$name/etc/settings.json"
	grep -q "\"listen\": \"127.0.0.1:$port\"" "$work/$name/etc/settings.json" || { echo "tray-screenshots: could not set the listen address in the default settings" >&2; exit 1; }
	"$gg" service run -dir "$work/$name/etc" -state-dir "$work/$name/state" -socket "$work/$name.sock" >"$work/$name.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do "$gg" status -socket "$work/$name.sock" >/dev/null 2>&1 && return 0; sleep 0.2; done
	echo "tray-screenshots: agent $name did not come up:" >&2; cat "$work/$name.log" >&2; exit 1
}

echo "tray-screenshots: starting the real agent (greengate service run) twice: first run, and seeded"
first_port=$(free_port 18899)
start_agent first "$first_port"
port=$(free_port $((first_port + 1)))
start_agent agent "$port"
proxy="http://127.0.0.1:$port"

# The parent password, through the admin API as the tray's wizard sets it.
printf '%s\n%s\n' "$password" "$password" | "$gg" settings password -password-stdin -socket "$work/agent.sock" -dir "$work/agent/etc"
# A teen profile and two users, so the settings window has more than the default.
cat >"$work/settings.json" <<EOF
{
  "version": 1,
  "profiles": [
    {"name": "child", "block": ["adult", "gambling", "proxy", "doh"], "safe_search": true, "youtube": "strict"},
    {"name": "teen", "block": ["adult"], "safe_search": true, "youtube": "moderate",
     "allow": ["khanacademy.org", "scratch.mit.edu"],
     "hours": {"mon": ["06:00-22:00"], "sun": ["08:00-21:00"]}}
  ],
  "users": {"mia": "teen", "leo": "child"},
  "default_profile": "child",
  "listen": "127.0.0.1:$port",
  "updates": {},
  "log_retention_days": 90,
  "language": "en"
}
EOF
printf '%s\n' "$password" | "$gg" settings apply -password-stdin -socket "$work/agent.sock" "$work/settings.json"

# Blocked requests through the proxy: the agent logs each one. HTTPS ones are
# refused at CONNECT, so curl exits non-zero there; that is the block.
echo "tray-screenshots: seeding the block log with blocked requests through $proxy"
for url in http://www.pornhub.com/ http://xvideos.com/ http://bet365.com/ http://pokerstars.com/ \
	http://hide.me/ https://dns.google/ https://xhamster.com/ http://www.pornhub.com/video; do
	code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -x "$proxy" "$url" || true)
	echo "  $url -> ${code:-?}"
done
# "Ask a parent": the page the block page links to, on the proxy itself and
# on a blocked host.
curl -s -m 10 -o /dev/null -w '  ask discord.com -> %{http_code}\n' "$proxy/greengate/request?host=discord.com" || true
curl -s -m 10 -o /dev/null -w '  ask coolmathgames.com -> %{http_code}\n' -x "$proxy" "http://bet365.com/greengate/request?host=coolmathgames.com" || true
# The agent writes the block log in the background; wait until it counts them.
for _ in $(seq 50); do
	"$gg" status -socket "$work/agent.sock" | grep -q '^blocked today: [1-9]' && break
	sleep 0.2
done
"$gg" status -socket "$work/agent.sock" | sed 's/^/  /'

display=:71
Xvfb "$display" -screen 0 1100x760x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export DISPLAY=$display
sleep 2

# shot LANG WINDOW NAME [password]: one tray process, one window, one PNG.
shot() {
	local lang=$1 win=$2 name=$3 pw=${4:-}
	# A fresh HOME: no saved language preference, so the locale decides.
	local home="$work/home-$name-$lang"
	mkdir -p "$home"
	env -u DBUS_SESSION_BUS_ADDRESS HOME="$home" LANG="$lang" LC_ALL="$lang" \
		"$work/greengate-tray" -socket "$sock" -open "$win" >"$work/tray-$name.log" 2>&1 &
	local tray=$!
	xdotool search --sync --onlyvisible --name "GreenGate" >/dev/null 2>&1 || true
	sleep 6
	if [ -n "$pw" ]; then
		xdotool search --onlyvisible --name "GreenGate" windowfocus >/dev/null 2>&1 || true
		xdotool type --delay 60 "$pw"
		xdotool key Return
		sleep 5
	fi
	local tag=en; [[ $lang == zh* ]] && tag=zh
	local id
	id=$(xdotool search --onlyvisible --name "GreenGate" 2>/dev/null | tail -1)
	import -window "${id:-root}" "$out/$name-$tag.png"
	echo "$out/$name-$tag.png"
	stop "$tray"
}

# stop ends a tray process. Fyne 2.7.1 quits on SIGTERM but can then hang
# in its shutdown (the lifecycle queue waits on a main loop that has ended),
# so after a grace period it is killed.
stop() {
	kill "$1" 2>/dev/null || true
	for _ in 1 2 3 4 5 6; do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

for lang in en_US.UTF-8 zh_CN.UTF-8; do
	sock="$work/first.sock"
	shot "$lang" wizard wizard
	sock="$work/agent.sock"
	shot "$lang" status status
	shot "$lang" settings login
	shot "$lang" settings settings "$password"
	shot "$lang" blocklog blocklog "$password"
	shot "$lang" requests requests "$password"
	shot "$lang" ask ask
	shot "$lang" about about
done
echo "tray-screenshots: done; screenshots in $out"

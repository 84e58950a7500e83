#!/usr/bin/env bash
# Screenshots of every tray window, in English and Simplified Chinese, from
# the real cgo tray binary under Xvfb, talking to the real admin API.
#
#   scripts/tray-screenshots.sh [OUT_DIR]      (default /tmp/greengate-shots)
#
# The agent side: if `greengate run` serves the admin socket (it has a
# --admin-socket flag), that is used. Until it does, the script says so and
# serves agent/admin itself from a small harness in a temp module: the real
# admin.Server, settings.Store (argon2id password), Overrides and a SQLite
# blocklog seeded with a week of blocks and two children's requests. Only
# the status fields the agent alone knows (bundles, rule counts) come from
# the harness, with rule counts taken from rules/defaults/data.
#
# Needs: xvfb, xdotool, imagemagick (import), fonts-noto-cjk for Chinese, and
# the cgo build deps of scripts/deps.sh. Takes a few minutes: each window is
# a fresh tray process, and the first frame under llvmpipe is slow.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
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

sock="$work/admin.sock"
password="parent-pass"
if go run ./cmd/greengate run -h 2>&1 | grep -q -- '-admin-socket'; then
	echo "tray-screenshots: using the real agent (greengate run --admin-socket)"
	echo "tray-screenshots: note: it starts with no parent password; the wizard screenshot shows first run" >&2
	go build -o "$work/greengate" ./cmd/greengate
	"$work/greengate" run --listen 127.0.0.1:0 --data-dir "$work/data" --admin-socket "$sock" >"$work/agent.log" 2>&1 &
	pids+=($!)
	harness=no
else
	echo "tray-screenshots: greengate run does not serve the admin API yet (no --admin-socket flag);"
	echo "tray-screenshots: serving agent/admin from a harness with the real settings store and block log"
	mkdir -p "$work/harness"
	cat >"$work/harness/go.mod" <<EOF
module shots
go 1.26
require github.com/greengate/greengate v0.0.0
replace github.com/greengate/greengate => $root
EOF
	cp go.sum "$work/harness/go.sum"
	cat >"$work/harness/main.go" <<'EOF'
// Harness: the real admin API on a Unix socket, seeded for screenshots.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/greengate/greengate/agent/admin"
	"github.com/greengate/greengate/agent/admin/client"
	"github.com/greengate/greengate/agent/blocklog"
	"github.com/greengate/greengate/agent/settings"
)

func count(path string) int {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

func main() {
	sock := flag.String("socket", "", "")
	dir := flag.String("dir", "", "")
	data := flag.String("rules", "", "rules/defaults/data")
	pw := flag.String("password", "", "parent password; empty for first run")
	flag.Parse()
	ctx := context.Background()
	store, err := settings.Open(settings.Config{Dir: filepath.Join(*dir, "etc"), StateDir: filepath.Join(*dir, "state")})
	if err != nil {
		log.Fatal(err)
	}
	if *pw != "" && !store.PasswordSet() {
		if err := store.SetPassword("", *pw); err != nil {
			log.Fatal(err)
		}
		st := settings.Default()
		st.Profiles = append(st.Profiles, client.Profile{Name: "teen", Block: []string{"adult"}, SafeSearch: true, YouTube: "moderate",
			Allow: []string{"khanacademy.org", "scratch.mit.edu"}, Hours: map[string][]string{"mon": {"06:00-22:00"}, "sun": {"08:00-21:00"}}})
		st.Users = map[string]string{"mia": "teen", "leo": "child"}
		known := []string{"adult", "gambling", "proxy", "doh"}
		if err := store.Save(st, known); err != nil {
			log.Fatal(err)
		}
	}
	ov, err := store.Overrides()
	if err != nil {
		log.Fatal(err)
	}
	lg, err := blocklog.Open(ctx, blocklog.Config{Path: filepath.Join(*dir, "blocklog.db")})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	hosts := []struct{ host, cat string }{
		{"www.pornhub.com", "adult"}, {"xvideos.com", "adult"}, {"bet365.com", "gambling"},
		{"pokerstars.com", "gambling"}, {"hide.me", "proxy"}, {"dns.google", "doh"}, {"xhamster.com", "adult"},
	}
	for d := 0; d < 30; d++ {
		for i := 0; i < (d*7+3)%9+1; i++ {
			h := hosts[(d+i)%len(hosts)]
			p := []string{"child", "teen"}[i%2]
			lg.Record(blocklog.Event{Time: now.AddDate(0, 0, -d).Add(-time.Duration(i*37) * time.Minute), Profile: p, Client: "mia",
				Host: h.host, Category: h.cat, Entry: strings.TrimPrefix(h.host, "www."), Source: "greengate-default", Action: blocklog.ActionBlock})
		}
	}
	lg.Record(blocklog.Event{Time: now.Add(-20 * time.Minute), Client: "mia", Host: "discord.com", Action: blocklog.ActionRequest, Reason: "Our class group chat is on Discord"})
	lg.Record(blocklog.Event{Time: now.Add(-3 * time.Hour), Client: "leo", Host: "coolmathgames.com", Action: blocklog.ActionRequest, Reason: "for maths homework 数学作业"})
	if err := lg.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range []string{"adult", "gambling", "proxy", "doh"} {
		counts[c] = count(filepath.Join(*data, c+".txt"))
	}
	srv, err := admin.New(admin.Config{
		Store: store, Overrides: ov, Log: lg,
		Known: func() []string { return []string{"adult", "gambling", "proxy", "doh"} },
		Status: func() client.Status {
			return client.Status{Running: true, Version: "harness", ProxyAddr: "127.0.0.1:8899", RuleCounts: counts,
				Bundles: []client.BundleStatus{
					{Publisher: "greengate.example", Version: 2026112701, LastCheck: now.Add(-10 * time.Minute), LastSuccess: now.Add(-10 * time.Minute)},
					{Publisher: "school-it.example", Version: 12, LastCheck: now.Add(-10 * time.Minute), LastSuccess: now.Add(-26 * time.Hour), LastError: "fetching bundle: 503 Service Unavailable"},
				}}
		},
		UpdateNow: func(context.Context) error { return nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := admin.Listen(*sock)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready")
	log.Fatal(srv.Serve(ln))
}
EOF
	(cd "$work/harness" && GOFLAGS=-mod=mod go build -o "$work/harness-bin" .)
	harness=yes
fi

start_agent() { # $1: password ("" = first run), $2: state dir
	[ "$harness" = yes ] || return 0
	rm -f "$sock"
	"$work/harness-bin" -socket "$sock" -dir "$2" -rules "$root/rules/defaults/data" -password "$1" >"$work/agent.log" 2>&1 &
	agent_pid=$!
	pids+=($agent_pid)
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.2; done
	echo "tray-screenshots: agent did not come up:" >&2; cat "$work/agent.log" >&2; exit 1
}
stop_agent() {
	[ "$harness" = yes ] || return 0
	kill "$agent_pid" 2>/dev/null || true
	wait "$agent_pid" 2>/dev/null || true
}

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
	start_agent "" "$work/first-$lang"
	shot "$lang" wizard wizard
	stop_agent
	start_agent "$password" "$work/state-$lang"
	shot "$lang" status status
	shot "$lang" settings login
	shot "$lang" settings settings "$password"
	shot "$lang" blocklog blocklog "$password"
	shot "$lang" requests requests "$password"
	shot "$lang" ask ask
	shot "$lang" about about
	stop_agent
done
echo "tray-screenshots: done; screenshots in $out"

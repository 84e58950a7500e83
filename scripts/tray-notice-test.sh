#!/usr/bin/env bash
# Checks the tray's notice for a blocked HTTPS site for real: the real
# agent (`greengate service run` on temp dirs), the real cgo tray under
# Xvfb on a private D-Bus session bus, and curl as the browser. A CONNECT
# to a listed site is refused with 403, which a browser shows as a bare
# connection error; within a few seconds the tray must call
# org.freedesktop.Notifications.Notify naming the site, in the language of
# the session. dbus-monitor sees the call; no notification daemon is needed
# (with none, the call is answered with an error, as on a desktop without
# one). Also checks that a plain-HTTP block, which has its block page,
# gives no notification.
#
# Needs: xvfb, dbus (dbus-run-session, dbus-monitor), curl, and the cgo
# build deps of scripts/deps.sh. About 30 s. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in Xvfb dbus-run-session dbus-monitor curl; do
	command -v "$tool" >/dev/null || { echo "tray-notice-test: $tool missing (apt-get install xvfb dbus dbus-bin curl)" >&2; exit 2; }
done
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/" ./cmd/greengate ./cmd/greengate-tray
gg="$work/greengate"
port=18931
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
mkdir -p "$work/etc" "$work/state"
"$gg" settings default | sed "s/\"listen\": \"[^\"]*\"/\"listen\": \"127.0.0.1:$port\"/" >"$work/etc/settings.json"
"$gg" service run -dir "$work/etc" -state-dir "$work/state" -socket "$work/admin.sock" >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$gg" status -socket "$work/admin.sock" >/dev/null 2>&1 && break; sleep 0.2; done
printf 'parent-pass\nparent-pass\n' | "$gg" settings password -password-stdin -socket "$work/admin.sock" -dir "$work/etc" >/dev/null

display=:73
Xvfb "$display" -screen 0 800x600x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
sleep 1

pass=0 fail=0
check() { if "${@:2}"; then pass=$((pass + 1)); echo "PASS $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi; }

# notice LANG: one tray in a fresh session bus and HOME; block an HTTPS and
# an HTTP site; leave the Notify calls the tray made in $work/notify-LANG.
notice() {
	local lang=$1
	mkdir -p "$work/home-$lang"
	DISPLAY=$display HOME="$work/home-$lang" LANG=$lang LC_ALL=$lang \
		dbus-run-session -- bash -c '
			dbus-monitor --session "type=method_call,interface=org.freedesktop.Notifications,member=Notify" >"$0/notify-'"$lang"'" 2>&1 &
			"$0/greengate-tray" -socket "$0/admin.sock" >"$0/tray-'"$lang"'.log" 2>&1 &
			sleep 4 # the tray is up and has asked once: what follows is news
			curl -s -o /dev/null -w "  $2: https://pornhub.com/ -> CONNECT %{http_connect}\n" -x "http://127.0.0.1:$1" https://pornhub.com/ || true
			curl -s -o /dev/null -w "  $2: http://bet365.com/ -> %{http_code}\n" -x "http://127.0.0.1:$1" http://bet365.com/ || true
			for _ in $(seq 40); do grep -q pornhub.com "$0/notify-'"$lang"'" && break; sleep 0.25; done
			sleep 4 # room for a wrong second notification
			kill %1 %2 2>/dev/null || true
		' "$work" "$port" "$lang"
}

notice en_US.UTF-8
check "en: the tray notified the blocked HTTPS site" grep -q 'GreenGate blocked pornhub.com' "$work/notify-en_US.UTF-8"
check "en: naming its category and where to ask" grep -q 'Adult content (pornhub.com).*Ask a parent' "$work/notify-en_US.UTF-8"
check "en: no notice for the plain-HTTP block (it has its page)" sh -c "! grep -q bet365 '$work/notify-en_US.UTF-8'"
check "en: one notification, not one per retry" sh -c "[ \$(grep -c 'GreenGate blocked' '$work/notify-en_US.UTF-8') -eq 1 ]"
notice zh_CN.UTF-8
check "zh: the notice is in Chinese" grep -q 'GreenGate 已拦截 pornhub.com' "$work/notify-zh_CN.UTF-8"
echo "the Notify call (en):"
grep -A12 'member=Notify' "$work/notify-en_US.UTF-8" | grep 'string "' | sed 's/^ */  /' | head -6
echo "tray-notice-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

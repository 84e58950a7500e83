#!/usr/bin/env bash
# Installs the built .deb on this machine, checks the service runs, filters
# and resists a non-root user, then purges it. Root only; it changes the
# machine (init script, /etc/greengate, port 8899, and through postinst's
# proxy-on the browsers' and desktop's proxy settings) for about 30 s and
# restores it. Not part of `make test`: run `make package-test`.
#
# Uses whatever service system is there (System V when systemd is not
# PID 1, as on the CI machine).
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "dpkg-test: skipped: needs root"; exit 0; }
command -v dpkg >/dev/null || { echo "dpkg-test: skipped: no dpkg"; exit 0; }
if dpkg -s greengate >/dev/null 2>&1; then echo "dpkg-test: skipped: greengate is installed here already"; exit 0; fi
deb=$(ls -t dist/greengate_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "dpkg-test: no package; run make package" >&2; exit 2; }
pass=0 fail=0
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then pass=$((pass + 1)); echo "PASS $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi; }
child() { su nobody -s /bin/sh -c "$1" </dev/null; }
trap 'dpkg --purge greengate >/dev/null 2>&1' EXIT
check "dpkg -i" dpkg -i "$deb"
for _ in $(seq 50); do greengate status >/dev/null 2>&1 && break; sleep 0.1; done
check "service runs" greengate service status
check "agent answers" greengate status
check "postinst pointed browsers at the filter (proxy-on)" grep -q pac_script /etc/chromium/policies/managed/greengate.json
check "blocked site gets the block page" sh -c '[ "$(curl -s -o /dev/null -w %{http_code} -x http://127.0.0.1:8899 http://pornhub.com/)" = 403 ]'
check "parent password set" sh -c 'printf "parent-pass-1\nparent-pass-1\n" | greengate settings password --password-stdin'
check "child cannot stop the service" sh -c '! su nobody -s /bin/sh -c "echo parent-pass-1 | greengate service stop --password-stdin"'
check "child cannot read the settings" sh -c '! su nobody -s /bin/sh -c "cat /etc/greengate/settings.json"'
check "child cannot kill the agent" sh -c '! su nobody -s /bin/sh -c "kill \$(cat /var/run/greengate.pid 2>/dev/null || pgrep -o -f \"greengate service run\")"'
check "still running" greengate status
check "wrong password refused" sh -c '! (echo nope-nope | greengate service stop --password-stdin)'
check "parent stops it" sh -c 'echo parent-pass-1 | greengate service stop --password-stdin'
check "dpkg --purge" dpkg --purge greengate
check "nothing left" sh -c '! ls /etc/init.d/greengate /etc/rc2.d/S50greengate /etc/greengate /var/lib/greengate /etc/chromium/policies/managed/greengate.json 2>/dev/null | grep -q . && ! grep -q GreenGate /etc/environment'
trap - EXIT
echo "dpkg-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

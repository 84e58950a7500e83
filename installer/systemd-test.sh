#!/usr/bin/env bash
# Installs the built .deb under a REAL systemd (PID 1) in a throw-away
# systemd-nspawn container and checks the service there: enabled and
# active, filters, resists a non-root user, is restarted by systemd after
# a SIGKILL, stops for the parent, and goes away with dpkg -r / --purge.
# Root only. Not part of `make test`: run `make package-test-systemd`.
#
# "Installed means protected", for real: after `dpkg -i` and no other
# step, a headless Chromium run by the ordinary user "child" (no proxy
# flag: it must pick up the managed policy the package wrote) gets the
# block page for a blocked plain-HTTP site and a refused tunnel for a
# blocked HTTPS one, while an allowed site loads. The sites are local
# origins inside the container (python3 servers on 127.0.0.2 and
# 127.0.0.3, named in the container's /etc/hosts), so nothing leaves it.
# /etc is listed with checksums before the install and after the purge,
# and the two must match. When dist/ has greengate-tray's .deb too, it is
# installed (its dependencies come with the root filesystem) and run as
# the child in Xvfb before any password is set: its first-run wizard must
# open (screenshot in $OUT).
#
# The container is a minimal Debian (systemd, dbus, curl, procps,
# util-linux, passwd, chromium, python3, and the tray's X server, GL, X11
# and CJK font packages) made once with mmdebstrap or
# debootstrap from the mirror in apt's sources (mmdebstrap adds its
# -security suite, where Debian updates chromium) and cached as a
# tarball in $CACHE (about 1.5 GB); each run
# extracts it to a temp dir, boots it with --private-network (its own
# loopback only: nothing it does can leave) and deletes it afterwards.
# If no root filesystem can be made, it falls back to booting the host's
# own read-only /usr (--volatile=yes); dpkg cannot install there, so the
# binary is bind-mounted and `greengate service install` writes the unit.
#
# Needs systemd-container (systemd-nspawn) and, for the preferred path,
# mmdebstrap or debootstrap. Host state is not changed: the host's
# service manager is not touched and /run/systemd/system is never made.
#
#   CACHE=/var/cache/greengate-test  MIRROR=http://deb.debian.org/debian
#   SUITE=bookworm  BOOTSTRAP=mmdebstrap|debootstrap (default: the first found)
#   GREENGATE_SYSTEMD_FALLBACK=1 (force the /usr fallback)
#   VERBOSE=1 (show the output of passing checks too)
#   OUT=/tmp/greengate-systemd-test (where the tray's screenshot goes)
set -uo pipefail
cd "$(dirname "$0")/.."
start_time=$(date +%s)
[ "$(id -u)" -eq 0 ] || { echo "systemd-test: skipped: needs root"; exit 0; }
command -v systemd-nspawn >/dev/null || { echo "systemd-test: skipped: no systemd-nspawn (apt-get install systemd-container)"; exit 0; }
command -v nsenter >/dev/null || { echo "systemd-test: skipped: no nsenter (util-linux)"; exit 0; }

deb=$(ls -t dist/greengate_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	echo "systemd-test: no package; building it (installer/package.sh)"
	./installer/package.sh >/dev/null || { echo "systemd-test: make package failed" >&2; exit 2; }
	deb=$(ls -t dist/greengate_*.deb | head -1)
fi

CACHE=${CACHE:-/var/cache/greengate-test}
OUT=${OUT:-/tmp/greengate-systemd-test} # the tray's screenshot
mkdir -p "$OUT"
# chromium and python3 for the browsing checks; the X server, GL and
# X11 libraries and the CJK font for greengate-tray's.
PKGS=systemd,systemd-sysv,dbus,curl,procps,util-linux,passwd,chromium,python3,xvfb,x11-utils,libgl1,libgl1-mesa-dri,libx11-6,libxcursor1,libxrandr2,libxinerama1,libxi6,libxxf86vm1,fonts-noto-cjk
SUITE=${SUITE:-$( . /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-bookworm}")}
# The Debian mirror apt uses here (deb822 "URIs:" or one-line "deb"),
# not the security archive.
MIRROR=${MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' ')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR%/debian*}/debian-security}
tarball=$CACHE/rootfs-$SUITE-$(echo "$PKGS" | md5sum | cut -c1-8).tar

work=$(mktemp -d "${TMPDIR:-/var/tmp}/greengate-systemd.XXXXXX")
machine=gg-sd-$$
nspawn_pid= cpid= mode=
# Host paths nspawn may create; removed at the end only if new.
had_run_systemd_system=0 had_nspawn=0 had_nspawn_root=0
[ -e /run/systemd/system ] && had_run_systemd_system=1
[ -e /run/systemd/nspawn ] && had_nspawn=1
[ -e /run/systemd/nspawn-root ] && had_nspawn_root=1

cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill -TERM "$nspawn_pid" 2>/dev/null # nspawn halts the container
		for _ in $(seq 150); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$nspawn_pid" 2>/dev/null
		wait "$nspawn_pid" 2>/dev/null
	fi
	# A container whose nspawn died: killing its PID 1 ends all of it.
	if [[ $cpid =~ ^[0-9]+$ ]] && [ "$cpid" -gt 1 ] && kill -0 "$cpid" 2>/dev/null; then
		kill -KILL "$cpid" 2>/dev/null
		sleep 0.5
	fi
	# What nspawn leaves on the host for this machine (it removes most
	# itself on a clean halt): its propagation dir and the image lock.
	[ -d "$work/root" ] && rm -f "/run/systemd/nspawn/locks/inode-$(stat -c %d:%i "$work/root")"
	rm -rf /run/systemd/nspawn/propagate/"$machine" /run/systemd/nspawn/unix-export/"$machine" \
		/run/systemd/nspawn/locks/*"$machine"* 2>/dev/null
	[ "$had_nspawn" = 1 ] || rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/unix-export \
		/run/systemd/nspawn/locks /run/systemd/nspawn 2>/dev/null
	[ "$had_nspawn_root" = 1 ] || rmdir /run/systemd/nspawn-root 2>/dev/null
	[ "$had_run_systemd_system" = 1 ] || rmdir /run/systemd/system 2>/dev/null
	rm_tree "$work"
	rm -rf "$CACHE"/.tmp-$$-*
}
# rm_tree removes a directory tree, first unmounting anything left mounted
# under it (debootstrap mounts /proc and /sys in its target), and never
# crossing into another file system.
rm_tree() {
	[ -d "$1" ] || return 0
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$1/" | sort -r); do umount -l "$m" 2>/dev/null; done
	rm -rf --one-file-system "$1"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap 'exit 141' PIPE # `| head`: still halt the container and clean up

# make_rootfs builds the cached tarball. It returns non-zero (and says
# why in $work/rootfs.log) when no tool or no mirror works.
make_rootfs() {
	mkdir -p "$CACHE" || return 1
	local tmp=$CACHE/.tmp-$$-$(basename "$tarball")
	local tool=${BOOTSTRAP:-$(command -v mmdebstrap >/dev/null && echo mmdebstrap || echo debootstrap)}
	if [ "$tool" = mmdebstrap ] && command -v mmdebstrap >/dev/null; then
		echo "systemd-test: building $tarball with mmdebstrap from $MIRROR (once; ~3-10 min)"
		mmdebstrap --variant=minbase --format=tar --include="$PKGS" "$SUITE" "$tmp" \
			"deb $MIRROR $SUITE main" "deb $SECURITY_MIRROR $SUITE-security main" >"$work/rootfs.log" 2>&1 ||
			{ rm -rf "$tmp"; return 1; }
	elif [ "$tool" = debootstrap ] && command -v debootstrap >/dev/null; then
		echo "systemd-test: building $tarball with debootstrap from $MIRROR (once; ~2-4 min)"
		mkdir -p "$work/bootstrap"
		debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$work/bootstrap" "$MIRROR" >"$work/rootfs.log" 2>&1 &&
			rm -rf "$work"/bootstrap/var/cache/apt/archives/*.deb "$work"/bootstrap/var/lib/apt/lists/* &&
			tar -C "$work/bootstrap" -cf "$tmp" . ||
			{ rm -f "$tmp"; rm_tree "$work/bootstrap"; return 1; }
		rm_tree "$work/bootstrap"
	else
		echo "E: no $tool (apt-get install mmdebstrap, or debootstrap)" >"$work/rootfs.log"
		return 1
	fi
	mv "$tmp" "$tarball"
}

mkdir -p "$work/root"
if [ "${GREENGATE_SYSTEMD_FALLBACK:-0}" != 1 ] && { [ -s "$tarball" ] || make_rootfs; }; then
	mode=rootfs
	tar -C "$work/root" -xf "$tarball" || { echo "systemd-test: extracting $tarball failed" >&2; exit 2; }
	cp "$deb" "$work/root/root/greengate.deb"
	tray=$(ls -t dist/greengate-tray_*.deb 2>/dev/null | head -1)
	[ -z "$tray" ] || cp "$tray" "$work/root/root/greengate-tray.deb"
	# The host's /etc/machine-id is not copied; an empty one makes systemd
	# generate a transient id without the first-boot machinery.
	: >"$work/root/etc/machine-id"
	nspawn_args=(-D "$work/root")
	echo "systemd-test: Debian $SUITE root filesystem from $tarball; package $deb"
else
	mode=host-usr
	if [ "${GREENGATE_SYSTEMD_FALLBACK:-0}" = 1 ]; then
		why="GREENGATE_SYSTEMD_FALLBACK=1"
	else
		why=$({ grep -E '^E:' "$work/rootfs.log" || tail -2 "$work/rootfs.log"; } 2>/dev/null | head -3 | tr '\n' ' ')
	fi
	echo "systemd-test: no Debian root filesystem ($why); falling back to the host's /usr (--volatile=yes)"
	mkdir -p "$work/bin"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/greengate >"$work/bin/greengate" && chmod 0755 "$work/bin/greengate" ||
		{ echo "systemd-test: cannot take the binary out of $deb" >&2; exit 2; }
	cp installer/settings.json "$work/bin/settings.json"
	nspawn_args=(-D / --volatile=yes --bind-ro="$work/bin:/opt/greengate")
fi

systemd-nspawn "${nspawn_args[@]}" --private-network --register=no --keep-unit \
	--console=passive -M "$machine" -b systemd.firstboot=off >"$work/boot.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1: the first descendant of nspawn called systemd.
find_pid1() {
	local queue=("$nspawn_pid") p c
	while [ ${#queue[@]} -gt 0 ]; do
		p=${queue[0]} queue=("${queue[@]:1}")
		for c in $(pgrep -P "$p"); do
			[ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && { echo "$c"; return 0; }
			queue+=("$c")
		done
	done
	return 1
}
for _ in $(seq 100); do cpid=$(find_pid1) && break; kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
if [ -z "$cpid" ]; then
	echo "systemd-test: the container did not boot:" >&2
	tail -20 "$work/boot.log" >&2
	exit 2
fi

# ct runs a command inside the container, as root, with a clean
# environment (nothing of the host's leaks in).
ct() { nsenter -t "$cpid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/greengate HOME=/root LANG=C.UTF-8 "$@"; }
# child runs a shell command as the non-root user "child": su (PAM) in
# the Debian container; setpriv with the host's /usr, whose empty
# volatile /etc has no /etc/pam.d.
child() {
	if [ "$mode" = rootfs ]; then
		ct su child -s /bin/sh -c "$1" </dev/null
	else
		ct setpriv --reuid="$(ct id -u child)" --regid="$(ct id -g child)" --init-groups --reset-env sh -c "$1" </dev/null
	fi
}

state=
for _ in $(seq 600); do
	state=$(ct systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.1
done
boot_s=$(($(date +%s) - start_time))
echo "systemd-test: container $machine booted, ${boot_s} s after the script started; systemd says: ${state:-nothing}"

pass=0 fail=0
# check NAME CODE runs the bash CODE in a subshell; PASS when it succeeds.
check() {
	local name=$1 out t=$(date +%s%N)
	out=$( (eval "$2") 2>&1 </dev/null)
	local rc=$? ms=$((($(date +%s%N) - t) / 1000000))
	[ "$ms" -lt 2000 ] || name="$name ($((ms / 1000)) s)"
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS $name"
		[ -z "${VERBOSE:-}" ] || [ -z "$out" ] || printf '%s\n' "$out" | tail -8 | sed 's/^/    /'
	else
		fail=$((fail + 1)); echo "FAIL $name"; printf '%s\n' "$out" | tail -8 | sed 's/^/    /'
	fi
}
main_pid() { ct systemctl show -p MainPID --value greengate.service 2>/dev/null; }
active() { ct systemctl is-active greengate 2>/dev/null; }
agent_answers() { for _ in $(seq 100); do ct greengate status >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

check "systemd is PID 1 in the container" '[ "$(ct cat /proc/1/comm)" = systemd ]'
check "system running (or degraded)" 'case $state in running | degraded) ;; *) exit 1 ;; esac'

unit=/lib/systemd/system/greengate.service gg=greengate
# within: CODE succeeds in under 30 s.
within() { local t=$SECONDS; eval "$1" || return; [ $((SECONDS - t)) -lt 30 ] || { echo "took $((SECONDS - t)) s"; return 1; }; }
# etc_listing prints every path under the container's /etc with its type,
# mode, owner and link target, then the checksum of every file.
etc_listing() {
	ct sh -c 'find /etc -xdev -printf "%y %m %u:%g %p %l\n" | sort; find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum'
}
# browse URL [FLAG...]: headless Chromium as the child, with no proxy flag
# (the managed policy or the environment the package wrote must send it
# through the filter), in a new empty profile; prints the page's DOM.
browse() {
	local url=$1; shift
	child "d=\$(mktemp -d) && timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync --user-data-dir=\$d $* --dump-dom '$url' 2>/dev/null; rm -rf \$d"
}
# The origins: "blocked" sites (names in the default adult list) on
# 127.0.0.2 and an allowed one (kids.example) on 127.0.0.3, each on port
# 80 and on 443 with a self-signed certificate, each page saying which
# origin it is. Transient units of the container's systemd: they write
# nothing under /etc and go with the container.
#
# Chromium's HSTS preload list turns http:// into https:// for some of the
# best-known names (pornhub.com is one), which would hide the plain-HTTP
# block page; the test uses the first candidate that Chromium loads over
# plain HTTP from its origin before the install.
CANDIDATES="pornhub.org xvideos2.com tube8.com motherless.com 91porn.com pornhub.com"
start_origins() {
	local srv=$work/root/srv/gg
	mkdir -p "$srv"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=greengate-test \
		-addext "subjectAltName=DNS:kids.example$(for c in $CANDIDATES; do printf ',DNS:%s,DNS:www.%s' "$c" "$c"; done)" \
		-keyout "$srv/key.pem" -out "$srv/cert.pem" 2>/dev/null || return 1
	cat >"$srv/serve.py" <<'PY'
import http.server, ssl, sys, threading
addr, name = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ("<html><body><p>GG-ORIGIN-%s</p></body></html>" % name).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
plain = http.server.ThreadingHTTPServer((addr, 80), H)
tls = http.server.ThreadingHTTPServer((addr, 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/srv/gg/cert.pem", "/srv/gg/key.pem")
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
plain.serve_forever()
PY
	ct sh -c "{ echo 127.0.0.3 kids.example; for c in $CANDIDATES; do echo 127.0.0.2 \$c www.\$c; done; } >>/etc/hosts" &&
		ct systemd-run -q --unit=gg-origin-blocked python3 /srv/gg/serve.py 127.0.0.2 BLOCKED-SITE &&
		ct systemd-run -q --unit=gg-origin-allowed python3 /srv/gg/serve.py 127.0.0.3 ALLOWED-SITE || return 1
	for _ in $(seq 50); do
		ct curl -s --noproxy '*' http://kids.example/ | grep -q GG-ORIGIN-ALLOWED-SITE &&
			ct curl -s --noproxy '*' http://www.pornhub.org/ | grep -q GG-ORIGIN-BLOCKED-SITE && return 0
		sleep 0.2
	done
	return 1
}

# tray_first_start runs the tray as the child in a virtual X server (no
# D-Bus session: it shows its windows instead of a tray icon), waits for the
# first-run wizard's window, and keeps a screenshot (Xvfb's frame buffer) in
# the container's /tmp/tray-screen.xwd.
tray_first_start() {
	# Through the container: nspawn mounts its own /tmp.
	ct sh -c 'cat >/tmp/tray-run.sh && chmod 0755 /tmp/tray-run.sh' <<'SH'
#!/bin/sh
mkdir -p /tmp/fb-child
Xvfb :5 -screen 0 800x640x24 -fbdir /tmp/fb-child -nolisten tcp >/tmp/xvfb.log 2>&1 &
x=$!
sleep 2
DISPLAY=:5 LANG=C.UTF-8 greengate-tray >/tmp/tray.log 2>&1 &
t=$!
ok=1 i=0
while [ $i -lt 90 ]; do
	DISPLAY=:5 xwininfo -root -tree 2>/dev/null | grep -qi welcome && { ok=0; break; }
	i=$((i + 1)); sleep 1
done
[ $ok = 0 ] && sleep 10 # the first frame under llvmpipe is slow
cp /tmp/fb-child/Xvfb_screen0 /tmp/tray-screen.xwd
DISPLAY=:5 xwininfo -root -tree | grep -o '"[^"]*GreenGate[^"]*"\|"[^"]*Welcome[^"]*"' | sort -u
kill $t $x
exit $ok
SH
	child /tmp/tray-run.sh
	local rc=$?
	ct cat /tmp/tray-screen.xwd >"$work/tray-screen.xwd" 2>/dev/null
	return $rc
}
check "useradd child" 'ct useradd -m -s /bin/sh child'
check "child is a real non-root user (su works)" '[ "$(child "id -un"):$(child "id -u")" = "child:$(ct id -u child)" ] && [ "$(ct id -u child)" != 0 ]'
if [ "$mode" = rootfs ]; then
	# A machine whose network is not up: networkd's wait-online (enabled
	# on many systemd machines) times out after 120 s with no link, and a
	# unit that wants network-online.target waits for it.
	ct systemctl enable -q systemd-networkd.service systemd-networkd-wait-online.service
	check "local origins serve (adult-list names -> 127.0.0.2, kids.example -> 127.0.0.3; HTTP and HTTPS)" 'start_origins'
	blocked=
	for c in $CANDIDATES; do
		browse "http://www.$c/" | grep -q GG-ORIGIN-BLOCKED-SITE && { blocked=www.$c; break; }
		echo "     (Chromium does not load http://www.$c/ over plain HTTP: HSTS preload; next)"
	done
	check "Chromium before the install: a blocked-to-be site loads from its origin (${blocked:-none}: nothing filters yet)" '[ -n "$blocked" ]'
	etc_listing >"$work/etc-before"
	check "dpkg -i (no network: must not wait for it)" 'within "ct dpkg -i /root/greengate.deb >\"\$work/dpkg-i.out\" 2>&1"; rc=$?; cat "$work/dpkg-i.out"; exit $rc'
	check "postinst turned filtering on by itself (proxy-on)" 'grep "greengate:" "$work/dpkg-i.out"; grep -q "filtering is on" "$work/dpkg-i.out"'
else
	# /usr is the host's, read-only: install the way a non-package user would.
	ct mkdir -p /etc/greengate
	ct install -m 0600 /opt/greengate/settings.json /etc/greengate/settings.json
	check "greengate service install (no dpkg: read-only /usr)" 'ct greengate service install --exe /opt/greengate/greengate'
	check "greengate service start (no network: must not wait for it)" 'within "ct greengate service start"'
	unit=/etc/systemd/system/greengate.service
	gg=/opt/greengate/greengate
fi
agent_answers
check "systemctl is-active: active" '[ "$(active)" = active ]'
check "systemctl is-enabled: enabled" '[ "$(ct systemctl is-enabled greengate)" = enabled ]'
check "unit file in place and the one loaded ($unit)" 'ct test -f $unit && [ "$(ct systemctl show -p FragmentPath --value greengate)" = $unit ]'
check "unit is hardened (ProtectSystem=strict, NoNewPrivileges, UMask 0077)" '[ "$(ct systemctl show -p ProtectSystem --value greengate)" = strict ] && [ "$(ct systemctl show -p NoNewPrivileges --value greengate)" = yes ] && [ "$(ct systemctl show -p UMask --value greengate)" = 0077 ]'
check "service status says running under linux-systemd" 'o=$(ct greengate service status); echo "$o"; grep -qx "service: running (linux-systemd)" <<<"$o"'
check "agent answers (greengate status)" 'ct greengate status'
check "admin socket reachable by users, state dir root-only" '[ "$(ct stat -c %a /run/greengate)" = 755 ] && [ "$(ct stat -c %a /var/lib/greengate)" = 700 ]'
check "blocked site gets the block page (403)" '[ "$(ct curl -s -o /dev/null -w "%{http_code}" -x http://127.0.0.1:8899 http://pornhub.com/)" = 403 ]'
check "journal has the agent's log" 'ct journalctl -u greengate --no-pager -q | grep -q .'
if [ "$mode" = rootfs ]; then
	check "postinst pointed browsers at the filter (Chromium policy, /etc/environment)" 'ct grep -q pac_script /etc/chromium/policies/managed/greengate.json && ct grep -q "^http_proxy=http://127.0.0.1:8899" /etc/environment'
	check "the marker names the real command" 'ct grep -qF "\`greengate service proxy-off\` undoes this" /etc/environment'
	check "Chromium (child, no proxy flag): allowed local site loads" 'o=$(browse http://kids.example/); grep -q GG-ORIGIN-ALLOWED-SITE <<<"$o" || { echo "$o" | head -5; exit 1; }'
	check "the default rules block $blocked" 'ct greengate check "$blocked"; [ $? = 1 ]'
	check "Chromium (child, no proxy flag): blocked HTTP site ($blocked) gets the block page" 'o=$(browse http://$blocked/); grep -q "This page is blocked" <<<"$o" && ! grep -q GG-ORIGIN <<<"$o" || { echo "$o" | head -5; exit 1; }'
	# --ignore-certificate-errors: the self-signed origin is then
	# no obstacle, so only the filter can stop the blocked one.
	check "Chromium (child, no proxy flag): allowed HTTPS site loads" 'o=$(browse https://kids.example/ --ignore-certificate-errors); grep -q GG-ORIGIN-ALLOWED-SITE <<<"$o" || { echo "$o" | head -5; exit 1; }'
	# No --ignore-certificate-errors: the package made this machine's CA
	# and trusted it through Chromium's policy, so only a certificate from
	# it shows the page; the origin is never reached.
	check "Chromium (child, no proxy flag): blocked HTTPS site ($blocked) gets the block page over HTTPS (the package's local CA)" 'o=$(browse https://$blocked/); grep -q "This page is blocked" <<<"$o" && ! grep -q GG-ORIGIN <<<"$o" || { echo "$o" | head -5; exit 1; }'
	check "the local CA is trusted by the Chromium policy and its key is root's alone" 's=$(ct greengate ca status); echo "$s"; grep -q "chromium-policy *trusted" <<<"$s" && ! child "cat /var/lib/greengate/ca/ca.key"'
	check "the blocks are in the block log" 'n=$(ct greengate status --json | grep -o "\"blocked_today\": *[0-9]*" | grep -o "[0-9]*$"); echo "blocked_today=$n"; [ "${n:-0}" -ge 2 ]'
fi
if [ "$mode" = rootfs ] && [ -n "${tray:-}" ]; then
	check "dpkg -i greengate-tray (its dependencies: GL, X11, a CJK font)" 'ct dpkg -i /root/greengate-tray.deb'
	check "tray starts with every session (/etc/xdg/autostart), is in the menus, has its icon" 'ct test -f /etc/xdg/autostart/greengate-tray.desktop && ct test -f /usr/share/applications/greengate-tray.desktop && ct test -f /usr/share/icons/hicolor/scalable/apps/greengate.svg'
	check "tray carries the agent's version stamp" 'v=$(ct greengate version | cut -d" " -f2); echo "$v"; [ -n "$v" ] && [ "$v" != dev ] && ct grep -qaF "$v" /usr/bin/greengate-tray'
	check "tray, child's session, no password yet: opens the first-run wizard" 'tray_first_start'
	[ -s "$work/tray-screen.xwd" ] && command -v convert >/dev/null &&
		convert "xwd:$work/tray-screen.xwd" "$OUT/tray-first-start.png" 2>/dev/null &&
		echo "     (screenshot: $OUT/tray-first-start.png)"
fi
check "child cannot set the first parent password" '! o=$(child "printf \"child-pass-1\nchild-pass-1\n\" | $gg settings password --password-stdin" 2>&1) && echo "$o"'
# If it could, the child's password is the current one now.
ct test -s /etc/greengate/password && child_set=1 || child_set=0
check "parent password set (root)" 'if [ $child_set = 1 ]; then printf "child-pass-1\nparent-pass-1\nparent-pass-1\n"; else printf "parent-pass-1\nparent-pass-1\n"; fi | ct greengate settings password --password-stdin'
check "child's browsing is filtered too (403)" '[ "$(child "curl -s -o /dev/null -w %{http_code} -x http://127.0.0.1:8899 http://pornhub.com/")" = 403 ]'
check "child cannot stop it with greengate (even with the password)" '! o=$(child "echo parent-pass-1 | $gg service stop --password-stdin" 2>&1) && echo "$o" && grep -q "refused" <<<"$o"'
check "child cannot systemctl stop it (no polkit auth)" '! o=$(child "systemctl stop greengate" 2>&1) && echo "$o" && grep -Eqi "access denied|authentication required" <<<"$o"'
check "child cannot read the settings" '! o=$(child "cat /etc/greengate/settings.json" 2>&1) && echo "$o" && grep -qi "permission denied" <<<"$o"'
check "child cannot read the block log (state dir)" '! o=$(child "ls /var/lib/greengate" 2>&1) && echo "$o" && grep -qi "permission denied" <<<"$o"'
check "child cannot read the agent's journal" '! child "journalctl -u greengate -q --no-pager 2>/dev/null" | grep -q .'
check "child cannot proxy-off" '! o=$(child "echo parent-pass-1 | $gg service proxy-off --password-stdin" 2>&1) && echo "$o" && grep -q "refused" <<<"$o"'
pid=$(main_pid)
# Never kill 0 or 1 (kill 0 run through nsenter hits this script's own
# process group on the host).
[[ $pid =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || pid=
check "child cannot kill the agent" '[ -n "$pid" ] && ! o=$(child "kill -9 $pid" 2>&1) && echo "$o" && grep -qi "not permitted" <<<"$o"'
check "still active, same MainPID" '[ -n "$pid" ] && [ "$(active)" = active ] && [ "$(main_pid)" = "$pid" ]'
check "SIGKILL the agent as root" '[ -n "$pid" ] && ct kill -KILL "$pid"'
t0=$(date +%s%N)
check "systemd restarts it (new MainPID within 12 s)" '
	for _ in $(seq 120); do
		p=$(main_pid)
		[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid" ] && [ "$(active)" = active ] && exit 0
		sleep 0.1
	done
	ct systemctl status greengate --no-pager; exit 1'
echo "     (new MainPID $(main_pid) after $(( ($(date +%s%N) - t0) / 1000000 )) ms; RestartSec=5)"
check "restarted agent answers" 'agent_answers'
check "wrong password refused" '! (echo nope-nope | ct greengate service stop --password-stdin)'
check "parent stops it (root + password)" 'echo parent-pass-1 | ct greengate service stop --password-stdin'
check "stopped: inactive, not failed" '[ "$(active)" = inactive ]'
check "stays stopped (no restart after a clean stop, 6 s)" 'sleep 6; [ "$(active)" = inactive ]'
check "root starts it again" 'ct greengate service start && agent_answers'
if [ "$mode" = rootfs ]; then
	# An upgrade in place (the same package again): prerm upgrade stops
	# the agent, postinst restarts it and turns filtering on again.
	check "dpkg -i again (upgrade in place): running, browsers still pointed, blocked" 'ct dpkg -i /root/greengate.deb >/dev/null 2>&1 && agent_answers && [ "$(active)" = active ] &&
		ct grep -q pac_script /etc/chromium/policies/managed/greengate.json &&
		[ "$(ct curl -s -o /dev/null -w "%{http_code}" -x http://127.0.0.1:8899 http://$blocked/)" = 403 ]'
	[ -z "${tray:-}" ] || check "dpkg --purge greengate-tray" 'ct dpkg --purge greengate-tray'
	check "dpkg -r" 'ct dpkg -r greengate'
	check "no agent left running" '! ct pgrep -f "greengate service run"'
	check "unit disabled and gone" '! ct systemctl is-enabled greengate && ! ct test -e /etc/systemd/system/multi-user.target.wants/greengate.service && ! ct test -e $unit'
	check "settings kept for a reinstall" 'ct test -e /etc/greengate/settings.json'
	check "browsers no longer pointed at the filter (policy and /etc/environment block gone)" '! ct test -e /etc/chromium/policies/managed/greengate.json && ! ct grep -q GreenGate /etc/environment'
	check "Chromium after dpkg -r: browsing works, unfiltered (the PAC is not left behind)" 'o=$(browse http://$blocked/); grep -q GG-ORIGIN-BLOCKED-SITE <<<"$o" || { echo "$o" | head -5; exit 1; }'
	check "dpkg --purge" 'ct dpkg --purge greengate'
	check "/etc/greengate and /var/lib/greengate gone" '! ct ls -d /etc/greengate /var/lib/greengate'
	etc_listing >"$work/etc-after"
	check "/etc after the purge is /etc before the install (listing + checksums)" 'diff "$work/etc-before" "$work/etc-after"'
else
	check "greengate service uninstall" 'echo parent-pass-1 | ct greengate service uninstall --password-stdin'
	check "no agent left running" '! ct pgrep -f "greengate service run"'
	check "unit disabled and gone" '! ct systemctl is-enabled greengate && ! ct test -e $unit'
fi
cleanup
nspawn_pid=
check "host: no /run/systemd/system made" '[ $had_run_systemd_system = 1 ] || ! [ -e /run/systemd/system ]'
check "host: container, temp dir and nspawn's /run dirs gone" '! [ -e "$work" ] && ! [ -e /run/systemd/nspawn/propagate/$machine ] &&
	{ [ $had_nspawn = 1 ] || ! [ -e /run/systemd/nspawn ]; } && { [ $had_nspawn_root = 1 ] || ! [ -e /run/systemd/nspawn-root ]; }'
check "host: no container process left" '! kill -0 $cpid 2>/dev/null'
trap - EXIT
echo "systemd-test ($mode): $pass passed, $fail failed in $(($(date +%s) - start_time)) s"
[ "$fail" -eq 0 ]

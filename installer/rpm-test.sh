#!/usr/bin/env bash
# Checks the built .rpm with the rpm tool (Debian: apt-get install rpm):
# what rpm -qpi/-qplv/--scripts/-qpc report, then a real `rpm -i` into
# scratch roots. Does not change this machine: everything goes under a
# temporary directory, removed at the end. Not part of `make test`: run
# `make package-rpm-test`.
#
#  1. queries: binary 0755, unit in /usr/lib/systemd/system, settings.json a
#     %config(noreplace) file 0600, the three scriptlets are installer/rpm/'s.
#  2. rpm -i --root --nodeps --noscripts into an empty root: the files land
#     with those modes, rpm -V agrees, rpm -e removes them. --noscripts
#     because an empty root has no /bin/sh to run scriptlets with.
#  3. (root, static busybox) the scriptlets for real: rpm -i, -U, -e into a
#     chroot that has busybox as /bin/sh and stub systemctl/service commands
#     that log their arguments, once as a running systemd, once System V
#     (real `greengate service install`), once an image build (systemctl but
#     no systemd running, no /etc/init.d). The upgrade is a reinstall
#     (rpm -U --replacepkgs), which rpm counts as one: %post $1=2, then the
#     old %preun/%postun $1=1. Nothing is started: the stubs only log.
#
# KEEP=1 keeps the temporary directory (printed) for a look afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v rpm >/dev/null || { echo "rpm-test: skipped: no rpm (apt-get install rpm)"; exit 0; }
rpmf=$(ls -t dist/greengate-[0-9]*.rpm 2>/dev/null | head -1) # not greengate-tray-*
[ -n "$rpmf" ] || { echo "rpm-test: no package; run make package" >&2; exit 2; }
T=$(mktemp -d /tmp/rpm-test.XXXXXX)
trap '[ -n "${KEEP:-}" ] && echo "rpm-test: kept $T" || rm -rf "$T"' EXIT
pass=0 fail=0 skip=0
check() { local name=$1; shift; if "$@" >"$T/check.out" 2>&1; then pass=$((pass + 1)); echo "PASS $name"; else fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/    /' "$T/check.out"; fi; }
skipped() { skip=$((skip + 1)); echo "SKIP $1"; }
# Debian's rpm warns on every install ("use Alien instead"); drop that.
rpmq() { rpm "$@" 2> >(grep -v -e 'use Alien instead' -e 'assuming you know what you are doing' >&2); }

echo "== $rpmf ($(stat -c %s "$rpmf") bytes)"
rpm -qpi "$rpmf"
echo "== rpm -qplv"
rpm -qplv "$rpmf" | tee "$T/files"
echo "== rpm -qp --scripts"
rpm -qp --scripts "$rpmf" | tee "$T/scripts"
echo "== rpm -qpc"
rpm -qpc "$rpmf" | tee "$T/config"
echo "=="

# $1 mode, $2 path: a line of rpm -qplv.
has() { awk -v m="$1" -v p="$2" '$1 == m && $NF == p { ok = 1 } END { exit !ok }' "$T/files"; }
check "digests" rpm -K --nosignature "$rpmf"
check "arch is rpm's name" sh -c '[ "$(rpm -qp --qf %{ARCH} "$1")" = "$2" ]' _ "$rpmf" "$(case $(go env GOARCH 2>/dev/null || echo amd64) in amd64) echo x86_64 ;; arm64) echo aarch64 ;; *) go env GOARCH ;; esac)"
check "/usr/bin/greengate 0755" has -rwxr-xr-x /usr/bin/greengate
check "unit in /usr/lib/systemd/system, 0644" has -rw-r--r-- /usr/lib/systemd/system/greengate.service
check "no unit in /lib/systemd (the .deb's path)" sh -c '! grep -q " /lib/systemd" "$1"' _ "$T/files"
check "settings.json 0600" has -rw------- /etc/greengate/settings.json
check "settings.json is a config file" grep -qx /etc/greengate/settings.json "$T/config"
check "settings.json is %config(noreplace)" sh -c 'rpm -qp --qf "[%{FILEFLAGS:fflags} %{FILENAMES}\n]" "$1" | grep -qx "cn /etc/greengate/settings.json"' _ "$rpmf"
check "only settings.json is config" sh -c '[ "$(wc -l <"$1")" -eq 1 ]' _ "$T/config"
check "/etc/greengate owned 0755, /var/lib/greengate owned 0700" sh -c 'grep -q "^drwxr-xr-x .* /etc/greengate$" "$1" && grep -q "^drwx------ .* /var/lib/greengate$" "$1"' _ "$T/files"
check "man page greengate(8), gzipped" has -rw-r--r-- /usr/share/man/man8/greengate.8.gz
check "copyright as %license" sh -c 'rpm -qp --qf "[%{FILEFLAGS:fflags} %{FILENAMES}\n]" "$1" | grep -qx "l /usr/share/licenses/greengate/copyright"' _ "$rpmf"
check "License: Apache-2.0" sh -c '[ "$(rpm -qp --qf %{LICENSE} "$1")" = Apache-2.0 ]' _ "$rpmf"
check "unit is hardened (ProtectSystem=strict, NoNewPrivileges)" sh -c 'grep -qx ProtectSystem=strict installer/greengate.service && grep -qx NoNewPrivileges=yes installer/greengate.service'
for s in POSTIN:postinstall PREUN:preremove POSTUN:postremove; do
	check "%${s%%:*} is installer/rpm/${s#*:}" sh -c 'rpm -qp --qf "%{$1}" "$2" | cmp -s - "$3"' _ "${s%%:*}" "$rpmf" "installer/rpm/${s#*:}"
done
check "no %pre (none written)" sh -c '! grep -q "^preinstall scriptlet" "$1"' _ "$T/scripts"

# 2. A real install into an empty root.
if [ "$(id -u)" -ne 0 ]; then
	skipped "rpm -i into a scratch root: needs root"
else
	R=$T/root
	mkdir -p "$R"
	check "rpm --initdb (scratch root)" rpm --root "$R" --initdb
	check "rpm -i --nodeps --noscripts (scratch root)" rpmq -i --root "$R" --nodeps --noscripts "$rpmf"
	check "landed: /usr/bin/greengate 755" sh -c '[ "$(stat -c %a "$1/usr/bin/greengate")" = 755 ]' _ "$R"
	check "landed: the binary runs (settings default = the conffile)" sh -c '"$1/usr/bin/greengate" settings default | cmp -s - installer/settings.json' _ "$R"
	check "landed: unit 644, same as installer/greengate.service" sh -c '[ "$(stat -c %a "$1/usr/lib/systemd/system/greengate.service")" = 644 ] && cmp -s "$1/usr/lib/systemd/system/greengate.service" installer/greengate.service' _ "$R"
	check "landed: settings.json 600 root, same as installer/settings.json" sh -c '[ "$(stat -c %a:%U "$1/etc/greengate/settings.json")" = 600:root ] && cmp -s "$1/etc/greengate/settings.json" installer/settings.json' _ "$R"
	check "landed: /var/lib/greengate" test -d "$R/var/lib/greengate"
	check "rpm -V (digests, modes, owners)" rpm --root "$R" -V greengate
	check "rpm -qc (installed)" sh -c '[ "$(rpm --root "$1" -qc greengate)" = /etc/greengate/settings.json ]' _ "$R"
	check "rpm -e --noscripts" rpmq -e --root "$R" --noscripts greengate
	check "rpm -e removed the files" sh -c '! ls "$1/usr/bin/greengate" "$1/etc/greengate" "$1/usr/lib/systemd/system/greengate.service" "$1/var/lib/greengate" 2>/dev/null | grep -q .' _ "$R"
fi

# 3. The scriptlets under rpm, in a chroot with busybox as /bin/sh.
bb=$(command -v busybox || true)
if [ "$(id -u)" -ne 0 ]; then
	skipped "scriptlets in a chroot: needs root"
elif [ -z "$bb" ] || ldd "$bb" >/dev/null 2>&1; then
	skipped "scriptlets in a chroot: needs a static busybox (apt-get install busybox-static)"
elif ! command -v unshare >/dev/null; then
	skipped "scriptlets in a chroot: needs unshare (util-linux)"
else
	# $1 root, then what it has: systemd (running: /run/systemd/system and a
	# systemctl), systemctl (installed, not running), initd (/etc/init.d and
	# a service command).
	mkroot() {
		local r=$1; shift
		mkdir -p "$r"/bin "$r"/usr/bin "$r"/usr/sbin "$r"/var/tmp "$r"/var/log "$r"/tmp "$r"/etc "$r"/dev "$r"/proc
		mknod -m 666 "$r/dev/null" c 1 3
		cp "$bb" "$r/bin/busybox"
		chroot "$r" /bin/busybox --install -s /bin
		for what; do
			case $what in
			systemd) mkdir -p "$r/run/systemd/system" ;&
			systemctl) printf '#!/bin/sh\necho "systemctl $*" >>/var/log/calls\n' >"$r/usr/bin/systemctl" ;;
			initd)
				mkdir -p "$r/etc/init.d" "$r"/etc/rc0.d "$r"/etc/rc1.d "$r"/etc/rc2.d "$r"/etc/rc3.d "$r"/etc/rc4.d "$r"/etc/rc5.d "$r"/etc/rc6.d
				printf '#!/bin/sh\necho "service $*" >>/var/log/calls\n' >"$r/usr/sbin/service"
				;;
			esac
		done
		chmod 755 "$r"/usr/bin/* "$r"/usr/sbin/* 2>/dev/null
		rpm --root "$r" --initdb
	}
	# rpm in a private mount namespace with /proc mounted in the root
	# (os.Executable, which kardianos needs, reads /proc/self/exe); the
	# mount goes with the namespace. Output kept for the checks.
	rpmin() { local r=$1; shift; : >"$r/var/log/calls"; unshare --mount --pid --fork --mount-proc="$r/proc" rpm --root "$r" --nodeps "$@" >"$T/rpm.out" 2>&1; local rc=$?; grep -v -e 'use Alien instead' -e 'assuming you know' "$T/rpm.out" | sed 's/^/    rpm: /'; return $rc; }
	calls() { [ "$(cat "$1/var/log/calls")" = "$2" ] || { echo "calls were:"; cat "$1/var/log/calls"; false; }; }
	noscriptfail() { ! grep -q 'scriptlet failed' "$T/rpm.out"; }

	echo "== scriptlets: systemd running"
	S=$T/systemd; mkroot "$S" systemd
	check "systemd: rpm -i" rpmin "$S" -i "$rpmf"
	check "systemd: %post ran cleanly" noscriptfail
	# No agent runs in the chroot (the stub starts nothing), so proxy-on
	# finds no PAC: %post must say so, not fail and not point browsers at
	# a filter that does not answer.
	check "systemd: %post tried proxy-on and warned that browsers were not pointed" grep -q "browsers were NOT pointed" "$T/rpm.out"
	check "systemd: %post(1) daemon-reload, enable, restart" calls "$S" "$(printf 'systemctl daemon-reload\nsystemctl enable greengate.service\nsystemctl restart greengate.service')"
	check "systemd: parent password set" sh -c 'printf "parent-pass-1\nparent-pass-1\n" | chroot "$1" /usr/bin/greengate settings password --password-stdin' _ "$S"
	echo '{"edited": "by the parent"}' >"$S/etc/greengate/settings.json"
	echo log >"$S/var/lib/greengate/blocked.log"
	check "systemd: rpm -U (reinstall)" rpmin "$S" -U --replacepkgs "$rpmf"
	check "systemd: upgrade: new %post(2) restarts, old %preun(1) stops nothing, old %postun(1) reloads" calls "$S" "$(printf 'systemctl daemon-reload\nsystemctl enable greengate.service\nsystemctl restart greengate.service\nsystemctl daemon-reload')"
	check "systemd: upgrade keeps the edited settings.json (noreplace)" grep -q edited "$S/etc/greengate/settings.json"
	check "systemd: rpm -e" rpmin "$S" -e greengate
	check "systemd: %preun(0) proxy-off ran without the password" grep -q 'proxy-off: browsers no longer sent' "$T/rpm.out"
	check "systemd: %preun(0) disable --now, %postun(0) reload" calls "$S" "$(printf 'systemctl disable --now greengate.service\nsystemctl daemon-reload')"
	check "systemd: erase keeps the password and /var/lib/greengate" test -e "$S/etc/greengate/password" -a -e "$S/var/lib/greengate/blocked.log"
	check "systemd: erase saves the edited settings as .rpmsave, still 600" sh -c 'grep -q edited "$1" && [ "$(stat -c %a "$1")" = 600 ] && ! [ -e "${1%.rpmsave}" ]' _ "$S/etc/greengate/settings.json.rpmsave"
	check "systemd: binary and unit gone" sh -c '! ls "$1/usr/bin/greengate" "$1/usr/lib/systemd/system/greengate.service" 2>/dev/null | grep -q .' _ "$S"

	echo "== scriptlets: System V (no systemctl)"
	V=$T/sysv; mkroot "$V" initd
	check "sysv: rpm -i" rpmin "$V" -i "$rpmf"
	check "sysv: %post ran cleanly" noscriptfail
	check "sysv: %post(1) wrote /etc/init.d/greengate (greengate service install)" test -x "$V/etc/init.d/greengate" -a -s "$V/etc/init.d/greengate"
	check "sysv: rc links" sh -c 'ls "$1"/etc/rc[0-6S].d/[SK][0-9][0-9]greengate | grep -q .' _ "$V"
	check "sysv: %post(1) service greengate start" grep -qx "service greengate start" "$V/var/log/calls"
	check "sysv: rpm -U (reinstall)" rpmin "$V" -U --replacepkgs "$rpmf"
	cp "$T/rpm.out" "$T/sysv-upgrade.out"
	check "sysv: upgrade: %post(2) starts it again, init script kept" sh -c 'grep -qx "service greengate start" "$1/var/log/calls" && test -x "$1/etc/init.d/greengate"' _ "$V"
	# kardianos's init script says "Not running" when stop finds no pid.
	check "sysv: upgrade: %post(2) ran the init script's stop first, cleanly" sh -c 'grep -q "Not running" "$1" && ! grep -q "scriptlet failed" "$1"' _ "$T/sysv-upgrade.out"
	check "sysv: rpm -e" rpmin "$V" -e greengate
	check "sysv: %preun(0) removed the init script and links" sh -c '! ls "$1/etc/init.d/greengate" "$1"/etc/rc[0-6S].d/*greengate 2>/dev/null | grep -q .' _ "$V"

	echo "== scriptlets: image build (systemctl, systemd not running, no /etc/init.d)"
	I=$T/image; mkroot "$I" systemctl
	check "image: rpm -i" rpmin "$I" -i "$rpmf"
	check "image: %post ran cleanly (no init.d is not a failure)" noscriptfail
	check "image: %post(1) enabled the unit offline, started nothing" calls "$I" "systemctl enable greengate.service"
	check "image: rpm -e" rpmin "$I" -e greengate
	check "image: %preun(0) disabled it" calls "$I" "systemctl disable greengate.service"
fi

echo "rpm-test: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

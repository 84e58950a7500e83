#!/usr/bin/env bash
# The Windows installer, for real, under Wine 8 in a throw-away
# WINEPREFIX, headless (no window is needed: everything runs with /S).
# `make windows-test`; not in `make test` (it builds the installer and
# boots a Wine prefix: ~3-4 minutes here, more on a cold Go cache).
#
#   apt-get install wine64 nsis p7zip-full gcc-mingw-w64-x86-64 osslsigncode
#
# What it proves, step by step (each prints "ok - ..."):
#   build      the installer, Authenticode-signed with a throw-away
#              self-signed code-signing certificate; osslsigncode verify
#              accepts installer, uninstaller and greengate.exe
#   refuse     a silent install without /PASSWORDFILE changes nothing
#   install    silent install with /PASSWORDFILE: the file is deleted, a
#              parent password is set, the service is registered and
#              RUNNING (sc query), the agent answers on its admin pipe
#   filter     from a Linux-side curl through the agent on 127.0.0.1:8899:
#              a blocked site gets the block page, an allowed one (a
#              Linux-side origin on loopback) is forwarded
#   registry   WinINET, IE panel lock, Edge, Chrome and Firefox policies
#              read back with `wine reg query`
#   commands   takeown, icacls and netsh command lines (recorded: Wine
#              lacks takeown and only stubs icacls and netsh)
#   upgrade    the same setup over the installed one: wrong password
#              changes nothing; right password stops, replaces, restarts
#   ca         `greengate ca install/uninstall`: the certutil line and
#              Firefox's ImportEnterpriseRoots (the installer does not
#              install the CA; Wine's certutil is a stub)
#   uninstall  without a password and with a wrong one nothing changes;
#              with it the service, the values GreenGate wrote and the
#              files go, and the proxy values that were there before it
#              (a school PAC, a WinHTTP proxy) are back
#
# What Wine cannot show, tested at the code level instead: ACLs are not
# enforced (every process runs as the one Unix user, there is no SYSTEM
# or standard-user token; the ACL strings are checked in the recorded
# command lines and agent/admin's pipe SDDL in Go), WinHTTP (Wine's netsh
# is a stub), the Root certificate store (certutil is a stub), SmartScreen
# and the signature's chain to a real CA.
#
# STATUS (2026-12-06): flaky at the install step. One full run passed
# checks 1-8 (build through ca); later runs, on a loaded machine, stop at
# "service start: Service request timeout" or "database locked": under
# Wine's services.exe the agent reports RUNNING to the SCM, logs "proxy
# listening" (service run --log shows it), then its process vanishes with
# no crash output (debug.SetCrashOutput catches none) while the SCM
# still says RUNNING. Killed from outside, cause not found yet; run as a
# console program (`wine greengate.exe service run`) it keeps serving.
# KEEP=1 keeps the prefix to look.
#
# Test-harness only, never in the installer: bcryptprimitives.dll (Go
# 1.22+ needs ProcessPrng, which Wine 8 lacks) and the recording
# stand-ins, both built here from installer/windows/test/*.c.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
for tool in wine wineboot wineserver makensis 7z x86_64-w64-mingw32-gcc osslsigncode openssl curl python3; do
	command -v "$tool" >/dev/null || { echo "windows-test: $tool not found (apt-get install wine64 nsis p7zip-full gcc-mingw-w64-x86-64 osslsigncode)" >&2; exit 1; }
done

# The agent listens on 127.0.0.1:8899 on the Linux side too: another
# agent there (a leftover Wine run, `make run`) would answer instead.
if curl -s -m 2 -o /dev/null http://127.0.0.1:8899/; then
	echo "windows-test: something already listens on 127.0.0.1:8899; stop it first" >&2
	exit 1
fi
work=$(mktemp -d /tmp/greengate-wintest.XXXXXX)
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEARCH=win64
# No Mono/Gecko download prompts: nothing here needs them.
export WINEDLLOVERRIDES="mscoree,mshtml="
origin_pid=
cleanup() {
	[ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null
	wineserver -k 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "windows-test: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
fail() {
	echo "FAIL: $*" >&2
	# Setup's own reason when it stopped (silent runs log it there).
	cat "$C"/users/*/Temp/greengate-setup.log >&2 2>/dev/null || true
	exit 1
}
w() { # wine, its output through a file, never a pipe (see wineboot below)
	local o rc
	o=$(mktemp -p "$work")
	wine "$@" >"$o" 2>/dev/null && rc=0 || rc=$?
	tr -d '\r' <"$o"
	rm -f "$o"
	return $rc
}
C=$WINEPREFIX/drive_c
GG='C:\Program Files\GreenGate\greengate.exe'
UN='C:\Program Files\GreenGate\uninstall.exe'
PASS=Parent-Test-Pass-42

# --- build: signed with a throw-away code-signing certificate -----------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=GreenGate test code signing" \
	-addext "extendedKeyUsage=codeSigning" -addext "keyUsage=digitalSignature" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
echo "throwaway-p12-pass" >"$work/p12pass"
openssl pkcs12 -export -inkey "$work/key.pem" -in "$work/cert.pem" -passout "file:$work/p12pass" -out "$work/cert.p12"
SIGN_PKCS12=$work/cert.p12 SIGN_PASSWORD_FILE=$work/p12pass TRAY=no installer/windows/build.sh >"$work/build.log" 2>&1 ||
	{ cat "$work/build.log"; fail "build.sh"; }
setup=$(ls -t dist/greengate-*-setup.exe | head -1)
osslsigncode verify -CAfile "$work/cert.pem" -in "$setup" >"$work/verify.log" 2>&1 ||
	{ cat "$work/verify.log"; fail "osslsigncode verify $setup"; }
grep -q "Signature verification: ok" "$work/verify.log" || fail "no verified signature on $setup"
grep -m1 "Subject:" "$work/verify.log"
mkdir "$work/x"
7z x -o"$work/x" "$setup" greengate.exe uninstall.exe >/dev/null
for f in greengate.exe uninstall.exe; do
	v=$(osslsigncode verify -CAfile "$work/cert.pem" -in "$work/x/$f" 2>&1 || true)
	grep -q "Signature verification: ok" <<<"$v" ||
		fail "$f inside the installer is not signed"
done
ok "build: $(basename "$setup") and its greengate.exe and uninstall.exe verify against the throw-away certificate"

# --- a throw-away Wine prefix with the harness's stand-ins ----------------
# services.exe, and so the agent, inherit the Unix stdout of the wine
# command that started the session: when that was a pipe closed since
# (`wine reg ... | grep`), the agent's first log line killed it with
# SIGPIPE. So no wine command here writes into a pipe (w below).
# (Windows services have no stdio; this is Wine's alone.)
wineboot -i >"$work/wine.log" 2>&1
x86_64-w64-mingw32-gcc -O2 -shared -o "$C/windows/system32/bcryptprimitives.dll" \
	installer/windows/test/bcryptprimitives.c installer/windows/test/bcryptprimitives.def -ladvapi32
x86_64-w64-mingw32-gcc -O2 -municode -mconsole -o "$work/recorder.exe" installer/windows/test/recorder.c
for t in takeown icacls netsh certutil; do
	cp "$work/recorder.exe" "$C/windows/system32/$t.exe"
	w reg add 'HKCU\Software\Wine\DllOverrides' /v "$t.exe" /d native /f >/dev/null
done

# What was there before GreenGate: a school's PAC, a WinHTTP proxy, an
# unrelated Firefox policy. All must be as they were after uninstall.
INET='HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings'
WINHTTP_BEFORE=1800000000000000010000000f0000007363686f6f6c2d70726f78793a38300000000000
w reg add "$INET" /v AutoConfigURL /t REG_SZ /d http://school.example/proxy.pac /f >/dev/null
w reg add "$INET\\Connections" /v WinHttpSettings /t REG_BINARY /d $WINHTTP_BEFORE /f >/dev/null
w reg add 'HKLM\SOFTWARE\Policies\Mozilla\Firefox' /v DisableTelemetry /t REG_DWORD /d 1 /f >/dev/null
snapshot() { # the values the uninstall must restore
	w reg query "$INET" /v AutoConfigURL | grep AutoConfigURL || true
	w reg query "$INET\\Connections" /v WinHttpSettings | grep WinHttpSettings || true
	w reg query 'HKLM\SOFTWARE\Policies\Mozilla\Firefox' /v DisableTelemetry | grep DisableTelemetry || true
}
before=$(snapshot)
echo "$before" | sed 's/^ */  before: /'

# --- refuse: silent install without the password -------------------------
cp "$setup" "$C/setup.exe"
set +e
wine 'C:\setup.exe' /S >/dev/null 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || fail "silent install without /PASSWORDFILE exited $code, want 2"
[ ! -e "$C/Program Files/GreenGate" ] || fail "silent install without a password installed files"
w reg query 'HKLM\SYSTEM\CurrentControlSet\Services\greengate' >/dev/null 2>&1 && fail "service registered"
ok "refuse: /S without /PASSWORDFILE exits 2 and installs nothing"

# --- install --------------------------------------------------------------
rm -f "$C"/users/*/Temp/greengate-setup.log
printf '%s\r\n' "$PASS" >"$C/pw.txt"
t0=$(date +%s)
wine 'C:\setup.exe' /S '/PASSWORDFILE=C:\pw.txt' >/dev/null 2>&1 || fail "silent install exited $?"
[ ! -e "$C/pw.txt" ] || fail "the password file is still there"
[ -s "$C/ProgramData/GreenGate/password" ] || fail "no parent password set"
state=$(w sc query greengate)
echo "$state" | grep -E 'STATE' | sed 's/^ */  /'
echo "$state" | grep -q RUNNING || fail "service not running"
status=$(w "$GG" service status)
echo "$status" | sed 's/^/  /'
echo "$status" | grep -q "agent: answering" || fail "admin pipe does not answer"
ok "install: /S /PASSWORDFILE in $(($(date +%s) - t0)) s; file deleted, password set, service RUNNING, admin pipe answers"

# --- filter -----------------------------------------------------------------
mkdir "$work/www"
echo "allowed-origin-$$" >"$work/www/hello.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server -b 127.0.0.1 -d "$work/www" "$port" >/dev/null 2>&1 &
origin_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
code=$(curl -s -m 10 -x 127.0.0.1:8899 -o "$work/block.html" -w '%{http_code}' http://www.pornhub.com/)
[ "$code" = 403 ] && grep -q "This page is blocked" "$work/block.html" || fail "blocked site: HTTP $code"
body=$(curl -s -m 10 -x 127.0.0.1:8899 "http://127.0.0.1:$port/hello.txt")
[ "$body" = "allowed-origin-$$" ] || fail "allowed site not forwarded: $body"
ok "filter: http://www.pornhub.com/ -> 403 block page; http://127.0.0.1:$port/hello.txt forwarded"

# --- registry -----------------------------------------------------------
PAC=http://127.0.0.1:8899/proxy.pac
check_reg() { # key value want-substring
	got=$(w reg query "$1" /v "$2" | grep -iF -- " $2 " || true)
	echo "$got" | grep -qF -- "$3" || fail "reg $1 /v $2: want $3, have: ${got:-nothing}"
	echo "  $1 $(echo "$got" | tr -s ' ')"
}
check_reg 'HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings' ProxySettingsPerUser 0x0
check_reg "$INET" AutoConfigURL "$PAC"
check_reg 'HKLM\SOFTWARE\Policies\Microsoft\Internet Explorer\Control Panel' Proxy 0x1
check_reg 'HKLM\SOFTWARE\Policies\Microsoft\Internet Explorer\Control Panel' AutoConfig 0x1
check_reg 'HKLM\SOFTWARE\Policies\Microsoft\Edge' ProxySettings "\"ProxyPacUrl\":\"$PAC\""
check_reg 'HKLM\SOFTWARE\Policies\Microsoft\Edge' QuicAllowed 0x0
check_reg 'HKLM\SOFTWARE\Policies\Google\Chrome' ProxySettings '"ProxyMode":"pac_script"'
check_reg 'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy' Mode autoConfig
check_reg 'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy' AutoConfigURL "$PAC"
check_reg 'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy' Locked 0x1
check_reg 'HKLM\SOFTWARE\GreenGate\ProxyBefore' "$INET\\AutoConfigURL" http://school.example/proxy.pac
ok "registry: WinINET per machine at the PAC, panel locked, Edge/Chrome/Firefox policies, previous PAC kept aside"

# --- commands Wine lacks or stubs, as the installer ran them -------------
rec=$(tr -d '\r' <"$C/recorded.txt")
for want in \
	'takeown.exe" /F "C:\ProgramData\GreenGate" /R /A /D Y' \
	'icacls.exe" "C:\ProgramData\GreenGate" /reset /T /C /Q' \
	'icacls.exe" "C:\ProgramData\GreenGate" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F' \
	'netsh winhttp set proxy proxy-server=127.0.0.1:8899 bypass-list=<local>'; do
	echo "$rec" | grep -qF -- "$want" || { echo "$rec" >&2; fail "not run: $want"; }
done
echo "$rec" | sed 's/^/  ran: /'
ok "commands: takeown, icacls /reset, icacls SYSTEM+Administrators only, netsh winhttp, in that order"
: >"$C/recorded.txt"

# --- upgrade in place -------------------------------------------------
printf 'wrong-password\r\n' >"$C/pw.txt"
set +e
wine 'C:\setup.exe' /S '/PASSWORDFILE=C:\pw.txt' >/dev/null 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || fail "upgrade with a wrong password exited $code, want 2"
w sc query greengate | grep -q RUNNING || fail "a refused upgrade stopped the service"
ok "upgrade: a wrong password exits 2, the service keeps running"
printf '%s\r\n' "$PASS" >"$C/pw.txt"
agent_pid() { pgrep -f 'GreenGate.greengate.exe service run' | head -1; }
pid_before=$(agent_pid)
wine 'C:\setup.exe' /S '/PASSWORDFILE=C:\pw.txt' >/dev/null 2>&1 || fail "upgrade exited $?"
w sc query greengate | grep -q RUNNING || fail "service not running after the upgrade"
pid_after=$(agent_pid)
[ -n "$pid_before" ] && [ -n "$pid_after" ] && [ "$pid_before" != "$pid_after" ] ||
	fail "the agent was not restarted by the upgrade (pid ${pid_before:-none} -> ${pid_after:-none})"
curl -s -m 10 -x 127.0.0.1:8899 http://www.pornhub.com/ | grep -q "This page is blocked" || fail "no block page after the upgrade"
check_reg 'HKLM\SOFTWARE\GreenGate\ProxyBefore' "$INET\\AutoConfigURL" http://school.example/proxy.pac
ok "upgrade: same setup over the installed one, password checked, service restarted (Linux pid $pid_before -> $pid_after), still filtering, the saved PAC is still the school's"

# --- the local CA's Windows commands (not run by the installer) ---------
w "$GG" ca install --data-dir 'C:\ProgramData\GreenGate\state' | sed 's/^/  /'
check_reg 'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Certificates' ImportEnterpriseRoots 0x1
grep -qF 'certutil -addstore -f Root C:\ProgramData\GreenGate\state\ca\' "$C/recorded.txt" ||
	{ cat "$C/recorded.txt" >&2; fail "certutil -addstore not run"; }
# Its last step, deleting the CA's folder, fails under Wine 8 only: Go
# 1.26's os.RemoveAll ("unlinkat ...: Invalid function"); the trust is
# removed before it.
wine "$GG" ca uninstall --data-dir 'C:\ProgramData\GreenGate\state' >"$work/ca.out" 2>&1 ||
	grep -q 'unlinkat .*Invalid function' "$work/ca.out" || { cat "$work/ca.out" >&2; fail "ca uninstall"; }
tr -d '\r' <"$work/ca.out" | sed 's/^/  /'
grep -qF 'certutil -delstore Root "GreenGate block pages"' "$C/recorded.txt" || fail "certutil -delstore not run"
w reg query 'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Certificates' /v ImportEnterpriseRoots >/dev/null 2>&1 &&
	fail "ImportEnterpriseRoots left behind"
ok "ca: certutil -addstore/-delstore Root run (recorded), Firefox ImportEnterpriseRoots set and removed"

# --- uninstall ------------------------------------------------------------
# _?= runs the uninstaller in place (it otherwise copies itself to TEMP
# and returns at once, losing the exit code); it then cannot delete
# itself, so uninstall.exe is the one file left.
uninstall() { # extra args...
	set +e
	wine "$UN" /S "$@" '_?=C:\Program Files\GreenGate' >/dev/null 2>&1
	code=$?
	set -e
}
unchanged() {
	w sc query greengate | grep -q RUNNING || fail "$1: service no longer running"
	[ -e "$C/Program Files/GreenGate/greengate.exe" ] || fail "$1: greengate.exe removed"
	check_reg "$INET" AutoConfigURL "$PAC" >/dev/null
	check_reg 'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy' Locked 0x1 >/dev/null
	curl -s -m 10 -x 127.0.0.1:8899 http://www.pornhub.com/ | grep -q "This page is blocked" || fail "$1: not filtering"
}
uninstall
[ "$code" -eq 2 ] || fail "uninstall without a password exited $code, want 2"
unchanged "uninstall without a password"
ok "uninstall: /S without /PASSWORDFILE exits 2; service, files, proxy settings unchanged"
printf 'wrong-password\r\n' >"$C/pw.txt"
uninstall '/PASSWORDFILE=C:\pw.txt'
[ "$code" -eq 2 ] || fail "uninstall with a wrong password exited $code, want 2"
[ ! -e "$C/pw.txt" ] || fail "the password file is still there"
unchanged "uninstall with a wrong password"
ok "uninstall: a wrong password exits 2; service, files, proxy settings unchanged"

printf '%s\r\n' "$PASS" >"$C/pw.txt"
uninstall '/PASSWORDFILE=C:\pw.txt' /PURGE
[ "$code" -eq 0 ] || fail "uninstall with the password exited $code"
w sc query greengate | grep -q RUNNING && fail "service still running"
w reg query 'HKLM\SYSTEM\CurrentControlSet\Services\greengate' >/dev/null 2>&1 && fail "service still registered"
left=$(cd "$C/Program Files" && find GreenGate 2>/dev/null | sort | tr '\n' ' ')
[ "$left" = "GreenGate GreenGate/uninstall.exe " ] || fail "files left: $left"
[ ! -e "$C/ProgramData/GreenGate" ] || fail "/PURGE left C:\\ProgramData\\GreenGate"
for kv in 'HKLM\SOFTWARE\Policies\Microsoft\Windows\CurrentVersion\Internet Settings|ProxySettingsPerUser' \
	'HKLM\SOFTWARE\Policies\Microsoft\Internet Explorer\Control Panel|Proxy' \
	'HKLM\SOFTWARE\Policies\Microsoft\Edge|ProxySettings' 'HKLM\SOFTWARE\Policies\Google\Chrome|ProxySettings' \
	'HKLM\SOFTWARE\Policies\Mozilla\Firefox\Proxy|Mode' 'HKLM\SOFTWARE\GreenGate|' \
	'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\GreenGate|'; do
	k=${kv%|*} v=${kv#*|}
	if [ -n "$v" ]; then
		w reg query "$k" /v "$v" >/dev/null 2>&1 && fail "left behind: $k $v"
	else
		w reg query "$k" >/dev/null 2>&1 && fail "left behind: $k"
	fi
done
after=$(snapshot)
echo "$after" | sed 's/^ */  after: /'
[ "$after" = "$before" ] || fail "proxy values not restored:\nbefore:\n$before\nafter:\n$after"
tr -d '\r' <"$C/recorded.txt" | grep -qF 'netsh winhttp reset proxy' || fail "netsh winhttp reset proxy not run"
curl -s -m 3 -o /dev/null http://127.0.0.1:8899/ && fail "something still listens on 8899"
ok "uninstall: with the password the service, files (but uninstall.exe under _?=), data (/PURGE) and GreenGate's values are gone; the school PAC, WinHTTP value and Firefox policy are as before"

echo "windows-test: $n checks passed in $(($(date +%s) - start)) s"

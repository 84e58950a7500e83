#!/usr/bin/env bash
# HTTPS block pages in a real browser (issue: "HTTPS that a parent and a
# child can see"). Debian's Chromium, headless, with an NSS database that
# trusts only what this script puts there, browses through `greengate run
# --https-block-pages`:
#
#   1. https://www.pornhub.com/ (HSTS-preloaded, blocked) shows the
#      GreenGate block page, in English and in Chinese;
#   2. an allowed HTTPS site (a local origin named allowed.test) loads, and
#      the certificate seen through the proxy is the origin's own, by
#      SHA-256 fingerprint, not one of the local CA's;
#   3. the local CA's key is unreadable by uid 65534.
#
# The agent runs in a private mount namespace whose /etc/hosts maps
# allowed.test to 127.0.0.1 (this machine has no other network); nothing
# outside it changes. Needs root, chromium, libnss3-tools (certutil),
# openssl, util-linux (unshare). About a minute. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in chromium certutil openssl unshare; do
	command -v "$tool" >/dev/null || { echo "https-block-test: $tool missing (apt-get install chromium libnss3-tools openssl util-linux)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "https-block-test: needs root (a private mount namespace for /etc/hosts)" >&2; exit 2; }

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

go build -trimpath -o "$work/" ./cmd/greengate
gg="$work/greengate"
proxy=$(free_port 18941)
origin=$(free_port 18961)

# An allowed HTTPS origin with a certificate from a test CA of its own.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj "/CN=Origin test CA" -keyout "$work/oca.key" -out "$work/oca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=allowed.test" \
	-keyout "$work/o.key" -out "$work/o.csr" 2>/dev/null
printf 'subjectAltName=DNS:allowed.test\nextendedKeyUsage=serverAuth\n' >"$work/o.ext"
openssl x509 -req -in "$work/o.csr" -CA "$work/oca.crt" -CAkey "$work/oca.key" -CAcreateserial \
	-days 1 -extfile "$work/o.ext" -out "$work/o.crt" 2>/dev/null
mkdir -p "$work/www"
echo '<html><body><h1 id="origin">allowed origin page</h1></body></html>' >"$work/www/index.html"
(cd "$work/www" && exec openssl s_server -quiet -accept "127.0.0.1:$origin" -cert "$work/o.crt" -key "$work/o.key" -WWW) >/dev/null 2>&1 &
pids+=($!)

printf '127.0.0.1 localhost\n127.0.0.1 allowed.test\n' >"$work/hosts"
unshare --mount --propagation private sh -c \
	"mount --bind '$work/hosts' /etc/hosts && exec '$gg' run --https-block-pages --listen 127.0.0.1:$proxy --data-dir '$work/state' --connect-ports 443,$origin" \
	>"$work/agent.out" 2>"$work/agent.err" &
pids+=($!)
for _ in $(seq 200); do grep -q "listening on" "$work/agent.out" "$work/agent.err" 2>/dev/null && break; sleep 0.05; done
grep -q "listening on" "$work/agent.out" "$work/agent.err" || { cat "$work/agent.err"; fail "agent did not start"; }
grep -q "HTTPS block pages on" "$work/agent.err" || fail "the agent did not say HTTPS block pages are on"

# A browser profile whose NSS database trusts the exported local CA and the
# origin's CA, nothing else of ours.
home="$work/home"
mkdir -p "$home/.pki/nssdb"
certutil -d "sql:$home/.pki/nssdb" -N --empty-password
"$gg" ca export --data-dir "$work/state" >"$work/local-ca.pem"
certutil -d "sql:$home/.pki/nssdb" -A -t "C,," -n greengate-local -i "$work/local-ca.pem"
certutil -d "sql:$home/.pki/nssdb" -A -t "C,," -n origin-test -i "$work/oca.crt"

browse() { # url lang -> DOM on stdout
	HOME="$home" timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$work/profile-$2" --lang="$2" --accept-lang="$2" \
		--proxy-server="http://127.0.0.1:$proxy" --proxy-bypass-list="<-loopback>" \
		--dump-dom "$1" 2>/dev/null || true
}

dom=$(browse https://www.pornhub.com/ en-US)
echo "$dom" | grep -q "This page is blocked" || { echo "$dom" | head -20; fail "blocked HTTPS site (en): no GreenGate block page"; }
echo "$dom" | grep -q "www.pornhub.com" || fail "the block page does not name the site"
pass "https://www.pornhub.com/ shows the GreenGate block page (en)"
dom=$(browse https://www.pornhub.com/ zh-CN)
echo "$dom" | grep -q "此网页已被拦截" || { echo "$dom" | head -20; fail "blocked HTTPS site (zh): no Chinese block page"; }
pass "https://www.pornhub.com/ shows the GreenGate block page (zh-CN)"

dom=$(browse "https://allowed.test:$origin/index.html" en-US)
echo "$dom" | grep -q "allowed origin page" || { echo "$dom" | head -20; tail -5 "$work/agent.err"; fail "allowed HTTPS site did not load"; }
pass "an allowed HTTPS site loads through the proxy"

want=$(openssl x509 -in "$work/o.crt" -noout -fingerprint -sha256 | cut -d= -f2)
got=$(echo | unshare --mount --propagation private sh -c "mount --bind '$work/hosts' /etc/hosts && openssl s_client -proxy 127.0.0.1:$proxy -connect allowed.test:$origin -servername allowed.test 2>/dev/null" |
	openssl x509 -noout -fingerprint -sha256 | cut -d= -f2)
[ -n "$got" ] && [ "$got" = "$want" ] || fail "allowed site's certificate through the proxy is $got, the origin's is $want"
pass "the allowed site's certificate through the proxy is the origin's own ($want)"

if su nobody -s /bin/sh -c "cat '$work/state/ca/ca.key'" >/dev/null 2>&1; then
	fail "uid 65534 read the local CA's key"
fi
pass "the local CA's key is unreadable by uid 65534"
echo "https-block-test: all passed"

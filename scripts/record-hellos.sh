#!/usr/bin/env bash
# Records real TLS ClientHellos from the clients installed on this machine
# into testdata/clienthello/, for agent/sni's tests and fuzz seeds.
#
# Each client is pointed at a loopback listener (agent/sni/record_hellos.go)
# that saves the first handshake message byte for byte and then hangs up, so
# every client "fails"; only its hello matters. Clients that are not
# installed are skipped with a note. Re-run after upgrading a client and
# update testdata/clienthello/README.md with the versions printed at the end.
#
# Usage: scripts/record-hellos.sh [client...]   (default: all)
# Clients: curl openssl openssl-dot openssl-tls12 go go-ech python python-dot
#          node node-dot chromium chromium-dot handmade
set -euo pipefail
cd "$(dirname "$0")/.."
out=testdata/clienthello
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/recorder" ./agent/sni/record_hellos.go

# record NAME CMD... : start the recorder, run CMD with $PORT set, wait.
record() {
	local name=$1
	shift
	rm -f "$tmp/port"
	"$tmp/recorder" -out "$out/$name.bin" -port-file "$tmp/port" -timeout 40s &
	local rec=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	PORT=$(cat "$tmp/port")
	export PORT
	# The client is expected to fail once the recorder hangs up.
	timeout 35 bash -c "$*" >"$tmp/$name.log" 2>&1 || true
	if wait "$rec"; then echo "recorded $name"; else echo "FAILED $name (see below)"; cat "$tmp/$name.log"; fi
}

# record_go NAME ARGS... : the recorder dials itself with Go crypto/tls.
record_go() {
	local name=$1
	shift
	"$tmp/recorder" -out "$out/$name.bin" -timeout 20s "$@" && echo "recorded $name"
}

have() { command -v "$1" >/dev/null 2>&1 || { echo "skip: $1 not installed"; return 1; }; }

chromium_cmd() {
	local url=$1
	echo "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
--disable-background-networking --disable-component-update --disable-sync \
--user-data-dir=$tmp/chromium-profile --host-resolver-rules='MAP * 127.0.0.1' \
--dump-dom \"$url\""
}

all=(curl openssl openssl-dot openssl-tls12 go go-ech python python-dot node node-dot chromium chromium-dot handmade)
[ $# -gt 0 ] && all=("$@")
for c in "${all[@]}"; do
	case $c in
	curl) have curl && record curl 'curl -sk --max-time 10 --resolve curl.test:$PORT:127.0.0.1 https://curl.test:$PORT/' ;;
	openssl) have openssl && record openssl 'openssl s_client -connect 127.0.0.1:$PORT -servername openssl.test </dev/null' ;;
	openssl-dot) have openssl && record openssl-dot 'openssl s_client -connect 127.0.0.1:$PORT -servername Openssl-Dot.test. </dev/null' ;;
	openssl-tls12) have openssl && record openssl-tls12 'openssl s_client -tls1_2 -connect 127.0.0.1:$PORT -servername openssl-tls12.test </dev/null' ;;
	go) record_go go -go-client go.test ;;
	go-ech) record_go go-ech -go-client secret.test -ech public.test ;;
	python) have python3 && record python "python3 -c \"import ssl,socket,os; c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE; c.wrap_socket(socket.create_connection(('127.0.0.1',int(os.environ['PORT']))),server_hostname='python.test')\"" ;;
	python-dot) have python3 && record python-dot "python3 -c \"import ssl,socket,os; c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE; c.wrap_socket(socket.create_connection(('127.0.0.1',int(os.environ['PORT']))),server_hostname='python-dot.test.')\"" ;;
	node) have node && record node "node -e \"require('tls').connect({host:'127.0.0.1',port:+process.env.PORT,servername:'node.test',rejectUnauthorized:false}).on('error',()=>{})\"" ;;
	node-dot) have node && record node-dot "node -e \"require('tls').connect({host:'127.0.0.1',port:+process.env.PORT,servername:'node-dot.test.',rejectUnauthorized:false}).on('error',()=>{})\"" ;;
	chromium) have chromium && record chromium "$(chromium_cmd 'https://chromium.test:$PORT/')" ;;
	chromium-dot) have chromium && record chromium-dot "$(chromium_cmd 'https://chromium-dot.test.:$PORT/')" ;;
	handmade)
		# Not TLS at all: a plain HTTP request on a TLS port.
		printf 'GET / HTTP/1.1\r\nHost: http.test\r\n\r\n' >"$out/malformed-http-get.bin"
		# An SSLv2-compatible ClientHello (RFC 5246 appendix E.2) as old Java
		# sends: 2-byte length with the high bit set, msg type 1, version 3.1,
		# 3 cipher specs, no session id, 16-byte challenge. It cannot carry SNI.
		printf '\x80\x22\x01\x03\x01\x00\x09\x00\x00\x00\x10\x00\x00\x2f\x00\x00\x35\x00\x00\x0a\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10' >"$out/malformed-sslv2.bin"
		echo "wrote handmade files"
		;;
	*) echo "unknown client $c" >&2; exit 2 ;;
	esac
done

echo "--- versions"
curl --version 2>/dev/null | head -1 || true
openssl version 2>/dev/null || true
go version
python3 -c 'import ssl,sys; print("Python", sys.version.split()[0], ssl.OPENSSL_VERSION)' 2>/dev/null || true
node -p '"node " + process.version + " openssl " + process.versions.openssl' 2>/dev/null || true
chromium --version 2>/dev/null || true

#!/usr/bin/env bash
# Authenticode-signs Windows executables in place with osslsigncode
# (apt-get install osslsigncode). build.sh calls it for greengate.exe,
# greengate-tray.exe, the uninstaller (makensis !uninstfinalize) and the
# installer (!finalize). The certificate, from the environment:
#
#   SIGN_PKCS12=cert.p12 [SIGN_PASSWORD_FILE=pass.txt]   a PKCS#12 bundle
#   SIGN_CERT=cert.pem SIGN_KEY=key.pem [SIGN_PASSWORD_FILE=...]
#   SIGN_TIMESTAMP_URL=http://timestamp.example    optional RFC 3161 server
#
# The password is read from a file, never given on a command line other
# users can see.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: sign.sh FILE.exe..." >&2; exit 2; }
command -v osslsigncode >/dev/null || { echo "sign.sh: osslsigncode not found (apt-get install osslsigncode)" >&2; exit 1; }
args=(sign -h sha256 -n GreenGate -i https://github.com/greengate/greengate)
if [ -n "${SIGN_PKCS12:-}" ]; then
	args+=(-pkcs12 "$SIGN_PKCS12")
elif [ -n "${SIGN_CERT:-}" ] && [ -n "${SIGN_KEY:-}" ]; then
	args+=(-certs "$SIGN_CERT" -key "$SIGN_KEY")
else
	echo "sign.sh: no certificate: set SIGN_PKCS12, or SIGN_CERT and SIGN_KEY" >&2
	exit 1
fi
[ -n "${SIGN_PASSWORD_FILE:-}" ] && args+=(-readpass "$SIGN_PASSWORD_FILE")
[ -n "${SIGN_TIMESTAMP_URL:-}" ] && args+=(-ts "$SIGN_TIMESTAMP_URL")
for f in "$@"; do
	osslsigncode "${args[@]}" -in "$f" -out "$f.signed" >/dev/null
	mv "$f.signed" "$f"
	echo "sign.sh: signed $(basename "$f")"
done

#!/usr/bin/env bash
# Builds the Windows installer on Linux: cross-compiles greengate.exe
# (pure Go) and, when the MinGW-w64 compiler is installed, the cgo/Fyne
# tray greengate-tray.exe; then makensis (NSIS 3, warnings are errors)
# packs them into dist/greengate-<version>-setup.exe, and 7z checks
# what is inside.
#
#   apt-get install --no-install-recommends nsis p7zip-full gcc-mingw-w64-x86-64
#   VERSION=1.2.3 installer/windows/build.sh
#   TRAY=no installer/windows/build.sh      # skip the tray (~6 min cold build)
#
# Signed when a certificate is given (installer/windows/sign.sh: SIGN_PKCS12,
# or SIGN_CERT + SIGN_KEY, optional SIGN_PASSWORD_FILE, SIGN_TIMESTAMP_URL):
# greengate.exe, the tray, the uninstaller and the installer all carry an
# Authenticode signature. Without one it says UNSIGNED, loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=$(installer/version.sh)
# Windows' version resource wants four numbers up to 65535:
# 1.2.3-rc1+abc -> 1.2.3.0.
VIVERSION=$(printf '%s' "$VERSION" | sed 's/[^0-9.].*//' |
	awk -F. '{for (i = 1; i <= 3; i++) { n = $i + 0; if (n > 65535) n = 65535; printf "%d.", n }; print 0}')
TRAY=${TRAY:-auto}
BUILD=dist/build/windows
OUT=dist/greengate-$VERSION-setup.exe
for tool in makensis 7z; do
	command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (apt-get install nsis p7zip-full)" >&2; exit 1; }
done
mkdir -p "$BUILD"
rm -f "$BUILD/greengate.exe" "$BUILD/greengate-tray.exe"
SIGN=no
if [ -n "${SIGN_PKCS12:-}" ] || { [ -n "${SIGN_CERT:-}" ] && [ -n "${SIGN_KEY:-}" ]; }; then
	SIGN=yes
	command -v osslsigncode >/dev/null || { echo "build.sh: signing needs osslsigncode (apt-get install osslsigncode)" >&2; exit 1; }
else
	echo "build.sh: UNSIGNED build: no SIGN_PKCS12 or SIGN_CERT+SIGN_KEY; Windows SmartScreen will warn users" >&2
fi

echo "build.sh: greengate.exe $VERSION"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION" -o "$BUILD/greengate.exe" ./cmd/greengate

nsis_defs=()
if [ "$TRAY" != no ] && command -v x86_64-w64-mingw32-gcc >/dev/null; then
	echo "build.sh: greengate-tray.exe (cgo, MinGW-w64)"
	# windowsgui: no console window behind the tray icon.
	CC=x86_64-w64-mingw32-gcc CGO_ENABLED=1 GOOS=windows GOARCH=amd64 go build -trimpath \
		-ldflags "-s -w -H windowsgui -X main.version=$VERSION" -o "$BUILD/greengate-tray.exe" ./cmd/greengate-tray
	nsis_defs+=(-DTRAY)
elif [ "$TRAY" = yes ]; then
	echo "build.sh: TRAY=yes but x86_64-w64-mingw32-gcc is missing (apt-get install gcc-mingw-w64-x86-64)" >&2
	exit 1
else
	echo "build.sh: skipping the tray (TRAY=$TRAY, x86_64-w64-mingw32-gcc: $(command -v x86_64-w64-mingw32-gcc || echo missing)); the installer has no greengate-tray.exe"
fi

if [ "$SIGN" = yes ]; then
	installer/windows/sign.sh "$BUILD/greengate.exe"
	[ -f "$BUILD/greengate-tray.exe" ] && installer/windows/sign.sh "$BUILD/greengate-tray.exe"
	nsis_defs+=(-DSIGNCMD="$PWD/installer/windows/sign.sh")
fi

rm -f "$OUT"
makensis -WX -V2 -DVERSION="$VERSION" -DVIVERSION="$VIVERSION" \
	-DBUILDDIR="$PWD/$BUILD" -DOUTFILE="$PWD/$OUT" "${nsis_defs[@]}" \
	installer/windows/greengate.nsi

# 7z reads NSIS installers: the payload and the uninstaller must be there.
listing=$(7z l "$OUT")
echo "$listing" | sed -n '/^   Date/,$p'
want=(greengate.exe uninstall.exe)
[ -f "$BUILD/greengate-tray.exe" ] && want+=(greengate-tray.exe)
for f in "${want[@]}"; do
	echo "$listing" | grep -qE "[ /\\]$f\$" || { echo "build.sh: $f is not in $OUT" >&2; exit 1; }
done
ls -l "$OUT"
if [ "$SIGN" = yes ]; then
	# The chain's trust is the caller's (osslsigncode verify -CAfile);
	# here: a signature is there.
	verify=$(osslsigncode verify -in "$OUT" 2>&1 || true)
	grep -q "Signer's certificate:" <<<"$verify" ||
		{ echo "build.sh: $OUT carries no signature" >&2; exit 1; }
	echo "build.sh: signed $OUT"
else
	echo "build.sh: UNSIGNED: $OUT"
fi

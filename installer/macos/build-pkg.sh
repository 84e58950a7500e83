#!/bin/sh
# Builds dist/greengate-<version>.pkg ON A MAC (pkgbuild and productbuild
# are Apple's; nothing on Linux makes a .pkg). Not run in CI: there is no
# Mac here. The binary is universal (arm64 + amd64, lipo).
#
#   installer/macos/build-pkg.sh                       # unsigned
#   SIGN="Developer ID Installer: Example (TEAMID)" installer/macos/build-pkg.sh
#
# Then, for Gatekeeper on other Macs:
#   xcrun notarytool submit dist/greengate-<v>.pkg --keychain-profile P --wait
#   xcrun stapler staple dist/greengate-<v>.pkg
#
# The payload is the binary and the launchd plist (the one kardianos's
# launchd backend writes, so `greengate service stop|status|uninstall`
# find it; a test in agent/service keeps them equal). scripts/postinstall
# starts it and points the Mac's network services at it.
set -eu
cd "$(dirname "$0")/../.."
[ "$(uname -s)" = Darwin ] || { echo "build-pkg: run this on macOS (pkgbuild is Apple's)" >&2; exit 2; }
VERSION=$(installer/version.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/usr/local/bin" "$work/root/Library/LaunchDaemons" dist
for arch in arm64 amd64; do
	CGO_ENABLED=0 GOOS=darwin GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
		-o "$work/greengate-$arch" ./cmd/greengate
done
lipo -create -output "$work/root/usr/local/bin/greengate" "$work/greengate-arm64" "$work/greengate-amd64"
install -m 0644 installer/macos/greengate.plist "$work/root/Library/LaunchDaemons/greengate.plist"
chmod 0755 installer/macos/scripts/preinstall installer/macos/scripts/postinstall
pkgbuild --root "$work/root" --scripts installer/macos/scripts \
	--identifier org.greengate.agent --version "$VERSION" --install-location / \
	--ownership recommended "$work/greengate-component.pkg"
out="dist/greengate-$VERSION.pkg"
if [ -n "${SIGN:-}" ]; then
	productbuild --package "$work/greengate-component.pkg" --sign "$SIGN" "$out"
else
	productbuild --package "$work/greengate-component.pkg" "$out"
fi
pkgutil --payload-files "$out"
ls -l "$out"

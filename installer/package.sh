#!/usr/bin/env bash
# Builds the GreenGate packages into dist/ with nfpm: "greengate" (the
# agent: a static binary, the hardened systemd unit, the default settings as
# a conffile, maintainer scripts, man page, copyright, changelog;
# installer/nfpm.yaml) and "greengate-tray" (the Fyne tray app, cgo, with
# its desktop entries and icon; installer/nfpm-tray.yaml), each as .deb and
# .rpm. nfpm runs via `go run` at a pinned version, so nothing but Go (and
# for the tray a C compiler with the X11/GL headers) is needed.
#
# Every binary is stamped with one version, installer/version.sh's (from
# `git describe --tags --always --dirty`), through -X main.version. Package
# versions are that string in each format's syntax: '-' becomes '+' for
# dpkg (a native version: no Debian revision) and '_' for rpm.
#
#   VERSION=1.2.3 ARCH=arm64 installer/package.sh
#   PACKAGERS=rpm installer/package.sh      # default: "deb rpm"
#   TRAY=0 installer/package.sh             # the agent package only
set -euo pipefail
cd "$(dirname "$0")/.."
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
STAMP=$(installer/version.sh)
ARCH=${ARCH:-$(go env GOARCH)}
MAINTAINER=${MAINTAINER:-GreenGate maintainers <maintainers@greengate.invalid>}
TRAY=${TRAY:-1}
export ARCH MAINTAINER
LDFLAGS="-s -w -X main.version=$STAMP"
mkdir -p dist/build/doc
CGO_ENABLED=0 GOOS=linux GOARCH="$ARCH" go build -trimpath -ldflags "$LDFLAGS" -o dist/build/greengate ./cmd/greengate
if [ "$TRAY" = 1 ]; then
	# cgo: minutes on a cold build cache (go-gl), seconds after. A
	# position-independent executable with full RELRO, as Debian builds
	# its C programs (lintian: hardening-no-pie); its own cache entries,
	# so the first build this way is cold again.
	CGO_ENABLED=1 GOOS=linux GOARCH="$ARCH" go build -trimpath -buildmode=pie \
		-ldflags "$LDFLAGS -extldflags '-Wl,-z,relro,-z,now'" -o dist/build/greengate-tray ./cmd/greengate-tray
fi

# Docs, gzipped the way Debian wants them (-9, no name or time stamp).
# The changelog is installer/changelog with an entry for this build on
# top when its version is not the newest entry's.
debversion=${STAMP//-/+}
{
	top=$(sed -n '1s/^greengate (\([^)]*\)).*/\1/p' installer/changelog)
	if [ "$top" != "$debversion" ]; then
		when=$(git log -1 --format=%cD 2>/dev/null || date -R)
		printf 'greengate (%s) unstable; urgency=medium\n\n  * Build of %s (git describe).\n\n -- %s  %s\n\n' \
			"$debversion" "$STAMP" "$MAINTAINER" "$when"
	fi
	cat installer/changelog
} | gzip -9n >dist/build/doc/changelog.gz
gzip -9n <installer/greengate.8 >dist/build/doc/greengate.8.gz
gzip -9n <installer/greengate-tray.1 >dist/build/doc/greengate-tray.1.gz

configs=(installer/nfpm.yaml)
[ "$TRAY" = 1 ] && configs+=(installer/nfpm-tray.yaml)
PACKAGERS=${PACKAGERS:-deb rpm}
for c in "${configs[@]}"; do
	for p in $PACKAGERS; do
		case $p in
		rpm) VERSION=${STAMP//-/_} go run "$NFPM" package --config "$c" --packager rpm --target dist/ ;;
		deb) VERSION=$debversion go run "$NFPM" package --config "$c" --packager deb --target dist/ ;;
		*) VERSION=$STAMP go run "$NFPM" package --config "$c" --packager "$p" --target dist/ ;;
		esac
	done
done
for p in $PACKAGERS; do ls -l dist/*."$p"; done

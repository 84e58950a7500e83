#!/usr/bin/env bash
# Builds the GreenGate .deb and .rpm into dist/ from one nfpm.yaml: a
# static greengate binary, the systemd unit, the default settings as a
# conffile, and the maintainer scripts (installer/deb/, and installer/rpm/
# through the config's `overrides: rpm:`). nfpm runs via `go run` at a
# pinned version, so nothing but Go is needed.
#
#   VERSION=1.2.3 ARCH=arm64 installer/package.sh
#   PACKAGERS=rpm installer/package.sh      # default: "deb rpm"
set -euo pipefail
cd "$(dirname "$0")/.."
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
VERSION=$(installer/version.sh)
ARCH=${ARCH:-$(go env GOARCH)}
export VERSION ARCH
mkdir -p dist/build
CGO_ENABLED=0 GOOS=linux GOARCH="$ARCH" go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o dist/build/greengate ./cmd/greengate
PACKAGERS=${PACKAGERS:-deb rpm}
for p in $PACKAGERS; do
	case $p in
	rpm)
		# An rpm Version may not contain '-' (it separates version from
		# release), which `git describe` produces: 1.2.3-4-gabc, -dirty.
		VERSION=${VERSION//-/_} go run "$NFPM" package --config installer/nfpm.yaml --packager rpm --target dist/
		;;
	*)
		go run "$NFPM" package --config installer/nfpm.yaml --packager "$p" --target dist/
		;;
	esac
done
for p in $PACKAGERS; do ls -l dist/*."$p"; done

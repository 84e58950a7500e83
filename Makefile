# GreenGate. Longer logic lives in scripts/.
GO        ?= go
LISTEN    ?= 127.0.0.1:8899
FUZZTIME  ?= 3s
BENCHTIME ?= 1x
# One version for every binary: installer/version.sh (git describe), stamped
# with -X main.version by build, tray and package alike.
VERSION   ?= $(shell installer/version.sh)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: https-block-test tray-notice-test run test vet cross package package-test package-rpm-test package-test-systemd package-windows windows-test unit fuzz bench bench-matchers bench-proxy lint build deps tray

run: build
	./bin/greengate run --listen $(LISTEN)

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/greengate ./cmd/greengate-publisher

deps:
	./scripts/deps.sh

# Each step says when it starts and how long it took; the whole run, too
# (about 10 minutes on a 2-core machine, most of it -race).
TEST_STEPS := deps vet cross lint unit fuzz tray
test:
	@start=$$(date +%s); for s in $(TEST_STEPS); do \
	  t=$$(date +%s); echo "==> make $$s"; \
	  $(MAKE) --no-print-directory $$s || { echo "make test: $$s failed after $$(( $$(date +%s) - start )) s"; exit 1; }; \
	  echo "==> make $$s: $$(( $$(date +%s) - t )) s"; \
	done; echo "make test: all passed in $$(( $$(date +%s) - start )) s"

# The tray is the one cgo binary (Fyne/GL): building it proves the cgo side
# links, which the headless gui tests cannot.
tray:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/greengate-tray

# The tray's notice of a blocked HTTPS site, for real: agent, tray under
# Xvfb on a private D-Bus, curl as the browser (needs xvfb, dbus). ~30 s.
tray-notice-test: ; ./scripts/tray-notice-test.sh

vet:
	$(GO) vet ./...

# HTTPS block pages in Debian's headless Chromium through `greengate run
# --https-block-pages`: block page (en, zh), an allowed site with its own
# certificate, the CA key private (root; chromium, libnss3-tools). ~35 s.
https-block-test: ; ./scripts/https-block-test.sh

# Every OS we ship: vet (which type-checks tests too) without cgo.
CROSS ?= windows/amd64 darwin/arm64 linux/amd64
cross:
	@for t in $(CROSS); do echo "cross $$t"; \
	  CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./agent/... ./cmd/greengate ./rules/... || exit 1; done

unit:
	$(GO) test -race -shuffle=on -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench: bench-matchers
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-matchers: ; cd bench/matchers && $(GO) test -count=1 -run Report -v -bench . -benchmem

# wrk through GreenGate vs direct on loopback with a 1M-domain list (needs wrk).
bench-proxy: ; ./scripts/bench-proxy.sh

lint:
	./scripts/lint.sh

# The .deb and .rpm of greengate (static binary, hardened systemd unit,
# default settings as a conffile, maintainer scripts that turn filtering
# on and off, man page, copyright, changelog) and of greengate-tray (cgo;
# TRAY=0 skips it) in dist/; PACKAGERS="deb rpm". nfpm is run at a pinned
# version via go run. `lintian dist/*.deb` has no errors or warnings.
package:
	./installer/package.sh

# Root only: dpkg -i the package, check it filters and resists a non-root
# user, dpkg --purge. Changes this machine for ~30 s; not in `make test`.
package-test: package
	./installer/dpkg-test.sh

# dist/greengate-<version>-setup.exe: NSIS installer cross-built here
# (apt-get install nsis p7zip-full; gcc-mingw-w64-x86-64 adds the tray,
# ~6 min cold). Not in `package`: the .deb must not need NSIS.
package-windows:
	./installer/windows/build.sh

# The installer under Wine 8 in a throw-away prefix, headless: signed
# with a throw-away certificate, silent install with the parent password,
# the service filtering, registry read back, upgrade, uninstall refused
# and done (apt-get install wine64 nsis p7zip-full gcc-mingw-w64-x86-64
# osslsigncode). ~4 min; not in `make test`. Says what Wine cannot show.
windows-test:
	./scripts/windows-test.sh

# The .rpm read and installed by rpm (apt-get install rpm): queries, an
# install into an empty root, the scriptlets under rpm in busybox chroots
# (root, busybox-static; skipped otherwise). Host unchanged.
package-rpm-test: package
	./installer/rpm-test.sh

# Root only: the .deb under a real systemd (PID 1) in a throw-away
# systemd-nspawn container (needs systemd-container, openssl, and mmdebstrap
# or debootstrap for the cached Debian root filesystem with chromium, ~1 GB,
# made once): installed means protected, shown with headless Chromium as
# an ordinary user; /etc as it was after the purge. ~2 min. Host unchanged.
package-test-systemd: package
	./installer/systemd-test.sh

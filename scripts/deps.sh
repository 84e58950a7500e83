#!/usr/bin/env bash
# Installs what `make test` needs that a fresh Debian or Ubuntu machine may
# lack. Idempotent; run as root (CI) or with sudo available.
set -euo pipefail
need=()
command -v go >/dev/null || { echo "deps: Go 1.21 or newer is required on PATH (it fetches the 1.26 toolchain itself); Debian/Ubuntu: apt-get install golang-go, or https://go.dev/dl" >&2; exit 1; }
command -v gcc >/dev/null || need+=(gcc)
command -v git >/dev/null || need+=(git)
# cgo headers for cmd/greengate-tray (Fyne/GLFW), which `go vet ./...` compiles;
# nftables, iproute2 and curl for agent/transparent's namespace test (root only).
for p in pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev nftables iproute2 curl ${EXTRA_DEBS:-}; do
	dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "deps: installing ${need[*]}"
	# Another apt (unattended upgrades on a fresh machine) may hold the lock:
	# wait for it rather than fail.
	apt=($sudo apt-get -o DPkg::Lock::Timeout=600)
	"${apt[@]}" update -qq
	DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
go mod download

#!/usr/bin/env bash
# Checks that imports follow the folders (DESIGN.md, STYLE.md habit 2):
# rules/ never imports agent/ or gui/; gui/ imports nothing from agent/
# but the admin API's client; nothing imports cmd/.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/greengate/greengate
bad=0
while read -r pkg imports; do
	for imp in $imports; do
		case "$pkg" in
		$mod/rules*)
			case "$imp" in $mod/agent* | $mod/gui* | $mod/cmd*)
				echo "lint: $pkg imports $imp (rules/ must not depend on agent/, gui/ or cmd/)"; bad=1 ;;
			esac ;;
		$mod/gui*)
			case "$imp" in $mod/agent/admin/client) ;; $mod/agent* | $mod/rules*)
				echo "lint: $pkg imports $imp (gui/ may use only agent/admin/client)"; bad=1 ;;
			esac ;;
		esac
		case "$imp" in $mod/cmd*)
			echo "lint: $pkg imports $imp (nothing imports a command)"; bad=1 ;;
		esac
	done
done < <(go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...)
gofmt_out=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$gofmt_out" ]; then
	echo "lint: not gofmt'ed:"; echo "$gofmt_out"; bad=1
fi
[ $bad -eq 0 ] && echo "lint: imports follow the folders; gofmt clean"
exit $bad

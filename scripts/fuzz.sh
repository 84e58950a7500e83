#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each.
# FUZZTIME (default 3s) sets how long; a crasher fails the run and is left
# in the package's testdata/fuzz for `go test` to replay.
set -euo pipefail
fuzztime=${FUZZTIME:-3s}
cd "$(dirname "$0")/.."
fail=0
count=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for t in $targets; do
		count=$((count + 1))
		echo "fuzz $pkg $t ($fuzztime)"
		if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/greengate-fuzz.$$ 2>&1; then
			cat /tmp/greengate-fuzz.$$
			fail=1
		fi
	done
done
rm -f /tmp/greengate-fuzz.$$
echo "fuzz: $count targets run"
exit $fail

#!/bin/sh
# Prints the version every package is stamped with: $VERSION when set,
# else the tag (v1.2.3... without the v), else 0.0.0+<commit>[-dirty]:
# a bare commit hash can start with a digit and would pass for a version.
if [ -n "${VERSION:-}" ]; then
	echo "$VERSION"
	exit 0
fi
d=$(git describe --tags --always --dirty 2>/dev/null || true)
d=${d#v}
case $d in
[0-9]*.[0-9]*) echo "$d" ;;
*) echo "0.0.0+${d:-unknown}" ;;
esac

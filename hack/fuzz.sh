#!/usr/bin/env bash
# fuzz.sh TIME: runs every Go fuzz target in the module for TIME each (go test runs one target at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-10s}
found=0
while IFS= read -r file; do
	pkg=./$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
		found=1
		echo "fuzz: $pkg $target for $time"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" "$pkg"
	done
done < <(git ls-files '*_test.go')
if [ "$found" = 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

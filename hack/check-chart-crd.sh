#!/usr/bin/env bash
# check-chart-crd.sh fails when the Helm chart's copy of the MemoryRecommendation CRD differs from
# config/crd, controller-gen's output. `make generate` refreshes both.
set -euo pipefail
cd "$(dirname "$0")/.."
src=config/crd/headroom.dev_memoryrecommendations.yaml
copy=charts/headroom/files/headroom.dev_memoryrecommendations.yaml
if ! cmp -s "$src" "$copy"; then
	echo "the chart's CRD $copy differs from $src (run make generate):" >&2
	diff -u "$src" "$copy" | head -20 >&2 || true
	exit 1
fi

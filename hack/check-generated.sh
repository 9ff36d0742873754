#!/usr/bin/env bash
# check-generated.sh fails when the committed generated files (deepcopy, CRD) differ from what
# controller-gen makes of api/ now. The working tree is left as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
files=(api/v1alpha1/zz_generated.deepcopy.go config/crd/headroom.dev_memoryrecommendations.yaml)
save=$(mktemp -d)
for f in "${files[@]}"; do mkdir -p "$save/$(dirname "$f")"; cp "$f" "$save/$f"; done
# Whatever happens (a failure, Ctrl-C), the committed files are put back as they were.
trap 'for f in "${files[@]}"; do cp "$save/$f" "$f"; done; rm -rf "$save"' EXIT
bin/controller-gen object paths=./api/... crd:crdVersions=v1 output:crd:artifacts:config=config/crd paths=./api/...
stale=0
for f in "${files[@]}"; do
	if ! cmp -s "$f" "$save/$f"; then
		echo "generated file is stale: $f (run make generate)" >&2
		diff -u "$save/$f" "$f" | head -20 >&2 || true
		stale=1
	fi
done
exit $stale

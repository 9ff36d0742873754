#!/usr/bin/env bash
# setup.sh installs what the tests and the demo need and is quiet when everything is present:
#   - Debian packages: prometheus (+promtool), a Java 17 runtime, chromium;
#   - kube-apiserver, kube-controller-manager, kubectl and etcd built from hack/tools,
#     helm and controller-gen from the Go module proxy.
# Built binaries are cached outside the clone, keyed by version, and linked into bin/, so a fresh
# clone on the same machine (which is what CI is) reuses them in seconds.
# Usage: hack/setup.sh [all|packages|tools]
set -euo pipefail

KUBE_VERSION=v1.37.2
HELM_VERSION=v3.22.0
CONTROLLER_TOOLS_VERSION=v0.23.0

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${HEADROOM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/headroom}
what=${1:-all}

log() { printf 'setup: %s\n' "$*" >&2; }

packages() {
	local want=()
	command -v prometheus >/dev/null && command -v promtool >/dev/null || want+=(prometheus)
	command -v java >/dev/null || want+=(openjdk-17-jre-headless)
	command -v chromium >/dev/null || want+=(chromium)
	[ ${#want[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing Debian packages: ${want[*]}; run as root or: sudo apt-get install ${want[*]}"
		return 1
	fi
	log "installing Debian packages: ${want[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
}

# build NAME CMD...: runs CMD (which writes $out/NAME.tmp) unless the cached binary exists.
build() {
	local name=$1; shift
	[ -x "$out/$name" ] && return 0
	local t0=$SECONDS
	log "building $name (first time on this machine; cached in $out)"
	if ! "$@" >"$out/$name.log" 2>&1; then
		tail -n 30 "$out/$name.log" >&2
		log "building $name failed; full log in $out/$name.log"
		return 1
	fi
	mv "$out/$name.tmp" "$out/$name"
	log "built $name in $((SECONDS - t0))s"
}

tools() {
	local kminor
	kminor=$(echo "${KUBE_VERSION#v}" | cut -d. -f2)
	# Without these helm assumes Kubernetes v1.20 for `helm template` and `helm lint`.
	local helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	helm_ldflags="$helm_ldflags -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor"
	helm_ldflags="$helm_ldflags -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor"
	# The key covers every input of the build, so a change of versions or flags builds into a new directory.
	local key
	key=$( (cat "$root/hack/tools/go.mod" "$root/hack/tools/go.sum" "$root"/hack/tools/*/main.go
		echo "$KUBE_VERSION $HELM_VERSION $CONTROLLER_TOOLS_VERSION $helm_ldflags") | sha256sum | cut -c1-12)
	out=$cache/tools-$key
	mkdir -p "$out"
	local ver="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor"
	ver="$ver -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kminor"
	for b in kube-apiserver kube-controller-manager kubectl etcd; do
		build "$b" go build -C "$root/hack/tools" -trimpath -ldflags "-s -w $ver" -o "$out/$b.tmp" "./$b"
	done
	build helm sh -c "GOBIN='$out/gobin' go install -trimpath -ldflags '$helm_ldflags' helm.sh/helm/v3/cmd/helm@$HELM_VERSION && mv '$out/gobin/helm' '$out/helm.tmp'"
	build controller-gen sh -c "GOBIN='$out/gobin' go install -trimpath sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION && mv '$out/gobin/controller-gen' '$out/controller-gen.tmp'"
	mkdir -p "$root/bin"
	for b in kube-apiserver kube-controller-manager kubectl etcd helm controller-gen; do
		ln -sfn "$out/$b" "$root/bin/$b"
	done
}

case $what in
all) packages; tools ;;
packages) packages ;;
tools) tools ;;
*) log "unknown step $what (want all, packages or tools)"; exit 2 ;;
esac

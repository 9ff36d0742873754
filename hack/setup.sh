#!/usr/bin/env bash
# setup.sh installs what the tests and the demo need and is quiet when everything is present:
#   - Debian packages: prometheus (+promtool), a Java 17 runtime, chromium;
#   - kube-apiserver, kube-controller-manager, kubectl and etcd built from hack/tools,
#     helm, controller-gen and benchstat from the Go module proxy.
# Built binaries are cached outside the clone, keyed by version, and linked into bin/, so a fresh
# clone on the same machine (which is what CI is) reuses them in seconds.
# Usage: hack/setup.sh [all|packages|tools]
set -euo pipefail

KUBE_VERSION=v1.37.2
HELM_VERSION=v3.22.0
CONTROLLER_TOOLS_VERSION=v0.23.0
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da # golang.org/x/perf

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

# build NAME KEY CMD...: unless $cache/NAME-<hash of KEY>/NAME exists, runs CMD, which writes OUT/NAME.tmp
# (the literal word OUT in CMD stands for that directory), then links bin/NAME to it. KEY names every
# input of the build, so a change of version or flags builds into a new directory and leaves the
# other tools alone.
build() {
	local name=$1 key=$2; shift 2
	local out=$cache/$name-$(printf '%s' "$key" | sha256sum | cut -c1-12)
	if [ ! -x "$out/$name" ]; then
		mkdir -p "$out"
		local t0=$SECONDS
		log "building $name (first time on this machine; cached in $out)"
		if ! "${@//OUT/$out}" >"$out/$name.log" 2>&1; then
			tail -n 30 "$out/$name.log" >&2
			log "building $name failed; full log in $out/$name.log"
			return 1
		fi
		mv "$out/$name.tmp" "$out/$name"
		log "built $name in $((SECONDS - t0))s"
	fi
	mkdir -p "$root/bin"
	ln -sfn "$out/$name" "$root/bin/$name"
}

# goinstall DIR NAME PACKAGE@VERSION [LDFLAGS]: builds a tool from the module proxy into DIR/NAME.tmp.
goinstall() {
	GOBIN="$1/gobin" go install -trimpath -ldflags "${4:-}" "$3" && mv "$1/gobin/$2" "$1/$2.tmp"
}

tools() {
	local kminor
	kminor=$(echo "${KUBE_VERSION#v}" | cut -d. -f2)
	local ver="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kminor"
	ver="$ver -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kminor"
	local kube
	kube=$(cat "$root/hack/tools/go.mod" "$root/hack/tools/go.sum" "$root"/hack/tools/*/main.go; echo "$ver")
	for b in kube-apiserver kube-controller-manager kubectl etcd; do
		build "$b" "$kube" go build -C "$root/hack/tools" -trimpath -ldflags "$ver" -o "OUT/$b.tmp" "./$b"
	done
	# Without the k8sVersion flags helm assumes Kubernetes v1.20 for `helm template` and `helm lint`.
	local helm="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
	helm="$helm -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor"
	helm="$helm -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor"
	build helm "$HELM_VERSION $helm" goinstall OUT helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$helm"
	build controller-gen "$CONTROLLER_TOOLS_VERSION" goinstall OUT controller-gen "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
	build benchstat "$BENCHSTAT_VERSION" goinstall OUT benchstat "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
}

case $what in
all) packages; tools ;;
packages) packages ;;
tools) tools ;;
*) log "unknown step $what (want all, packages or tools)"; exit 2 ;;
esac

#!/usr/bin/env bash
# bench.sh produces every figure docs/benchmarks.md quotes, on this machine, into out/bench/:
#   1. go test -bench of the hot paths (jvm, webhook admission, sizing, agent pass), 6 runs each,
#      summarised by benchstat (median ± spread);
#   2. hack/bench-webhook: HTTPS load at the webhook (c=1, c=8) and pod CREATE latency through a
#      real kube-apiserver with and without the webhook, in one run;
#   3. hack/recommender-scale: one recommender cycle over 10,000 workloads in 100 namespaces of
#      synthetic history in a real Prometheus (about 8 minutes, ~14 GiB of temporary disk).
# Usage: hack/bench.sh [go|webhook|recommender]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/bench
mkdir -p "$out"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(go webhook recommender)

machine() {
	echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(go version | cut -d' ' -f3)"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
}

for part in "${parts[@]}"; do
	case $part in
	go)
		echo "== 1. go test -bench (count 6)" | tee "$out/go.txt"
		machine | tee -a "$out/go.txt"
		go test -run '^$' -bench . -benchmem -count 6 -timeout 30m \
			./jvm/ ./webhook/ ./sizing/ ./agent/ ./history/ | tee "$out/go.raw"
		bin/benchstat "$out/go.raw" | tee -a "$out/go.txt"
		;;
	webhook)
		echo "== 2. webhook: HTTPS load and pod CREATE through kube-apiserver" | tee "$out/webhook.txt"
		machine | tee -a "$out/webhook.txt"
		go run ./hack/bench-webhook -root . -load-n 20000 -runs 3 -pods 500 | tee -a "$out/webhook.txt"
		;;
	recommender)
		echo "== 3. recommender: one cycle over 10,000 workloads" | tee "$out/recommender.txt"
		machine | tee -a "$out/recommender.txt"
		go test -tags scale -run TestScale -v -timeout 60m ./hack/recommender-scale | tee -a "$out/recommender.txt"
		;;
	*)
		echo "bench.sh: unknown part $part (want go, webhook or recommender)" >&2
		exit 2
		;;
	esac
done
echo "results in $out/"

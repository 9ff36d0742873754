// Package scenario generates reproducible memory history for tests, demos and benchmarks: a small
// spec (YAML under testdata/scenarios or Go values) becomes OpenMetrics text that promtool can
// backfill and history's file source reads, plus matching workload manifests. It models the kernel
// (cache capped at the limit, OOM kills on anon) and the JVM (RSS follows committed heap).
// Test support only: the product must not import it.
package scenario

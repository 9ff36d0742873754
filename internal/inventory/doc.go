// Package inventory reads what the cluster says about a namespace for the offline commands (the
// report): its headroom.dev/mode label, its workloads' pod templates (as manifest.Workload, so
// the code that reads -f manifests reads them too), their MemoryRecommendations and the
// LimitRange maximum. It only reads, through a controller-runtime client.Reader; the pure
// packages (sizing, jvm, history, report) must not import it.
package inventory

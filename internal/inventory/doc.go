// Package inventory reads what the cluster says about a namespace: its headroom.dev/mode label,
// its workloads' pod templates (as manifest.Workload, so the code that reads -f manifests reads
// them too), their MemoryRecommendations and the LimitRange maximum (Load), and joins workload
// specs, from the cluster or from manifests, with history into the report's input (Specs), for
// `headroom report` and the recommender's /report. It only reads, through a controller-runtime
// client.Reader; the pure packages (sizing, jvm, history, report) must not import it.
package inventory

// Package history reads per-pod memory history for the sizing model: one Source interface, a
// Prometheus implementation (server-side aggregation, per-namespace queries; client_golang's HTTP
// client, and answers decoded as they stream in, with jsontext, straight into sizing.Series) and an
// OpenMetrics file implementation that evaluates the same queries on a file.
// It must not import Kubernetes packages (k8s.io/..., sigs.k8s.io/...): workloads are named from metrics.
package history

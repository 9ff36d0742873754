// Package sizing is headroom's memory model: from per-pod memory time series it computes the observed
// figures (RSS, page-cache growth and plateau, heap, OOM kills) and recommends a memory limit, request and -Xmx.
// It is pure and deterministic: it must not import Kubernetes (k8s.io/..., sigs.k8s.io/...) or touch the network.
package sizing

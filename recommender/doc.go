// Package recommender keeps one MemoryRecommendation per workload up to date from memory history.
//
// A cycle (Recommender.RunOnce; Start runs one at start, then every interval, and retries the
// namespaces whose history could not be read with backoff) lists the served namespaces from the
// informer cache, reads each namespace's history with one history.Load (a fixed number of queries,
// never one per workload), sizes every workload against its current pod template (Size, shared with
// the offline `headroom recommend`), and writes with server-side apply only what changed. History
// that cannot be read never replaces a recommendation: the objects keep theirs and say so in the
// PrometheusUnavailable condition. convert.go maps sizing results to the v1alpha1 API.
//
// It may import Kubernetes packages; sizing and history must not import it, and it must not import
// webhook (the webhook only reads what this package writes).
package recommender

// Package manifest decodes Kubernetes manifests (multi-document YAML or JSON, Lists included) into
// the workloads headroom sizes: Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs
// and Pods, each with a pointer to its pod spec so that callers can read or edit it in place.
// It is used by the offline commands (recommend, mutate); the pure packages must not import it.
package manifest

package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Result label values of headroom_agent_reclaims_total.
const (
	ResultSuccess = "success"
	ResultPartial = "partial"
	ResultError   = "error"
)

// Reason label values of headroom_agent_skipped_total: containers that were over the threshold but
// were not reclaimed this pass.
const (
	SkipPodInterval = "pod-min-interval"
	SkipNodeRate    = "node-rate"
	SkipDryRun      = "dry-run"
	SkipNotCache    = "not-cache"
)

// Labels are bounded (methods, results, reasons above); no pod or namespace labels: events and logs
// carry those.
var (
	reclaimsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_agent_reclaims_total",
		Help: "Page cache reclaims the agent ran, by method (memory.reclaim, force_empty, fadvise, drop_caches) and result (success, partial, error).",
	}, []string{"method", "result"})
	reclaimedBytesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "headroom_agent_reclaimed_bytes_total",
		Help: "Page cache bytes (active_file + inactive_file) freed in the containers the agent reclaimed.",
	})
	skippedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_agent_skipped_total",
		Help: "Containers over the threshold that the agent did not reclaim, by reason (pod-min-interval, node-rate, dry-run, not-cache).",
	}, []string{"reason"})
	cgroupErrorsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "headroom_agent_cgroup_errors_total",
		Help: "Running containers whose memory cgroup could not be found or read.",
	})
	passSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "headroom_agent_pass_duration_seconds",
		Help:    "Wall time of one pass over this node's containers, reclaims included.",
		Buckets: []float64{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10},
	})
)

func init() {
	metrics.Registry.MustRegister(reclaimsTotal, reclaimedBytesTotal, skippedTotal, cgroupErrorsTotal, passSeconds)
}

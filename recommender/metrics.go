package recommender

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Workload states counted by headroom_recommender_workloads.
const (
	StateRecommended  = "recommended"          // every container has a recommendation from fresh history
	StateKept         = "kept"                 // history became too short: the last good recommendation stays
	StateInsufficient = "insufficient-history" // some container has history, but less than minHistory
	StateNoHistory    = "no-history"           // history knows nothing of the workload
	StateUnavailable  = "unavailable"          // the namespace's history could not be read
)

var states = []string{StateRecommended, StateKept, StateInsufficient, StateNoHistory, StateUnavailable}

// Metrics on controller-runtime's registry. Labels are bounded: no namespace or workload labels.
var (
	cycleSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "headroom_recommender_cycle_seconds",
		Help:    "Duration of recommender cycles (full cycles and retries of namespaces whose history could not be read).",
		Buckets: []float64{0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600},
	})
	workloadsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "headroom_recommender_workloads",
		Help: "Workloads in served namespaces by state after the last full cycle: recommended, kept (last good recommendation kept because history became too short), insufficient-history, no-history, unavailable (history could not be read).",
	}, []string{"state"})
	queriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_history_queries_total",
		Help: "Prometheus queries (attempts) made to read history, by result: success or error.",
	}, []string{"result"})
	writesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_recommender_writes_total",
		Help: "MemoryRecommendation writes by result: created, updated, unchanged (no request needed), error.",
	}, []string{"result"})
	namespacesGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "headroom_recommender_namespaces",
		Help: "Served namespaces by state after the last full cycle: ok, unavailable (history could not be read), error (listing workloads or the namespace's policy failed).",
	}, []string{"state"})
	lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "headroom_recommender_last_success_timestamp_seconds",
		Help: "Unix time at which the last cycle ended that read the history of every served namespace. Alert when it is older than a few intervals.",
	})
)

func init() {
	metrics.Registry.MustRegister(cycleSeconds, workloadsGauge, queriesTotal, writesTotal, namespacesGauge, lastSuccess)
	for _, r := range []string{"success", "error"} {
		queriesTotal.WithLabelValues(r)
	}
	for _, r := range []string{string(Created), string(Updated), string(Unchanged), "error"} {
		writesTotal.WithLabelValues(r)
	}
}

// queries counts query attempts for the cycle summary (the counter above is for Prometheus).
var queries atomic.Int64

// ObserveQuery counts one history query attempt: pass it as history.PrometheusOptions.Observe.
func ObserveQuery(result string) {
	queriesTotal.WithLabelValues(result).Inc()
	queries.Add(1)
}

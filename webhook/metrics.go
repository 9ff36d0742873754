package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	admissionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "headroom_webhook_admissions_total",
		Help: "Pod admissions handled by the headroom webhook, by outcome (sized, dry-run, unchanged, no-recommendation, no-workload, opted-out, skipped-invalid, skipped-quota, not-ready, ignored, error). Every outcome allows the pod.",
	}, []string{"outcome"})
	admissionDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "headroom_webhook_admission_duration_seconds",
		Help: "Time the headroom webhook spent on one admission, from reading the request to writing the response.",
		// 25us .. 100ms: the handler takes tens of microseconds; the API server gives up at 3 s.
		Buckets: []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3},
	})
	// outcomeCounters avoids a label lookup per admission.
	outcomeCounters = map[Outcome]prometheus.Counter{}
)

func init() {
	metrics.Registry.MustRegister(admissionsTotal, admissionDuration)
	for _, o := range Outcomes {
		outcomeCounters[o] = admissionsTotal.WithLabelValues(string(o))
	}
}

func observe(o Outcome, d time.Duration) {
	c, ok := outcomeCounters[o]
	if !ok {
		c = outcomeCounters[OutcomeError]
	}
	c.Inc()
	admissionDuration.Observe(d.Seconds())
}

package sizing_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/sizing"
)

// loadScenario generates a committed scenario's history and reads it back through the file source,
// with the default window (7 days at 5m, ending where the scenario ends).
func loadScenario(t testing.TB, name string) (*scenario.Spec, *history.Namespace) {
	t.Helper()
	spec, err := scenario.Load(filepath.Join("..", "testdata", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := scenario.Write(&buf, spec); err != nil {
		t.Fatal(err)
	}
	src, err := history.ReadFile(&buf, history.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lookback := sizing.Default().Lookback.D()
	w, err := history.NewWindow(spec.End, lookback, history.DefaultStep(lookback))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := src.Load(context.Background(), spec.Namespace, w)
	if err != nil {
		t.Fatal(err)
	}
	return spec, ns
}

// near reports whether got is within frac of want.
func near(got, want int64, frac float64) bool {
	d := float64(got - want)
	return d <= frac*float64(want) && -d <= frac*float64(want)
}

type expect struct {
	limit, request, xmx int64 // exact; xmx 0 = heap left alone
	changed             bool
	err                 error
	reason              []string
	figures             func(t *testing.T, o sizing.Observed, m sizing.Model)
}

func TestScenarioLibrary(t *testing.T) {
	tests := map[string]struct {
		scenario  string
		workloads map[string]expect // kind/name/container
	}{
		"the seed case: a 2000m heap mostly unused, logs pinning usage at the limit": {
			scenario: "seed-jvm-logs",
			workloads: map[string]expect{"Deployment/orders/app": {
				limit: 3776 * Mi, request: 592 * Mi, xmx: 320 * Mi, changed: true,
				reason: []string{"-Xmx 2000m -> 320m as heap use peaks at 153Mi", "24h of growth at 100Mi/h", "the old limit capped the cache"},
				figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
					if !near(o.CacheGrowthBytesPerHour, 100*Mi, 0.05) || !near(o.NonHeapBytes, 180*Mi, 0.08) ||
						!near(o.HeapUsedPeakBytes, 160e6, 0.05) || o.HeapCommittedPeakBytes != 2000*Mi ||
						!near(o.RSSPeakBytes, 2.28e9, 0.03) || !o.LimitBound || o.Pods != 6 || o.OOMKills != 0 {
						t.Errorf("figures off the generator's truth: %+v", o)
					}
					if m.PlateauKnown {
						t.Error("the capped level was taken for a plateau")
					}
				},
			}},
		},
		"a Go service whose cache levels off at 200Mi": {
			scenario: "service-bounded-cache",
			workloads: map[string]expect{"Deployment/catalog-api/api": {
				limit: 720 * Mi, request: 384 * Mi, changed: true,
				reason: []string{"Limit 1024Mi -> 720Mi", "RSS peak 322Mi", "levels off at 200Mi"},
				figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
					if !m.PlateauKnown || m.Plateau != 200*Mi || !near(o.CacheGrowthBytesPerHour, 60*Mi, 0.05) || o.LimitBound {
						t.Errorf("figures: %+v model %+v", o, m)
					}
				},
			}},
		},
		"a read-heavy StatefulSet with a 1.2Gi active file set, recreated under the same names": {
			scenario: "read-heavy-active-file",
			workloads: map[string]expect{"StatefulSet/index/search": {
				limit: 2800 * Mi, request: 1952 * Mi, changed: true,
				reason: []string{"Limit 4096Mi -> 2800Mi", "levels off at 1500Mi"},
				figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
					if !near(o.ActiveFilePeakBytes, 1200*Mi, 0.01) || !m.PlateauKnown || m.Plateau != 1500*Mi ||
						!near(o.CacheGrowthBytesPerHour, 400*Mi, 0.05) || o.Pods != 2 {
						t.Errorf("figures: %+v model %+v", o, m)
					}
				},
			}},
		},
		"a bursty worker OOM-killed once": {
			scenario: "bursty-oom",
			workloads: map[string]expect{"Deployment/report-worker/worker": {
				limit: 1920 * Mi, request: 1424 * Mi, changed: true,
				reason: []string{"bumped to 1229Mi after 1 OOM kill", "levels off at 120Mi"},
				figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
					if o.OOMKills != 1 || !near(o.CacheGrowthBytesPerHour, 5*Mi, 0.05) || o.LimitBound {
						t.Errorf("figures: %+v", o)
					}
				},
			}},
		},
		"a workload with ten hours of history": {
			scenario: "too-little-history",
			workloads: map[string]expect{"Deployment/signup/app": {
				limit: 512 * Mi, request: 256 * Mi, err: sizing.ErrInsufficientHistory,
				reason: []string{"Insufficient history: 9h45m of the 24h needed; left unchanged."},
			}},
		},
		"thirty frontend pods from rolling restarts, named only by their pod names": {
			scenario: "rolling-restarts",
			workloads: map[string]expect{"Deployment/frontend/web": {
				limit: 1008 * Mi, request: 320 * Mi, changed: true,
				reason: []string{"Limit 768Mi -> 1008Mi", "24h of growth at 20Mi/h", "the old limit capped the cache"},
				figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
					if o.Pods != 30 || !near(o.CacheGrowthBytesPerHour, 20*Mi, 0.05) || !o.LimitBound {
						t.Errorf("figures: %+v", o)
					}
				},
			}},
		},
		"a JVM without heap metrics, and one with JMX-exporter metrics next to a sidecar": {
			scenario: "jvm-without-heap-metrics",
			workloads: map[string]expect{
				"Deployment/billing/billing": {
					limit: 2048 * Mi, request: 1472 * Mi, changed: true,
					reason: []string{"Limit stays 2048Mi (computed 2032Mi", "-Xmx 1024m + non-heap 254Mi"},
					figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
						if o.HeapUsedPeakBytes != 0 || !near(o.NonHeapBytes, 254*Mi, 0.01) {
							t.Errorf("figures: %+v", o)
						}
					},
				},
				"Deployment/ledger/ledger": {
					limit: 3072 * Mi, request: 2048 * Mi, xmx: 1408 * Mi, changed: true,
					reason: []string{"-Xmx 2048m -> 1408m as heap use peaks at 700Mi"},
					figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
						if !near(o.NonHeapBytes, 300*Mi, 0.03) || o.HeapCommittedPeakBytes != 2048*Mi {
							t.Errorf("heap metrics without a container label were not given to the JVM: %+v", o)
						}
					},
				},
				"Deployment/ledger/proxy": {
					limit: 128 * Mi, request: 80 * Mi, changed: true,
					figures: func(t *testing.T, o sizing.Observed, m sizing.Model) {
						if o.HeapUsedPeakBytes != 0 {
							t.Errorf("the sidecar got the JVM's heap metrics: %+v", o)
						}
					},
				},
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			spec, ns := loadScenario(t, tt.scenario)
			seen := 0
			for _, w := range ns.Workloads {
				for _, c := range w.Containers {
					key := w.Key.Kind + "/" + w.Key.Name + "/" + c.Name
					want, ok := tt.workloads[key]
					if !ok {
						t.Errorf("unexpected workload container %s", key)
						continue
					}
					seen++
					r, err := sizing.Recommend(sizing.Default(), c, spec.Current(w.Key.Name, c.Name))
					if !errors.Is(err, want.err) {
						t.Errorf("%s: err = %v, want %v", key, err, want.err)
					}
					if r.Limit != want.limit || r.Request != want.request || r.Xmx != want.xmx || r.Changed != want.changed {
						t.Errorf("%s: limit %s request %s xmx %s changed %v; want %s %s %s %v\nreason: %s", key,
							sizing.FormatBytes(r.Limit), sizing.FormatBytes(r.Request), sizing.FormatBytes(r.Xmx), r.Changed,
							sizing.FormatBytes(want.limit), sizing.FormatBytes(want.request), sizing.FormatBytes(want.xmx), want.changed, r.Reason)
					}
					for _, s := range want.reason {
						if !strings.Contains(r.Reason, s) {
							t.Errorf("%s: reason %q\ndoes not contain %q", key, r.Reason, s)
						}
					}
					if want.figures != nil {
						want.figures(t, r.Observed, r.Model)
					}
				}
			}
			if seen != len(tt.workloads) {
				t.Errorf("found %d of %d expected workload containers", seen, len(tt.workloads))
			}
		})
	}
}

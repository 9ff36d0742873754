package history_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/sizing"
)

// TestPrometheusAndFileAgree backfills every committed scenario into a real Prometheus and checks
// that the Prometheus source returns exactly the samples the file source computes from the file,
// hence the same recommendations, with a fixed number of queries per namespace.
func TestPrometheusAndFileAgree(t *testing.T) {
	paths, err := filepath.Glob("../testdata/scenarios/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	var specs []*scenario.Spec
	for _, p := range paths {
		s, err := scenario.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	file := filepath.Join(t.TempDir(), "history.om")
	if err := scenario.WriteFile(file, specs...); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, file)
	fileSrc, err := history.OpenFile(file, history.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var queries atomic.Int64
	promSrc, err := history.NewPrometheus(history.PrometheusOptions{URL: prom.URL, Observe: func(string) { queries.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lookback := sizing.Default().Lookback.D()

	t.Run("the same namespaces", func(t *testing.T) {
		w, _ := history.NewWindow(specs[0].End, lookback, history.DefaultStep(lookback))
		a, errA := fileSrc.Namespaces(ctx, w)
		b, errB := promSrc.Namespaces(ctx, w)
		if errA != nil || errB != nil || !cmp.Equal(a, b) || len(a) != len(specs) {
			t.Errorf("file %v (%v), prometheus %v (%v)", a, errA, b, errB)
		}
	})
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			for _, step := range []time.Duration{history.DefaultStep(lookback), s.Interval.D()} {
				w, err := history.NewWindow(s.End, lookback, step)
				if err != nil {
					t.Fatal(err)
				}
				fromFile, err := fileSrc.Load(ctx, s.Namespace, w)
				if err != nil {
					t.Fatal(err)
				}
				before := queries.Load()
				fromProm, err := promSrc.Load(ctx, s.Namespace, w)
				if err != nil {
					t.Fatal(err)
				}
				if n := queries.Load() - before; n != int64(history.QueriesPerNamespace) {
					t.Errorf("step %s: %d queries for the namespace, want %d", step, n, history.QueriesPerNamespace)
				}
				if len(fromFile.Workloads) == 0 {
					t.Fatal("no workloads")
				}
				if diff := cmp.Diff(fromFile, fromProm); diff != "" {
					t.Fatalf("step %s: file and Prometheus differ (-file +prometheus):\n%s", step, diff)
				}
				for i, wl := range fromFile.Workloads {
					for j, c := range wl.Containers {
						a, errA := sizing.Recommend(sizing.Default(), c, sizing.Current{Limit: c.LastLimit()})
						b, errB := sizing.Recommend(sizing.Default(), fromProm.Workloads[i].Containers[j], sizing.Current{Limit: c.LastLimit()})
						if diff := cmp.Diff(a, b); diff != "" || (errA == nil) != (errB == nil) {
							t.Errorf("%s/%s: recommendations differ:\n%s", wl.Key, c.Name, diff)
						}
					}
				}
			}
		})
	}
	t.Run("ranges longer than the point limit are split and give the same samples", func(t *testing.T) {
		s := specs[0]
		chunked, err := history.NewPrometheus(history.PrometheusOptions{URL: prom.URL, MaxPoints: 1000})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := history.NewWindow(s.End, lookback, s.Interval.D()) // 5,041 points at 2m: 6 chunks
		a, err := fileSrc.Load(ctx, s.Namespace, w)
		if err != nil {
			t.Fatal(err)
		}
		b, err := chunked.Load(ctx, s.Namespace, w)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("(-file +chunked prometheus):\n%s", diff)
		}
	})
	t.Run("a Prometheus that went away fails the load instead of returning partial data", func(t *testing.T) {
		prom.Stop()
		defer prom.Start()
		w, _ := history.NewWindow(specs[0].End, lookback, history.DefaultStep(lookback))
		quick, _ := history.NewPrometheus(history.PrometheusOptions{URL: prom.URL, Backoff: time.Millisecond})
		if ns, err := quick.Load(ctx, specs[0].Namespace, w); err == nil || ns != nil {
			t.Errorf("Load = %v, %v; want an error and no data", ns, err)
		}
	})
}

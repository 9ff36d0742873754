package recommender

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/report"
)

// TestReport builds the report from the last cycle of the fake cluster (see newCluster), in which
// shop overrides the policy with a 2h horizon.
func TestReport(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	c.setPolicy(t, "shop", "{horizon: 2h}")
	r := c.recommender(t)
	status := func(t *testing.T, query string) int {
		t.Helper()
		rec := httptest.NewRecorder()
		report.Handler(r.Report).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/report"+query, nil))
		return rec.Code
	}

	t.Run("before the first cycle every request is a 503", func(t *testing.T) {
		for _, q := range []string{"?namespace=shop", ""} {
			if got := status(t, q); got != http.StatusServiceUnavailable {
				t.Errorf("%q: %d", q, got)
			}
		}
	})
	if st := r.RunOnce(ctx); st.Err != nil {
		t.Fatal(st.Err)
	}

	t.Run("a namespace: the cycle's results, with the namespace's policy", func(t *testing.T) {
		// The row must show the cycle's result, not one computed again: mark it.
		r.Last("shop").Workloads[0].Containers[0].Recommendation.Reason = "From the last cycle."
		t.Cleanup(func() { r.RunOnce(ctx) })
		loads := c.src.loadCount()["shop"]
		got, err := r.Report(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if n := c.src.loadCount()["shop"] - loads; n != 1 {
			t.Errorf("%d history loads of shop for its report, want 1", n)
		}
		if len(got.Namespaces) != 1 || len(got.Namespaces[0].Rows) != 1 {
			t.Fatalf("report %+v", got.Namespaces)
		}
		nr, row := got.Namespaces[0], got.Namespaces[0].Rows[0]
		mr := get(t, c.client, "shop", "deployment-orders")
		limit := mr.Status.Containers[0].Limit.Value()
		if limit == 3776<<20 {
			t.Fatal("the test needs the namespace's policy to give another limit than the global one")
		}
		if nr.Mode != mode.Enforce || got.Policy.Horizon != "2h" || !got.GeneratedAt.Equal(scenarioEnd) {
			t.Errorf("mode %s, horizon %s, generated at %v", nr.Mode, got.Policy.Horizon, got.GeneratedAt)
		}
		type fields struct {
			Namespace, Kind, Workload, Container, SpecSource string
			Recommended, Published                           int64
			Reason                                           string
		}
		want := fields{"shop", "Deployment", "orders", "app", report.SourceCluster, limit, limit, "From the last cycle."}
		if diff := cmp.Diff(want, fields{row.Namespace, row.Kind, row.Workload, row.Container, row.SpecSource,
			row.RecommendedLimitBytes, row.PublishedLimitBytes, row.Reason}); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
		if len(row.Series) == 0 {
			t.Error("no chart series")
		}
	})

	t.Run("a namespace without results is unknown", func(t *testing.T) {
		for _, ns := range []string{"batch", "catalog", "no-such-namespace"} {
			if _, err := r.Report(ctx, ns); !errors.Is(err, report.ErrUnknownNamespace) {
				t.Errorf("%s: err = %v, want ErrUnknownNamespace", ns, err)
			}
		}
		if got := status(t, "?namespace=batch"); got != http.StatusNotFound {
			t.Errorf("batch: %d, want 404", got)
		}
	})

	t.Run("a template changed since the cycle is sized afresh", func(t *testing.T) {
		var d appsv1.Deployment
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "orders"}, &d); err != nil {
			t.Fatal(err)
		}
		d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("4000Mi")
		if err := c.client.Update(ctx, &d); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			d.Spec.Template.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("3000Mi")
			if err := c.client.Update(ctx, &d); err != nil {
				t.Error(err)
			}
		})
		got, err := r.Report(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		row := got.Namespaces[0].Rows[0]
		if row.LimitBytes != 4000<<20 || !strings.Contains(row.Reason, "4000Mi") {
			t.Errorf("limit %d, reason %q: want the new template's 4000Mi in both", row.LimitBytes, row.Reason)
		}
	})

	t.Run("every namespace: one after the other, without charts", func(t *testing.T) {
		got, err := r.Report(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, nr := range got.Namespaces {
			names = append(names, nr.Name)
			for _, row := range nr.Rows {
				if row.Series != nil {
					t.Errorf("%s/%s has a chart", nr.Name, row.Workload)
				}
			}
		}
		if diff := cmp.Diff(r.Namespaces(), names); diff != "" {
			t.Errorf("namespaces (-want +got):\n%s", diff)
		}
		// The summary of every namespace is what one Build over all of them adds up.
		in := report.Input{GeneratedAt: scenarioEnd, Policy: r.opts.Policy}
		for _, ns := range r.Namespaces() {
			ni, err := r.namespaceInput(ctx, r.Last(ns))
			if err != nil {
				t.Fatal(err)
			}
			in.Namespaces = append(in.Namespaces, ni)
		}
		want := report.Build(in)
		if diff := cmp.Diff(want.Summary, got.Summary); diff != "" {
			t.Errorf("summary (-one build +added up):\n%s", diff)
		}
		if got.Summary.Workloads != 4 || got.Policy.Horizon != r.opts.Policy.Horizon.String() ||
			got.Window.End.Sub(got.Window.Start) != r.opts.lookback(r.opts.Policy) {
			t.Errorf("summary %+v, policy %+v, window %+v", got.Summary, got.Policy, got.Window)
		}
		if code := status(t, "?format=csv"); code != http.StatusOK {
			t.Errorf("all namespaces as CSV: %d", code)
		}
	})
}

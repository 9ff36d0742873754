package recommender

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/report"
)

// TestIntegration runs the recommender against a real kube-apiserver (with the garbage collector
// of kube-controller-manager) and a real Prometheus backfilled with the committed scenarios:
// one cycle creates the objects `headroom recommend` computes offline, Prometheus going down keeps
// them and flips the condition, and coming back recovers them.
func TestIntegration(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var specs []*scenario.Spec
	for _, name := range []string{"seed-jvm-logs", "read-heavy-active-file", "too-little-history", "bursty-oom"} {
		specs = append(specs, loadScenario(t, name))
	}
	file := filepath.Join(t.TempDir(), "history.om")
	if err := scenario.WriteFile(file, specs...); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, file)
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{
		CRDPaths:          []string{filepath.Join(root, "config", "crd")},
		ControllerManager: true,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for ns, m := range map[string]mode.Mode{"shop": mode.Enforce, "search": mode.DryRun, "fresh": "", "batch": mode.Off} {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if m != "" {
			n.Labels = map[string]string{mode.Key: string(m)}
		}
		if err := admin.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	uids := map[string]string{}
	for _, o := range workloadObjects(t, specs...) {
		o.SetUID("")
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
		uids[o.GetNamespace()+"/"+o.GetName()] = string(o.GetUID())
	}

	src, err := history.NewPrometheus(history.PrometheusOptions{URL: prom.URL, Timeout: 10 * time.Second, Attempts: 2,
		Backoff: 100 * time.Millisecond, Observe: ObserveQuery})
	if err != nil {
		t.Fatal(err)
	}
	now := scenarioEnd
	healthAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	mgr, r, err := NewManager(cp.Config, ManagerOptions{MetricsBindAddress: metricsAddr, HealthProbeBindAddress: healthAddr},
		Options{Source: src, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// As `headroom recommender` mounts it.
	if err := mgr.AddMetricsServerExtraHandler("/report", report.Handler(r.Report)); err != nil {
		t.Fatal(err)
	}
	mgrDone := make(chan error)
	go func() { mgrDone <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-mgrDone; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	testenv.WaitFor(t, 30*time.Second, "/readyz", func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + healthAddr + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
	cache := mgr.GetCache()
	// waitCached waits until the cache shows the objects as the API does, so that the next cycle
	// compares with what was written.
	waitCached := func(n int) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, "the cache to catch up", func(ctx context.Context) (bool, error) {
			var api, cached v1alpha1.MemoryRecommendationList
			if err := admin.List(ctx, &api); err != nil {
				return false, err
			}
			if err := cache.List(ctx, &cached); err != nil {
				return false, err
			}
			rv := map[string]string{}
			for _, o := range cached.Items {
				rv[o.Namespace+"/"+o.Name] = o.ResourceVersion
			}
			for _, o := range api.Items {
				if rv[o.Namespace+"/"+o.Name] != o.ResourceVersion {
					return false, fmt.Errorf("%s/%s not cached yet", o.Namespace, o.Name)
				}
			}
			return len(api.Items) == n, fmt.Errorf("%d objects", len(api.Items))
		})
	}
	getMR := func(ns, name string) *v1alpha1.MemoryRecommendation { return get(t, admin, ns, name) }
	objects := map[string]string{"shop": "deployment-orders", "search": "statefulset-index", "fresh": "deployment-signup"}
	getReport := func(t *testing.T, query string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get("http://" + metricsAddr + "/report" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	if resp, body := getReport(t, "?namespace=shop"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the report before the first cycle: %s %s", resp.Status, body)
	}

	t.Run("one cycle creates the recommendations headroom recommend computes offline", func(t *testing.T) {
		st := r.RunOnce(ctx)
		if st.Err != nil {
			t.Fatal(st.Err)
		}
		if want := int64(1 + 3*history.QueriesPerNamespace); st.Queries != want {
			t.Errorf("%d queries, want %d: one namespace list and %d per namespace with workloads and history", st.Queries, want, history.QueriesPerNamespace)
		}
		for ns, file := range map[string]string{"shop": "seed-jvm-logs.yaml", "search": "read-heavy-active-file.yaml", "fresh": "too-little-history.yaml"} {
			for name, want := range golden(t, file) {
				got := getMR(ns, name)
				if diff := cmp.Diff(want.Status.Containers, got.Status.Containers); diff != "" {
					t.Errorf("%s/%s (-offline +recommender):\n%s", ns, name, diff)
				}
				owner := []metav1.OwnerReference{{APIVersion: want.Spec.TargetRef.APIVersion, Kind: want.Spec.TargetRef.Kind,
					Name: want.Spec.TargetRef.Name, UID: typesUID(uids[ns+"/"+want.Spec.TargetRef.Name])}}
				if diff := cmp.Diff(owner, got.OwnerReferences); diff != "" {
					t.Errorf("%s/%s owner references (-want +got):\n%s", ns, name, diff)
				}
			}
		}
		if got := conditions(getMR("shop", "deployment-orders")); got["Ready"] != "True/Computed" || got["PrometheusUnavailable"] != "False/HistoryRead" {
			t.Errorf("shop conditions %v", got)
		}
		if got := conditions(getMR("fresh", "deployment-signup")); got["InsufficientHistory"] != "True/InsufficientHistory" {
			t.Errorf("fresh conditions %v", got)
		}
		var off v1alpha1.MemoryRecommendationList
		if err := admin.List(ctx, &off, client.InNamespace("batch")); err != nil || len(off.Items) != 0 {
			t.Errorf("namespace batch is off but has %d recommendations (%v)", len(off.Items), err)
		}
		if v := metricValue(t, "headroom_recommender_workloads", StateRecommended); v != 2 {
			t.Errorf("headroom_recommender_workloads{state=recommended} = %v", v)
		}
		waitCached(3)
		if st := r.RunOnce(ctx); st.Writes[Unchanged] != 3 || st.Writes[Created]+st.Writes[Updated] != 0 {
			t.Errorf("a second cycle on the same history wrote: %v", st.Writes)
		}
	})

	t.Run("the metrics port serves the report of the last cycle", func(t *testing.T) {
		for ns, name := range objects {
			resp, body := getReport(t, "?format=json&namespace="+ns)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s: %s %s", ns, resp.Status, body)
			}
			var got report.Report
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			mr := getMR(ns, name)
			if len(got.Namespaces) != 1 || len(got.Namespaces[0].Rows) != len(mr.Status.Containers) {
				t.Fatalf("%s: report %s", ns, body)
			}
			for _, row := range got.Namespaces[0].Rows {
				if row.Kind != mr.Spec.TargetRef.Kind || row.Workload != mr.Spec.TargetRef.Name || row.SpecSource != report.SourceCluster {
					t.Errorf("%s: row of %s %s from %s, want %s %s from the cluster", ns, row.Kind, row.Workload, row.SpecSource,
						mr.Spec.TargetRef.Kind, mr.Spec.TargetRef.Name)
				}
				want := mr.Status.Containers[0]
				switch {
				case want.Limit == nil && row.Action != report.ActionNoHistory:
					t.Errorf("%s: no recommended limit, but the row says %s", ns, row.Action)
				case want.Limit != nil && (row.RecommendedLimitBytes != want.Limit.Value() || row.PublishedLimitBytes != want.Limit.Value()):
					t.Errorf("%s: recommended limit %d, published %d; the MemoryRecommendation says %s", ns,
						row.RecommendedLimitBytes, row.PublishedLimitBytes, want.Limit)
				}
			}
		}
		// The trimmed cache keeps what the report reads besides sizing: the mode label and replicas.
		var orders appsv1.Deployment
		if err := admin.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "orders"}, &orders); err != nil {
			t.Fatal(err)
		}
		_, body := getReport(t, "?format=json&namespace=shop")
		var shop report.Report
		if err := json.Unmarshal(body, &shop); err != nil {
			t.Fatal(err)
		}
		if nr := shop.Namespaces[0]; nr.Mode != mode.Enforce || nr.Rows[0].Replicas != int(*orders.Spec.Replicas) || nr.Rows[0].XmxBytes != 2000<<20 {
			t.Errorf("shop: mode %s, %d replicas (want %d), -Xmx %d", nr.Mode, nr.Rows[0].Replicas, *orders.Spec.Replicas, nr.Rows[0].XmxBytes)
		}

		resp, page := getReport(t, "?namespace=shop")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(page), `data-row="shop/Deployment/orders/app"`) || !strings.Contains(string(page), `<svg class="chart"`) {
			t.Errorf("HTML: %s %s, %.300s...", resp.Status, resp.Header.Get("Content-Type"), page)
		}
		for _, ns := range []string{"batch", "no-such-namespace"} {
			if resp, body := getReport(t, "?namespace="+ns); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %s %s, want 404", ns, resp.Status, body)
			}
		}
	})

	// Another writer adds a label and a condition of its own: the recommender's applies must
	// neither remove nor claim them.
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "headroom.dev/v1alpha1", "kind": "MemoryRecommendation",
		"metadata": map[string]any{"name": "deployment-orders", "namespace": "shop"},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Reviewed", "status": "True", "reason": "ByHand",
			"message": "checked by the platform team", "lastTransitionTime": "2026-11-20T00:00:00Z"}}},
	}}
	if err := admin.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(other), client.FieldOwner("platform-team")); err != nil {
		t.Fatal(err)
	}
	label := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "headroom.dev/v1alpha1", "kind": "MemoryRecommendation",
		"metadata": map[string]any{"name": "deployment-orders", "namespace": "shop", "labels": map[string]any{"team": "payments"}},
	}}
	if err := admin.Apply(ctx, client.ApplyConfigurationFromUnstructured(label), client.FieldOwner("platform-team")); err != nil {
		t.Fatal(err)
	}
	before := map[string]*v1alpha1.MemoryRecommendation{}
	for ns, name := range objects {
		before[ns] = getMR(ns, name)
	}
	waitCached(3)

	t.Run("Prometheus down: the recommendations stay and the condition flips", func(t *testing.T) {
		prom.Stop()
		now = scenarioEnd.Add(time.Hour)
		st := r.RunOnce(ctx)
		if st.Err == nil || len(st.Unavailable) == 0 || st.Workloads[StateUnavailable] != 3 {
			t.Fatalf("stats %+v", st)
		}
		for _, ns := range []string{"shop", "search", "fresh"} {
			if !strings.Contains(strings.Join(st.Failed, ","), ns) {
				t.Errorf("%s is not retried: %v", ns, st.Failed)
			}
			got := getMR(ns, objects[ns])
			if diff := cmp.Diff(before[ns].Status.Containers, got.Status.Containers); diff != "" {
				t.Errorf("%s: the recommendation changed (-before +after):\n%s", ns, diff)
			}
			if !got.Status.LastUpdateTime.Equal(before[ns].Status.LastUpdateTime) {
				t.Errorf("%s: lastUpdateTime %v", ns, got.Status.LastUpdateTime)
			}
			pu := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionPrometheusUnavailable)
			if pu == nil || pu.Status != metav1.ConditionTrue || !strings.Contains(pu.Message, "connection refused") {
				t.Errorf("%s: PrometheusUnavailable %+v", ns, pu)
			}
		}
		if got := conditions(getMR("shop", "deployment-orders"))["Ready"]; got != "True/LastKnownGood" {
			t.Errorf("Ready %s", got)
		}
		if v := metricValue(t, "headroom_recommender_workloads", StateUnavailable); v != 3 {
			t.Errorf("headroom_recommender_workloads{state=unavailable} = %v", v)
		}
		if v := metricValue(t, "headroom_history_queries_total", "error"); v < 1 {
			t.Errorf("headroom_history_queries_total{result=error} = %v", v)
		}
	})

	t.Run("Prometheus back: the recommendations are recomputed and the condition clears", func(t *testing.T) {
		prom.Start()
		waitCached(3)
		now = scenarioEnd.Add(2 * time.Hour)
		st := r.RunOnce(ctx)
		if st.Err != nil || len(st.Failed) != 0 {
			t.Fatalf("stats %+v", st)
		}
		got := getMR("shop", "deployment-orders")
		if diff := cmp.Diff(before["shop"].Status.Containers[0].Limit, got.Status.Containers[0].Limit); diff != "" {
			t.Errorf("limit (-before +after):\n%s", diff)
		}
		want := map[string]string{"Ready": "True/Computed", "InsufficientHistory": "False/EnoughHistory",
			"PrometheusUnavailable": "False/HistoryRead", "Reviewed": "True/ByHand"}
		if diff := cmp.Diff(want, conditions(got)); diff != "" {
			t.Errorf("conditions (-want +got):\n%s", diff)
		}
		if got.Labels["team"] != "payments" || got.Labels[ManagedByLabel] != "headroom" {
			t.Errorf("labels %v", got.Labels)
		}
		for _, f := range got.ManagedFields {
			if f.Manager == FieldManager && strings.Contains(string(f.FieldsV1.Raw), "Reviewed") {
				t.Errorf("the recommender claimed the other writer's condition: %s", f.FieldsV1.Raw)
			}
		}
	})

	t.Run("the recommendation goes with its workload", func(t *testing.T) {
		var dep unstructured.Unstructured
		dep.SetAPIVersion("apps/v1")
		dep.SetKind("Deployment")
		dep.SetNamespace("shop")
		dep.SetName("orders")
		if err := admin.Delete(ctx, &dep, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
			t.Fatal(err)
		}
		testenv.WaitFor(t, 60*time.Second, "the garbage collector to delete shop/deployment-orders", func(ctx context.Context) (bool, error) {
			err := admin.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "deployment-orders"}, &v1alpha1.MemoryRecommendation{})
			return apierrors.IsNotFound(err), err
		})
	})
}

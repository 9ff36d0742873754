package recommender

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/mode"
)

// cluster is a fake cluster with the committed scenarios' workloads and their history:
//
//	shop     enforce   Deployment orders (the JVM with logs)
//	search   dry-run   StatefulSet index
//	fresh    no label  Deployment signup with 10h of history (the default mode serves it)
//	batch    off       Deployment report-worker: not served
//	catalog  excluded  Deployment catalog-api: not served
//	nohist   no label  Deployment ghost, without any history
//	empty    no label  nothing
type cluster struct {
	client client.WithWatch
	req    *requests
	src    *fakeSource
	specs  map[string]*scenario.Spec
}

func newCluster(t *testing.T, extra ...client.Object) *cluster {
	t.Helper()
	specs := map[string]*scenario.Spec{}
	var all []*scenario.Spec
	for _, name := range []string{"seed-jvm-logs", "read-heavy-active-file", "too-little-history", "bursty-oom", "service-bounded-cache"} {
		s := loadScenario(t, name)
		specs[s.Namespace] = s
		all = append(all, s)
	}
	objs := workloadObjects(t, all...)
	ghost := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "nohist", Name: "ghost", UID: "uid-ghost"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("app")}}}
	objs = append(objs, ghost,
		namespace("shop", map[string]string{mode.Key: string(mode.Enforce)}, nil),
		namespace("search", map[string]string{mode.Key: string(mode.DryRun)}, nil),
		namespace("fresh", nil, nil),
		namespace("batch", map[string]string{mode.Key: string(mode.Off)}, nil),
		namespace("catalog", nil, nil),
		namespace("nohist", nil, nil),
		namespace("empty", nil, nil),
	)
	c, req := fakeClient(t, append(objs, extra...)...)
	return &cluster{client: c, req: req, src: &fakeSource{Source: fileHistory(t, all...)}, specs: specs}
}

func (c *cluster) recommender(t *testing.T, mutate ...func(*Options)) *Recommender {
	t.Helper()
	o := Options{Source: c.src, ExcludeNamespaces: []string{"catalog"}, Clock: func() time.Time { return scenarioEnd }, Workers: 2}
	for _, m := range mutate {
		m(&o)
	}
	r, err := New(c.client, c.client, o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// setPolicy sets a namespace's headroom.dev/policy annotation.
func (c *cluster) setPolicy(t *testing.T, name, policy string) {
	t.Helper()
	var ns corev1.Namespace
	if err := c.client.Get(context.Background(), client.ObjectKey{Name: name}, &ns); err != nil {
		t.Fatal(err)
	}
	ns.Annotations = map[string]string{PolicyKey: policy}
	if err := c.client.Update(context.Background(), &ns); err != nil {
		t.Fatal(err)
	}
}

// golden reads the MemoryRecommendations `headroom recommend` prints for a scenario.
func golden(t *testing.T, file string) map[string]v1alpha1.MemoryRecommendation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "recommend", file))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]v1alpha1.MemoryRecommendation{}
	for _, doc := range strings.Split(string(b), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var mr v1alpha1.MemoryRecommendation
		if err := yaml.UnmarshalStrict([]byte(doc), &mr); err != nil {
			t.Fatal(err)
		}
		out[mr.Name] = mr
	}
	return out
}

func conditions(mr *v1alpha1.MemoryRecommendation) map[string]string {
	out := map[string]string{}
	for _, c := range mr.Status.Conditions {
		out[c.Type] = string(c.Status) + "/" + c.Reason
	}
	return out
}

func TestCycle(t *testing.T) {
	c := newCluster(t)
	r := c.recommender(t)
	ctx := context.Background()
	st := r.RunOnce(ctx)
	if st.Err != nil {
		t.Fatal(st.Err)
	}

	t.Run("one Load per served namespace with history, never per workload", func(t *testing.T) {
		want := map[string]int{"shop": 1, "search": 1, "fresh": 1}
		if diff := cmp.Diff(want, c.src.loadCount()); diff != "" {
			t.Errorf("loads (-want +got):\n%s", diff)
		}
		if c.src.lists != 1 || st.Namespaces != 5 {
			t.Errorf("%d namespace lists, %d namespaces served; want 1 and 5 (not off, not excluded)", c.src.lists, st.Namespaces)
		}
	})
	t.Run("the statuses are what headroom recommend computes offline", func(t *testing.T) {
		for ns, file := range map[string]string{"shop": "seed-jvm-logs.yaml", "search": "read-heavy-active-file.yaml", "fresh": "too-little-history.yaml"} {
			for name, want := range golden(t, file) {
				got := get(t, c.client, ns, name)
				if diff := cmp.Diff(want.Status.Containers, got.Status.Containers); diff != "" {
					t.Errorf("%s/%s containers (-offline +recommender):\n%s", ns, name, diff)
				}
				if got.Spec.TargetRef != want.Spec.TargetRef || !got.Status.LastUpdateTime.Equal(want.Status.LastUpdateTime) {
					t.Errorf("%s/%s: %+v, lastUpdateTime %v", ns, name, got.Spec.TargetRef, got.Status.LastUpdateTime)
				}
			}
		}
	})
	t.Run("owner references, label and conditions", func(t *testing.T) {
		mr := get(t, c.client, "shop", "deployment-orders")
		wantOwner := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders", UID: "uid-shop-orders"}}
		if diff := cmp.Diff(wantOwner, mr.OwnerReferences); diff != "" || mr.Labels[ManagedByLabel] != "headroom" {
			t.Errorf("owner references (-want +got):\n%s labels %v", diff, mr.Labels)
		}
		wantConds := map[string]map[string]string{
			"shop/deployment-orders":   {"Ready": "True/Computed", "InsufficientHistory": "False/EnoughHistory", "PrometheusUnavailable": "False/HistoryRead"},
			"search/statefulset-index": {"Ready": "True/Computed", "InsufficientHistory": "False/EnoughHistory", "PrometheusUnavailable": "False/HistoryRead"},
			"fresh/deployment-signup":  {"Ready": "False/InsufficientHistory", "InsufficientHistory": "True/InsufficientHistory", "PrometheusUnavailable": "False/HistoryRead"},
			"nohist/deployment-ghost":  {"Ready": "False/InsufficientHistory", "InsufficientHistory": "True/InsufficientHistory", "PrometheusUnavailable": "False/HistoryRead"},
		}
		for key, want := range wantConds {
			ns, name, _ := strings.Cut(key, "/")
			if diff := cmp.Diff(want, conditions(get(t, c.client, ns, name))); diff != "" {
				t.Errorf("%s conditions (-want +got):\n%s", key, diff)
			}
		}
		ghost := get(t, c.client, "nohist", "deployment-ghost")
		if cs := ghost.Status.Containers; len(cs) != 1 || cs[0].Limit != nil || !strings.Contains(cs[0].Reason, "no samples") {
			t.Errorf("a workload without history: %+v", cs)
		}
	})
	t.Run("nothing in namespaces that are off or excluded", func(t *testing.T) {
		for _, ns := range []string{"batch", "catalog"} {
			var list v1alpha1.MemoryRecommendationList
			if err := c.client.List(ctx, &list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
				t.Errorf("%s: %d objects (%v)", ns, len(list.Items), err)
			}
		}
	})
	t.Run("stats and Last", func(t *testing.T) {
		want := map[string]int{StateRecommended: 2, StateInsufficient: 1, StateNoHistory: 1}
		if diff := cmp.Diff(want, st.Workloads); diff != "" {
			t.Errorf("workloads (-want +got):\n%s", diff)
		}
		if st.Writes[Created] != 4 || st.WriteErrors != 0 || len(st.Failed) != 0 {
			t.Errorf("writes %v, errors %d, failed %v", st.Writes, st.WriteErrors, st.Failed)
		}
		last := r.Last("shop")
		if last == nil || len(last.Workloads) != 1 || last.Workloads[0].State != StateRecommended ||
			last.Workloads[0].Containers[0].Recommendation.Limit != 3776<<20 || last.Workloads[0].Containers[0].Current.Xmx != 2000<<20 {
			t.Errorf("Last(shop) = %+v", last)
		}
		if r.Last("batch") != nil || !slices.Equal(r.Namespaces(), []string{"empty", "fresh", "nohist", "search", "shop"}) {
			t.Errorf("Last(batch) = %v, namespaces %v", r.Last("batch"), r.Namespaces())
		}
		h, err := r.History(ctx, "shop")
		if err != nil || h.Workload("Deployment", "orders") == nil || c.src.loadCount()["shop"] != 2 {
			t.Errorf("History(shop) = %v, %v", h, err)
		}
	})
	t.Run("a second cycle with the same history writes nothing", func(t *testing.T) {
		c.req.reset()
		st := r.RunOnce(ctx)
		apply, status := c.req.counts()
		if st.Err != nil || apply != 0 || status != 0 || st.Writes[Unchanged] != 4 {
			t.Errorf("second cycle: %d applies, %d status applies, writes %v, err %v", apply, status, st.Writes, st.Err)
		}
	})
	t.Run("a deleted workload's namespace keeps its figures in Last until the next full cycle", func(t *testing.T) {
		if err := c.client.Delete(ctx, namespace("fresh", nil, nil)); err != nil {
			t.Fatal(err)
		}
		r.RunOnce(ctx)
		if r.Last("fresh") != nil {
			t.Error("Last keeps a namespace that is gone")
		}
	})
}

func TestCycleKeepsRecommendationsWhenHistoryCannotBeRead(t *testing.T) {
	c := newCluster(t)
	now := scenarioEnd
	r := c.recommender(t, func(o *Options) { o.Clock = func() time.Time { return now } })
	ctx := context.Background()
	if st := r.RunOnce(ctx); st.Err != nil {
		t.Fatal(st.Err)
	}
	before := get(t, c.client, "shop", "deployment-orders")
	search := get(t, c.client, "search", "statefulset-index")

	now = scenarioEnd.Add(10 * time.Minute)
	c.src.failLoad = map[string]error{"shop": errors.New("query rss of namespace shop: server error: 503 Service Unavailable")}
	st := r.RunOnce(ctx)
	if st.Err == nil || !slices.Equal(st.Unavailable, []string{"shop"}) || !slices.Equal(st.Failed, []string{"shop"}) ||
		st.Workloads[StateUnavailable] != 1 || st.Workloads[StateRecommended] != 1 {
		t.Fatalf("stats = %+v", st)
	}
	after := get(t, c.client, "shop", "deployment-orders")
	if diff := cmp.Diff(before.Status.Containers, after.Status.Containers); diff != "" {
		t.Errorf("the recommendation changed (-before +after):\n%s", diff)
	}
	if !after.Status.LastUpdateTime.Equal(before.Status.LastUpdateTime) {
		t.Errorf("lastUpdateTime moved to %v", after.Status.LastUpdateTime)
	}
	want := map[string]string{"Ready": "True/LastKnownGood", "InsufficientHistory": "False/EnoughHistory", "PrometheusUnavailable": "True/QueryFailed"}
	if diff := cmp.Diff(want, conditions(after)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	pu := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionPrometheusUnavailable)
	ready := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReady)
	if !strings.Contains(pu.Message, "503") || !pu.LastTransitionTime.Time.Equal(now) ||
		!ready.LastTransitionTime.Time.Equal(scenarioEnd) || !strings.Contains(ready.Message, "2026-11-20T00:00:00Z") {
		t.Errorf("conditions: %+v / %+v", pu, ready)
	}
	if diff := cmp.Diff(search, get(t, c.client, "search", "statefulset-index")); diff != "" {
		t.Errorf("another namespace changed (-before +after):\n%s", diff)
	}

	c.req.reset()
	now = now.Add(10 * time.Minute)
	r.RunOnce(ctx)
	if apply, status := c.req.counts(); apply != 0 || status != 0 {
		t.Errorf("still down: %d applies and %d status applies, want none (the condition says it already)", apply, status)
	}

	now = now.Add(10 * time.Minute)
	c.src.failLoad = nil
	if st := r.RunOnce(ctx); st.Err != nil || len(st.Failed) != 0 {
		t.Fatalf("recovery: %+v", st)
	}
	recovered := get(t, c.client, "shop", "deployment-orders")
	want = map[string]string{"Ready": "True/Computed", "InsufficientHistory": "False/EnoughHistory", "PrometheusUnavailable": "False/HistoryRead"}
	if diff := cmp.Diff(want, conditions(recovered)); diff != "" {
		t.Errorf("recovered conditions (-want +got):\n%s", diff)
	}
	if pu := meta.FindStatusCondition(recovered.Status.Conditions, v1alpha1.ConditionPrometheusUnavailable); !pu.LastTransitionTime.Time.Equal(now) {
		t.Errorf("PrometheusUnavailable went False at %v, want %v", pu.LastTransitionTime, now)
	}

	// Prometheus down altogether: the namespace list fails, nothing is loaded, every object says so.
	loads := c.src.loadCount()
	c.src.failList = errors.New("dial tcp 127.0.0.1:9090: connect: connection refused")
	st = r.RunOnce(ctx)
	if diff := cmp.Diff(loads, c.src.loadCount()); diff != "" || len(st.Unavailable) != 5 {
		t.Errorf("with Prometheus down: loads changed %s, unavailable %v", diff, st.Unavailable)
	}
	for _, key := range []string{"shop/deployment-orders", "search/statefulset-index", "fresh/deployment-signup", "nohist/deployment-ghost"} {
		ns, name, _ := strings.Cut(key, "/")
		if got := conditions(get(t, c.client, ns, name))["PrometheusUnavailable"]; got != "True/QueryFailed" {
			t.Errorf("%s: PrometheusUnavailable %s", key, got)
		}
	}
	if got := conditions(get(t, c.client, "fresh", "deployment-signup"))["Ready"]; got != "False/InsufficientHistory" {
		t.Errorf("an insufficient recommendation became %s", got)
	}
}

func TestCycleKeepsTheLastGoodRecommendationWhenHistoryShrinks(t *testing.T) {
	c := newCluster(t)
	r := c.recommender(t)
	ctx := context.Background()
	r.RunOnce(ctx)
	before := get(t, c.client, "shop", "deployment-orders")

	// The same workloads, but Prometheus lost everything older than 10 hours.
	short := *c.specs["shop"]
	short.History = short.History / 7 * 10 / 24
	c.src.Source = fileHistory(t, &short)
	st := r.RunOnce(ctx)
	after := get(t, c.client, "shop", "deployment-orders")
	if diff := cmp.Diff(before.Status.Containers, after.Status.Containers); diff != "" {
		t.Errorf("a shorter history replaced the recommendation (-before +after):\n%s", diff)
	}
	want := map[string]string{"Ready": "True/LastKnownGood", "InsufficientHistory": "False/EnoughHistory", "PrometheusUnavailable": "False/HistoryRead"}
	if diff := cmp.Diff(want, conditions(after)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if st.Workloads[StateKept] != 2 || r.Last("shop").Workloads[0].State != StateKept {
		t.Errorf("workloads %v", st.Workloads)
	}
	// The report still sees the fresh (insufficient) figures.
	if res := r.Last("shop").Workloads[0].Containers[0]; res.Err == nil || res.Recommendation.Observed.HistoryHours > 10 {
		t.Errorf("Last = %+v", res)
	}
}

func TestCycleNamespacePolicy(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	// The chart sets a 2h horizon when the agent runs; here one namespace does.
	c.setPolicy(t, "shop", "{horizon: 2h}")
	r := c.recommender(t)
	if st := r.RunOnce(ctx); st.Err != nil {
		t.Fatal(st.Err)
	}
	want := golden(t, "seed-jvm-logs-agent.yaml")["deployment-orders"]
	if diff := cmp.Diff(want.Status.Containers, get(t, c.client, "shop", "deployment-orders").Status.Containers); diff != "" {
		t.Errorf("(-offline with horizon 2h +recommender):\n%s", diff)
	}
	if got := r.Last("shop").Policy.Horizon.D(); got != 2*time.Hour {
		t.Errorf("Last policy horizon %s", got)
	}

	// A policy annotation with a typo stops that namespace (its objects stay), not the others.
	before := get(t, c.client, "shop", "deployment-orders")
	c.setPolicy(t, "shop", "{horizn: 2h}")
	c.req.reset()
	st := r.RunOnce(ctx)
	if st.Err == nil || !strings.Contains(st.Err.Error(), "field horizn not found") || !slices.Equal(st.Failed, []string{"shop"}) {
		t.Errorf("stats = %+v", st)
	}
	if diff := cmp.Diff(before, get(t, c.client, "shop", "deployment-orders")); diff != "" {
		t.Errorf("the object changed (-before +after):\n%s", diff)
	}
}

func TestCycleStopsQueryingAfterRepeatedFailures(t *testing.T) {
	var extra []client.Object
	var names []string
	for i := range 12 {
		n := "team-" + string(rune('a'+i))
		names = append(names, n)
		extra = append(extra, namespace(n, nil, nil), &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: n, Name: "app", UID: types.UID("u-" + n)},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("app")}}})
	}
	c := newCluster(t, extra...)
	c.src.extra = names
	c.src.failLoad = map[string]error{"*": errors.New("context deadline exceeded")}
	r := c.recommender(t, func(o *Options) { o.Workers = 1 })
	st := r.RunOnce(context.Background())
	total := 0
	for _, n := range c.src.loadCount() {
		total += n
	}
	if total != breakerAfter || len(st.Unavailable) != 15 {
		t.Errorf("%d loads (want %d), %d namespaces unavailable (want 15)", total, breakerAfter, len(st.Unavailable))
	}
}

func TestCycleWriteErrorsAreRetried(t *testing.T) {
	c := newCluster(t)
	c.req.fail = apierrors.NewServiceUnavailable("etcd is down")
	r := c.recommender(t)
	st := r.RunOnce(context.Background())
	if st.WriteErrors != 4 || st.Err == nil || !slices.Equal(st.Failed, []string{"fresh", "nohist", "search", "shop"}) {
		t.Errorf("stats = %+v", st)
	}
}

func TestStartRetriesFailedNamespacesWithBackoff(t *testing.T) {
	c := newCluster(t)
	c.src.failLoadsN = 2 // with one worker: fresh and search (sorted) fail first
	r := c.recommender(t, func(o *Options) { o.Workers = 1; o.RetryMin = 50 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Start(ctx) }()
	want := map[string]int{"fresh": 2, "search": 2, "shop": 1}
	deadline := time.Now().Add(10 * time.Second)
	for !cmp.Equal(want, c.src.loadCount()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // no further retries once everything succeeded
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.src.loadCount()); diff != "" {
		t.Errorf("loads (-want +got):\n%s", diff)
	}
	if got := conditions(get(t, c.client, "search", "statefulset-index"))["Ready"]; got != "True/Computed" {
		t.Errorf("after the retry: Ready %s", got)
	}
	if !r.NeedLeaderElection() {
		t.Error("the cycle loop must run on the leader only")
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for a := 1; a <= 9; a++ {
		got = append(got, Backoff(30*time.Second, time.Hour, a))
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A template without a memory limit runs with the namespace LimitRange's default (LimitRanger fills it
// in before the webhook): the recommendation is computed for, and records as current, that limit.
func TestCycleSizesWithLimitRangeDefaults(t *testing.T) {
	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Namespace: "nohist", Name: "defaults"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default:        corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
			DefaultRequest: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}}}}}
	c := newCluster(t, lr)
	if st := c.recommender(t).RunOnce(context.Background()); st.Err != nil {
		t.Fatal(st.Err)
	}
	got := get(t, c.client, "nohist", "deployment-ghost").Status.Containers
	if len(got) != 1 || got[0].Current == nil || got[0].Current.Limit == nil || got[0].Current.Limit.String() != "512Mi" ||
		got[0].Current.Request == nil || got[0].Current.Request.String() != "256Mi" {
		t.Errorf("containers %+v: want current limit 512Mi and request 256Mi, the LimitRange's defaults", got)
	}
}

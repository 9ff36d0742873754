package recommender

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/sizing"
)

var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// sized is a result with a recommendation (or, with err, without one).
func sized(name string, limit int64, rss int64, err error) Result {
	obs := sizing.Observed{RSSPeakBytes: rss, CachePeakBytes: 100 << 20, Pods: 2, Samples: 600, HistoryHours: 167}
	rec := sizing.Recommendation{Limit: limit, Request: limit / 2, Changed: limit > 0, Reason: fmt.Sprintf("Limit for RSS %d.", rss), Observed: obs}
	if err != nil {
		rec.Changed, rec.Observed.HistoryHours = false, 3
	}
	return Result{Name: name, Recommendation: rec, Err: err}
}

var orders = Target{Key: history.WorkloadKey{Namespace: "shop", Kind: "Deployment", Name: "orders"}, APIVersion: "apps/v1", UID: "uid-1"}

// write computes and writes a status the way the cycle does, and returns the object after it.
func write(t *testing.T, w *Writer, tg Target, results []Result, now time.Time) (Outcome, *v1alpha1.MemoryRecommendation) {
	t.Helper()
	ctx := context.Background()
	name := v1alpha1.NameFor(tg.Key.Kind, tg.Key.Name)
	var old *v1alpha1.MemoryRecommendation
	if mr := (&v1alpha1.MemoryRecommendation{}); w.Client.Get(ctx, keyOf(tg.Key.Namespace, name), mr) == nil {
		old = mr
	}
	status, _ := desiredStatus(NewObject(tg.Key, results, now), results, old, 24*time.Hour, now)
	out, err := w.Write(ctx, tg, &status, old, now)
	if err != nil {
		t.Fatal(err)
	}
	return out, get(t, w.Client, tg.Key.Namespace, name)
}

func TestWriter(t *testing.T) {
	c, req := fakeClient(t)
	w := &Writer{Client: c, Refresh: 24 * time.Hour}

	out, mr := write(t, w, orders, []Result{sized("app", 3<<30, 1<<30, nil)}, t0)
	if out != Created || mr.Status.Containers[0].Limit.String() != "3Gi" || !mr.Status.LastUpdateTime.Time.Equal(t0) ||
		mr.OwnerReferences[0].UID != "uid-1" || mr.Spec.TargetRef.Name != "orders" {
		t.Fatalf("created %s: %+v", out, mr)
	}
	if apply, status := req.counts(); apply != 1 || status != 1 {
		t.Errorf("creation took %d applies and %d status applies, want 1 and 1", apply, status)
	}

	steps := []struct {
		name    string
		at      time.Duration
		target  Target
		results []Result
		want    Outcome
		// applies and status applies the step makes
		apply, status int
		check         func(t *testing.T, mr *v1alpha1.MemoryRecommendation)
	}{
		{name: "figures that drift by less than 5% are not worth a write", at: time.Hour, target: orders,
			results: []Result{sized("app", 3<<30, 1<<30+(40<<20), nil)}, want: Unchanged},
		{name: "a drift of more than 5% is", at: 2 * time.Hour, target: orders,
			results: []Result{sized("app", 3<<30, 1<<30+(60<<20), nil)}, want: Updated, status: 1,
			check: func(t *testing.T, mr *v1alpha1.MemoryRecommendation) {
				if !mr.Status.LastUpdateTime.Time.Equal(t0.Add(2 * time.Hour)) {
					t.Errorf("lastUpdateTime %v", mr.Status.LastUpdateTime)
				}
				// Ready stayed True: its transition time stays.
				if c := meta.FindStatusCondition(mr.Status.Conditions, "Ready"); !c.LastTransitionTime.Time.Equal(t0) {
					t.Errorf("Ready moved to %v", c.LastTransitionTime)
				}
			}},
		{name: "small drift, but the status is older than the refresh period", at: 27 * time.Hour, target: orders,
			results: []Result{sized("app", 3<<30, 1<<30+(61<<20), nil)}, want: Updated, status: 1},
		{name: "a new limit is always written", at: 28 * time.Hour, target: orders,
			results: []Result{sized("app", 4<<30, 1<<30+(61<<20), nil)}, want: Updated, status: 1,
			check: func(t *testing.T, mr *v1alpha1.MemoryRecommendation) {
				if mr.Status.Containers[0].Limit.String() != "4Gi" {
					t.Errorf("limit %v", mr.Status.Containers[0].Limit)
				}
			}},
		{name: "a workload recreated under the same name gets its new owner reference", at: 29 * time.Hour,
			target:  Target{Key: orders.Key, APIVersion: "apps/v1", UID: "uid-2"},
			results: []Result{sized("app", 4<<30, 1<<30+(61<<20), nil)}, want: Updated, apply: 1,
			check: func(t *testing.T, mr *v1alpha1.MemoryRecommendation) {
				want := []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders", UID: "uid-2"}}
				if diff := cmp.Diff(want, mr.OwnerReferences); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}},
		{name: "a new container is a change", at: 30 * time.Hour, target: Target{Key: orders.Key, APIVersion: "apps/v1", UID: "uid-2"},
			results: []Result{sized("app", 4<<30, 1<<30+(61<<20), nil), sized("sidecar", 0, 50<<20, errors.New("x"))},
			want:    Updated, status: 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			req.reset()
			out, mr := write(t, w, s.target, s.results, t0.Add(s.at))
			apply, status := req.counts()
			if out != s.want || apply != s.apply || status != s.status {
				t.Errorf("outcome %s with %d applies and %d status applies, want %s, %d, %d", out, apply, status, s.want, s.apply, s.status)
			}
			if s.check != nil {
				s.check(t, mr)
			}
		})
	}
}

func TestWriteStatusWhenUnavailable(t *testing.T) {
	c, req := fakeClient(t)
	w := &Writer{Client: c, Refresh: 24 * time.Hour}
	_, before := write(t, w, orders, []Result{sized("app", 3<<30, 1<<30, nil)}, t0)

	cause := errors.New(strings.Repeat("a long error from Prometheus quoting a query ", 40))
	st := unavailableStatus(before, cause, t0.Add(time.Hour))
	out, err := w.WriteStatus(context.Background(), before, &st, t0.Add(time.Hour))
	after := get(t, c, "shop", "deployment-orders")
	if err != nil || out != Updated {
		t.Fatalf("%s, %v", out, err)
	}
	if diff := cmp.Diff(before.Status.Containers, after.Status.Containers); diff != "" || !after.Status.LastUpdateTime.Equal(before.Status.LastUpdateTime) {
		t.Errorf("the recommendation changed (-before +after):\n%s", diff)
	}
	pu := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionPrometheusUnavailable)
	if pu.Status != metav1.ConditionTrue || len(pu.Message) > maxMessage || !strings.HasSuffix(pu.Message, "...") {
		t.Errorf("PrometheusUnavailable %+v", pu)
	}
	// Still down an hour later: the object already says so.
	req.reset()
	st = unavailableStatus(after, cause, t0.Add(2*time.Hour))
	if out, err := w.WriteStatus(context.Background(), after, &st, t0.Add(2*time.Hour)); out != Unchanged || err != nil {
		t.Errorf("%s, %v", out, err)
	}
	if a, s := req.counts(); a+s != 0 {
		t.Errorf("%d requests", a+s)
	}
}

func TestDesiredStatusKeepsGoodContainers(t *testing.T) {
	old := NewObject(orders.Key, []Result{sized("app", 3<<30, 1<<30, nil), sized("proxy", 256<<20, 50<<20, nil)}, t0)
	old.Status, _ = desiredStatus(old, []Result{sized("app", 3<<30, 1<<30, nil), sized("proxy", 256<<20, 50<<20, nil)}, nil, 24*time.Hour, t0)
	short := fmt.Errorf("%w: 3h of 24h", sizing.ErrInsufficientHistory)
	results := []Result{sized("app", 0, 1<<30, short), sized("proxy", 300<<20, 60<<20, nil), sized("new", 0, 10<<20, short)}
	mr := NewObject(orders.Key, results, t0.Add(time.Hour))
	st, kept := desiredStatus(mr, results, old, 24*time.Hour, t0.Add(time.Hour))
	if !kept {
		t.Error("kept = false")
	}
	if diff := cmp.Diff(old.Status.Containers[0], st.Containers[0]); diff != "" {
		t.Errorf("app was not kept (-old +new):\n%s", diff)
	}
	if st.Containers[1].Limit.Cmp(resource.MustParse("300Mi")) != 0 || st.Containers[2].Limit != nil {
		t.Errorf("containers %+v", st.Containers)
	}
	// "new" has no good old recommendation: the workload is insufficient.
	want := map[string]string{"Ready": "False/InsufficientHistory", "InsufficientHistory": "True/InsufficientHistory", "PrometheusUnavailable": "False/HistoryRead"}
	if diff := cmp.Diff(want, conditions(&v1alpha1.MemoryRecommendation{Status: st})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// An old status that was itself insufficient keeps nothing.
	old.Status.Conditions[1].Status = metav1.ConditionTrue
	if _, kept := desiredStatus(mr, results, old, 24*time.Hour, t0); kept {
		t.Error("kept a recommendation from an insufficient status")
	}
}

func TestStatusChange(t *testing.T) {
	base := func() *v1alpha1.MemoryRecommendation {
		r := []Result{sized("app", 3<<30, 1<<30, nil)}
		mr := NewObject(orders.Key, r, t0)
		mr.Status, _ = desiredStatus(mr, r, nil, 24*time.Hour, t0)
		return mr
	}
	tests := map[string]struct {
		edit func(s *v1alpha1.MemoryRecommendationStatus)
		want string
		age  time.Duration // of the old status (default 1h)
	}{
		"the same":                     {edit: func(*v1alpha1.MemoryRecommendationStatus) {}, want: ""},
		"another reason text":          {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Reason = "Other." }, want: ""},
		"another condition message":    {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Conditions[2].Message = "x" }, want: ""},
		"a sample more":                {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Observed.Samples++ }, want: ""},
		"another request":              {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Request = nil }, want: "recommendation of app"},
		"another -Xmx":                 {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Xmx = "512m" }, want: "recommendation of app"},
		"an OOM kill":                  {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Observed.OOMKills = 1 }, want: "oomKills of app"},
		"cache growth doubled":         {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Observed.CacheGrowthBytesPerHour = 2 }, want: "cacheGrowthBytesPerHour of app"},
		"a condition reason":           {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Conditions[0].Reason = ReasonLastKnownGood }, want: "condition Ready"},
		"a renamed container":          {edit: func(s *v1alpha1.MemoryRecommendationStatus) { s.Containers[0].Name = "main" }, want: "containers"},
		"the status is a day old":      {edit: func(*v1alpha1.MemoryRecommendationStatus) {}, want: "refresh", age: 24 * time.Hour},
		"younger than a day: no write": {edit: func(*v1alpha1.MemoryRecommendationStatus) {}, want: "", age: 23 * time.Hour},
	}
	for name, tt := range tests {
		old := base()
		want := base().Status
		if tt.age == 0 {
			tt.age = time.Hour
		}
		want.LastUpdateTime = &metav1.Time{Time: t0.Add(tt.age)}
		tt.edit(&want)
		if got := statusChange(old, &want, 24*time.Hour, t0.Add(tt.age)); got != tt.want {
			t.Errorf("%s: %q, want %q", name, got, tt.want)
		}
	}
	if got := statusChange(nil, &base().Status, time.Hour, t0); got != "new" {
		t.Errorf("no object: %q", got)
	}
}

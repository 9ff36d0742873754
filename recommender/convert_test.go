package recommender

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/sizing"
)

func q(s string) *resource.Quantity { v := resource.MustParse(s); return &v }

func TestContainerStatus(t *testing.T) {
	obs := sizing.Observed{RSSPeakBytes: 1, Pods: 2, Samples: 3, HistoryHours: 4, LimitBound: true, OOMKills: 1}
	tests := map[string]struct {
		in   Result
		want v1alpha1.ContainerRecommendation
	}{
		"a change carries limit, request and -Xmx as the JVM spells it": {
			in: Result{Name: "app", Recommendation: sizing.Recommendation{Limit: 3776 * sizing.Mi, Request: 592 * sizing.Mi,
				Xmx: 320 * sizing.Mi, Changed: true, Reason: "Because.", Observed: obs}},
			want: v1alpha1.ContainerRecommendation{Name: "app", Limit: q("3776Mi"), Request: q("592Mi"), Xmx: "320m", Reason: "Because.",
				Observed: v1alpha1.Observed{RSSPeakBytes: 1, Pods: 2, Samples: 3, HistoryHours: 4, LimitBound: true, OOMKills: 1}},
		},
		"no change leaves limit, request and -Xmx empty so the webhook leaves the container alone": {
			in:   Result{Name: "app", Recommendation: sizing.Recommendation{Limit: 3000 * sizing.Mi, Request: 3000 * sizing.Mi, Reason: "Unchanged."}},
			want: v1alpha1.ContainerRecommendation{Name: "app", Reason: "Unchanged."},
		},
		"a change without a limit sets only the request": {
			in:   Result{Name: "app", Recommendation: sizing.Recommendation{Request: 512 * sizing.Mi, Changed: true, Reason: "R."}},
			want: v1alpha1.ContainerRecommendation{Name: "app", Request: q("512Mi"), Reason: "R."},
		},
		"the pod template it was computed against is published, for the webhook to tell a stale one": {
			in: Result{Name: "app", Recommendation: sizing.Recommendation{Limit: 3776 * sizing.Mi, Changed: true, Reason: "R."},
				Current: sizing.Current{Limit: 3000 * sizing.Mi, Request: 3000 * sizing.Mi, Xmx: 2000 * sizing.Mi, JVM: true}, FromSpec: true},
			want: v1alpha1.ContainerRecommendation{Name: "app", Limit: q("3776Mi"), Reason: "R.",
				Current: &v1alpha1.ContainerCurrent{Limit: q("3000Mi"), Request: q("3000Mi"), Xmx: "2000m"}},
		},
		"a template without limit or -Xmx publishes an empty current: none of them was set": {
			in:   Result{Name: "app", Recommendation: sizing.Recommendation{Reason: "R."}, FromSpec: true},
			want: v1alpha1.ContainerRecommendation{Name: "app", Reason: "R.", Current: &v1alpha1.ContainerCurrent{}},
		},
		"a current known from history alone is not published": {
			in:   Result{Name: "app", Recommendation: sizing.Recommendation{Limit: 3776 * sizing.Mi, Changed: true, Reason: "R."}, Current: sizing.Current{Limit: 3000 * sizing.Mi}},
			want: v1alpha1.ContainerRecommendation{Name: "app", Limit: q("3776Mi"), Reason: "R."},
		},
		"insufficient history is no recommendation": {
			in: Result{Name: "app", Recommendation: sizing.Recommendation{Limit: 1, Changed: true, Reason: "Insufficient history."},
				Err: fmt.Errorf("%w: 3h", sizing.ErrInsufficientHistory)},
			want: v1alpha1.ContainerRecommendation{Name: "app", Reason: "Insufficient history."},
		},
	}
	for name, tt := range tests {
		if diff := cmp.Diff(tt.want, ContainerStatus(tt.in)); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", name, diff)
		}
	}
}

func TestNewObject(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	key := history.WorkloadKey{Namespace: "shop", Kind: "CronJob", Name: "nightly"}
	mr := NewObject(key, []Result{
		{Name: "a", Recommendation: sizing.Recommendation{Reason: "Fine."}},
		{Name: "b", Err: sizing.ErrInsufficientHistory},
	}, now)
	if mr.Name != "cronjob-nightly" || mr.Namespace != "shop" || mr.Kind != "MemoryRecommendation" ||
		mr.APIVersion != "headroom.dev/v1alpha1" || mr.Spec.TargetRef != (v1alpha1.TargetRef{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly"}) {
		t.Errorf("object = %+v", mr)
	}
	if mr.Status.Containers[1].Reason != "No recommendation: insufficient history." {
		t.Errorf("reason without one from sizing: %q", mr.Status.Containers[1].Reason)
	}
	status := map[string]metav1.ConditionStatus{}
	for _, c := range mr.Status.Conditions {
		status[c.Type] = c.Status
		if c.Reason == "" || !c.LastTransitionTime.Equal(&metav1.Time{Time: now}) {
			t.Errorf("condition %+v", c)
		}
	}
	if status[v1alpha1.ConditionReady] != metav1.ConditionFalse || status[v1alpha1.ConditionInsufficientHistory] != metav1.ConditionTrue {
		t.Errorf("conditions = %v", status)
	}
}

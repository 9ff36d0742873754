package recommender

import (
	"errors"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/sizing"
)

// Result is the sizing outcome for one container of a workload.
type Result struct {
	Name           string
	Recommendation sizing.Recommendation
	// Err is what sizing.Recommend returned: nil, or wrapping sizing.ErrInsufficientHistory.
	Err error
	// Current is what the container runs with now, as the recommendation was computed against it.
	Current sizing.Current
	// FromSpec is true when Current was read from the workload's pod template (not from history's
	// last limit alone): only then is it published, for the webhook to tell a stale recommendation.
	FromSpec bool
}

// ContainerStatus maps a sizing result to the API. Limit, request and -Xmx are set only when the
// recommendation changes something: an unchanged container shows its observed figures and the
// reason, and the webhook leaves it alone.
func ContainerStatus(r Result) v1alpha1.ContainerRecommendation {
	rec := r.Recommendation
	c := v1alpha1.ContainerRecommendation{Name: r.Name, Reason: rec.Reason, Observed: Observed(rec.Observed)}
	if r.Err != nil && c.Reason == "" {
		c.Reason = "No recommendation: " + r.Err.Error() + "."
	}
	if r.FromSpec {
		c.Current = currentStatus(r.Current)
	}
	if r.Err != nil || !rec.Changed {
		return c
	}
	c.Limit, c.Request, c.Xmx = quantity(rec.Limit), quantity(rec.Request), xmx(rec.Xmx)
	return c
}

// currentStatus maps what the pod template said; a zero size is "not set".
func currentStatus(cur sizing.Current) *v1alpha1.ContainerCurrent {
	return &v1alpha1.ContainerCurrent{Limit: quantity(cur.Limit), Request: quantity(cur.Request), Xmx: xmx(cur.Xmx)}
}

// quantity is a size in bytes as the API spells it; nil ("not set") when it is not positive.
func quantity(b int64) *resource.Quantity {
	if b <= 0 {
		return nil
	}
	return resource.NewQuantity(b, resource.BinarySI)
}

// xmx is a heap size as the JVM spells it (e.g. "320m"); "" when it is not positive.
func xmx(b int64) string {
	if b <= 0 {
		return ""
	}
	return jvm.FormatSize(b)
}

// Observed maps the observed figures.
func Observed(o sizing.Observed) v1alpha1.Observed {
	return v1alpha1.Observed{
		RSSPeakBytes:            o.RSSPeakBytes,
		CachePeakBytes:          o.CachePeakBytes,
		CacheGrowthBytesPerHour: o.CacheGrowthBytesPerHour,
		ActiveFilePeakBytes:     o.ActiveFilePeakBytes,
		HeapUsedPeakBytes:       o.HeapUsedPeakBytes,
		HeapCommittedPeakBytes:  o.HeapCommittedPeakBytes,
		NonHeapBytes:            o.NonHeapBytes,
		OOMKills:                int32(min(o.OOMKills, 1<<31-1)),
		Pods:                    int32(min(o.Pods, 1<<31-1)),
		Samples:                 int64(o.Samples),
		HistoryHours:            o.HistoryHours,
		LimitBound:              o.LimitBound,
	}
}

// APIVersionFor returns the API version of a workload kind.
func APIVersionFor(kind string) string {
	switch kind {
	case "Job", "CronJob":
		return "batch/v1"
	case "Pod":
		return "v1"
	}
	return "apps/v1"
}

// NewObject builds the MemoryRecommendation of a workload from its containers' results, with Ready and
// InsufficientHistory conditions, updated at now.
func NewObject(key history.WorkloadKey, results []Result, now time.Time) *v1alpha1.MemoryRecommendation {
	mr := &v1alpha1.MemoryRecommendation{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "MemoryRecommendation"},
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.NameFor(key.Kind, key.Name), Namespace: key.Namespace},
		Spec: v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{
			APIVersion: APIVersionFor(key.Kind), Kind: key.Kind, Name: key.Name,
		}},
	}
	var short []string
	for _, r := range results {
		mr.Status.Containers = append(mr.Status.Containers, ContainerStatus(r))
		if errors.Is(r.Err, sizing.ErrInsufficientHistory) {
			short = append(short, r.Name)
		}
	}
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	mr.Status.LastUpdateTime = &t
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Computed",
		Message: "every container has a recommendation", LastTransitionTime: t}
	insufficient := metav1.Condition{Type: v1alpha1.ConditionInsufficientHistory, Status: metav1.ConditionFalse,
		Reason: "EnoughHistory", Message: "every container has enough history", LastTransitionTime: t}
	if len(short) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, "InsufficientHistory"
		ready.Message = "not enough history for " + strings.Join(short, ", ")
		insufficient.Status, insufficient.Reason = metav1.ConditionTrue, "InsufficientHistory"
		insufficient.Message = ready.Message
	}
	mr.Status.Conditions = []metav1.Condition{ready, insufficient}
	return mr
}

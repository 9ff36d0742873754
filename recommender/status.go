package recommender

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/sizing"
)

// Condition reasons the recommender sets (New sets Computed, EnoughHistory and InsufficientHistory).
const (
	ReasonComputed      = "Computed"
	ReasonLastKnownGood = "LastKnownGood"
	ReasonHistoryRead   = "HistoryRead"
	ReasonQueryFailed   = "QueryFailed"
)

// significance is the relative drift of an observed peak or growth rate that is worth a status
// write on its own. Below it the status keeps its figures until Options.Refresh: the webhook reads
// only limit, request and -Xmx (compared exactly), and the report shows live figures anyway.
const significance = 0.05

// maxMessage bounds condition messages (the API allows 32768 bytes; an error from Prometheus
// can quote a whole query).
const maxMessage = 512

// desiredStatus is the status to write for a workload's fresh results, given the object as it is
// (old, nil when it does not exist yet). Conditions that keep their status keep their transition
// time. Containers whose history became too short while the old status had a recommendation for
// them computed from enough history keep that recommendation: a Prometheus that lost data, a
// retention cut, or a workload scaled to zero must not take away a good recommendation (the
// report still shows the fresh figures). kept reports whether that happened.
func desiredStatus(mr *v1alpha1.MemoryRecommendation, results []Result, old *v1alpha1.MemoryRecommendation,
	minHistory time.Duration, now time.Time) (status v1alpha1.MemoryRecommendationStatus, kept bool) {
	status = mr.Status
	status.Containers = append([]v1alpha1.ContainerRecommendation(nil), status.Containers...)
	var short, keptNames []string
	for i, r := range results {
		if !errors.Is(r.Err, sizing.ErrInsufficientHistory) {
			continue
		}
		if prev := goodContainer(old, r.Name, minHistory); prev != nil {
			status.Containers[i] = *prev.DeepCopy()
			keptNames = append(keptNames, r.Name)
			continue
		}
		short = append(short, r.Name)
	}
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	ready := metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonComputed,
		Message: "every container has a recommendation"}
	insufficient := metav1.Condition{Type: v1alpha1.ConditionInsufficientHistory, Status: metav1.ConditionFalse,
		Reason: "EnoughHistory", Message: "every container has enough history"}
	switch {
	case len(short) > 0:
		ready.Status, ready.Reason = metav1.ConditionFalse, "InsufficientHistory"
		ready.Message = "not enough history for " + strings.Join(short, ", ")
		insufficient.Status, insufficient.Reason, insufficient.Message = metav1.ConditionTrue, "InsufficientHistory", ready.Message
	case len(keptNames) > 0:
		ready.Reason = ReasonLastKnownGood
		ready.Message = "history of " + strings.Join(keptNames, ", ") + " is now too short; keeping the recommendation computed earlier"
	}
	available := metav1.Condition{Type: v1alpha1.ConditionPrometheusUnavailable, Status: metav1.ConditionFalse,
		Reason: ReasonHistoryRead, Message: "history was read"}
	status.Conditions = mergeConditions(old, t, ready, insufficient, available)
	status.LastUpdateTime = &t
	return status, len(keptNames) > 0
}

// goodContainer returns the old status's entry for a container when it was computed from enough
// history, or nil.
func goodContainer(old *v1alpha1.MemoryRecommendation, name string, minHistory time.Duration) *v1alpha1.ContainerRecommendation {
	if old == nil || meta.IsStatusConditionTrue(old.Status.Conditions, v1alpha1.ConditionInsufficientHistory) {
		return nil
	}
	for i := range old.Status.Containers {
		c := &old.Status.Containers[i]
		if c.Name == name && time.Duration(c.Observed.HistoryHours)*time.Hour >= minHistory.Truncate(time.Hour) &&
			c.Observed.Samples > 0 {
			return c
		}
	}
	return nil
}

// unavailableStatus is the status of an existing object whose namespace's history could not be
// read: its containers and lastUpdateTime stay, PrometheusUnavailable becomes True and Ready says
// the recommendation shown is the last good one.
func unavailableStatus(old *v1alpha1.MemoryRecommendation, cause error, now time.Time) v1alpha1.MemoryRecommendationStatus {
	status := *old.Status.DeepCopy()
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	since := "earlier"
	if old.Status.LastUpdateTime != nil {
		since = "at " + old.Status.LastUpdateTime.UTC().Format(time.RFC3339)
	}
	var conds []metav1.Condition
	if c := meta.FindStatusCondition(old.Status.Conditions, v1alpha1.ConditionReady); c != nil {
		ready := *c
		if ready.Status == metav1.ConditionTrue {
			ready.Reason = ReasonLastKnownGood
			ready.Message = "history could not be read; keeping the recommendation computed " + since
		}
		conds = append(conds, ready)
	}
	if c := meta.FindStatusCondition(old.Status.Conditions, v1alpha1.ConditionInsufficientHistory); c != nil {
		conds = append(conds, *c)
	}
	conds = append(conds, metav1.Condition{Type: v1alpha1.ConditionPrometheusUnavailable, Status: metav1.ConditionTrue,
		Reason: ReasonQueryFailed, Message: truncate(cause.Error(), maxMessage)})
	status.Conditions = mergeConditions(old, t, conds...)
	return status
}

// mergeConditions returns the conditions with their transition time: the old one's when the
// status did not change, else t. Only these condition types are returned, so that conditions other
// writers own are neither claimed nor removed by the apply.
func mergeConditions(old *v1alpha1.MemoryRecommendation, t metav1.Time, conds ...metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, len(conds))
	for i, c := range conds {
		c.LastTransitionTime = t
		if old != nil {
			if prev := meta.FindStatusCondition(old.Status.Conditions, c.Type); prev != nil && prev.Status == c.Status {
				c.LastTransitionTime = prev.LastTransitionTime
			}
		}
		c.ObservedGeneration = 0
		out[i] = c
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// statusChange says why a status must be written, or "" when the object already says the same:
// the same containers with the same limit, request and -Xmx, observed figures within
// significance, the same condition statuses and reasons, and a lastUpdateTime younger than
// refresh. Messages and reasons of containers alone do not cause a write (they quote figures).
func statusChange(old *v1alpha1.MemoryRecommendation, want *v1alpha1.MemoryRecommendationStatus, refresh time.Duration, now time.Time) string {
	if old == nil {
		return "new"
	}
	have := &old.Status
	for _, c := range want.Conditions {
		prev := meta.FindStatusCondition(have.Conditions, c.Type)
		if prev == nil || prev.Status != c.Status || prev.Reason != c.Reason {
			return "condition " + c.Type
		}
	}
	if len(have.Containers) != len(want.Containers) {
		return "containers"
	}
	for i := range want.Containers {
		a, b := &have.Containers[i], &want.Containers[i]
		if a.Name != b.Name {
			return "containers"
		}
		if !sameQuantity(a.Limit, b.Limit) || !sameQuantity(a.Request, b.Request) || a.Xmx != b.Xmx {
			return "recommendation of " + b.Name
		}
		if why := observedChange(a.Observed, b.Observed); why != "" {
			return why + " of " + b.Name
		}
	}
	if !want.LastUpdateTime.Equal(have.LastUpdateTime) {
		if have.LastUpdateTime == nil || now.Sub(have.LastUpdateTime.Time) >= refresh {
			return "refresh"
		}
	}
	return ""
}

func sameQuantity(a, b *resource.Quantity) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Cmp(*b) == 0
}

// observedChange names the first observed figure that changed significantly.
func observedChange(a, b v1alpha1.Observed) string {
	switch {
	case a.OOMKills != b.OOMKills:
		return "oomKills"
	case a.LimitBound != b.LimitBound:
		return "limitBound"
	case (a.Samples == 0) != (b.Samples == 0):
		return "samples"
	}
	for _, f := range []struct {
		name string
		a, b int64
	}{
		{"rssPeakBytes", a.RSSPeakBytes, b.RSSPeakBytes},
		{"cachePeakBytes", a.CachePeakBytes, b.CachePeakBytes},
		{"cacheGrowthBytesPerHour", a.CacheGrowthBytesPerHour, b.CacheGrowthBytesPerHour},
		{"activeFilePeakBytes", a.ActiveFilePeakBytes, b.ActiveFilePeakBytes},
		{"heapUsedPeakBytes", a.HeapUsedPeakBytes, b.HeapUsedPeakBytes},
		{"heapCommittedPeakBytes", a.HeapCommittedPeakBytes, b.HeapCommittedPeakBytes},
		{"nonHeapBytes", a.NonHeapBytes, b.NonHeapBytes},
	} {
		if drift(f.a, f.b) > significance {
			return f.name
		}
	}
	return ""
}

func drift(a, b int64) float64 {
	if a == b {
		return 0
	}
	m := math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
	return math.Abs(float64(a)-float64(b)) / m
}

// describe is a short description of a status for logs.
func describe(s *v1alpha1.MemoryRecommendationStatus) string {
	var parts []string
	for _, c := range s.Containers {
		p := c.Name
		if c.Limit != nil {
			p += " limit=" + c.Limit.String()
		}
		if c.Xmx != "" {
			p += " xmx=" + c.Xmx
		}
		parts = append(parts, p)
	}
	return fmt.Sprint(parts)
}

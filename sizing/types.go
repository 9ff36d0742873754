package sizing

import "errors"

// ErrInsufficientHistory is returned (wrapped) when a container has less history than the policy's
// minHistory: there is no recommendation and the webhook leaves the pod alone.
var ErrInsufficientHistory = errors.New("insufficient history")

// Point is one sample: T in Unix milliseconds, V in bytes (or seconds, counts: whatever the series holds).
type Point struct {
	T int64
	V float64
}

// Series is a time series sorted by T with no duplicate timestamps.
type Series []Point

// Pod is one pod (instance) of a workload's container, with its series over the window.
// Series from one history query share timestamps (the query grid); any of them may have gaps.
type Pod struct {
	Name string
	// Start is the pod's start time (Unix ms); 0 when unknown (the first sample is used).
	Start int64
	RSS   Series // anonymous memory (container_memory_rss)
	Cache Series // page cache charged to the container (container_memory_cache)
	// WorkingSet (usage - inactive file) and ActiveFile are optional; with both, usage is
	// reconstructed exactly (usage = workingSet + cache - activeFile), kernel memory included.
	WorkingSet Series
	ActiveFile Series
	Limit      Series // memory limit in bytes; empty when the container has none
	// HeapUsed and HeapCommitted are the JVM heap (summed over pools); empty when not exported.
	HeapUsed      Series
	HeapCommitted Series
	// OOMKills counted in the window.
	OOMKills int
}

// Container is one container name of a workload with all the pods that ran it in the window.
type Container struct {
	Name string
	Pods []Pod
}

// LastLimit returns the most recent limit sample of any pod (0 when none): the limit the
// workload runs with now, as far as history knows.
func (c Container) LastLimit() int64 {
	var t int64 = -1 << 63
	var v int64
	for _, p := range c.Pods {
		if n := len(p.Limit); n > 0 && p.Limit[n-1].T >= t {
			t, v = p.Limit[n-1].T, int64(p.Limit[n-1].V)
		}
	}
	return v
}

// Current is what the workload's pod template says today.
type Current struct {
	// Limit and Request are the memory limit and request in bytes; 0 means not set.
	Limit   int64
	Request int64
	// JVM is true when the container runs a JVM (known from its command, args and env).
	JVM bool
	// Xmx is the effective explicit maximum heap in bytes; 0 when none is set (percentage or default).
	Xmx int64
	// Guaranteed is true when the pod is in the Guaranteed QoS class; its request follows the limit.
	Guaranteed bool
	// LimitRangeMax is the namespace LimitRange's maximum container memory limit; 0 when none.
	LimitRangeMax int64
}

// Observed are the figures a recommendation is computed from, over the window.
type Observed struct {
	RSSPeakBytes            int64
	CachePeakBytes          int64
	CacheGrowthBytesPerHour int64
	ActiveFilePeakBytes     int64
	HeapUsedPeakBytes       int64
	HeapCommittedPeakBytes  int64
	// NonHeapBytes is RSS minus committed heap (95th percentile) when heap is measured; for a
	// JVM without heap metrics it is estimated from RSS and the current -Xmx.
	NonHeapBytes int64
	OOMKills     int
	Pods         int
	Samples      int
	// HistoryHours is the span of history in whole hours.
	HistoryHours int64
	// LimitBound is true when usage sat at the limit: the kernel capped the cache we saw.
	LimitBound bool
}

// Clamp names a bound that decided the limit.
type Clamp string

// The bounds that can decide the limit.
const (
	ClampNone        Clamp = ""
	ClampIncrease    Clamp = "maxIncreaseFactor"
	ClampMaxLimit    Clamp = "maxLimit"
	ClampLimitRange  Clamp = "limitRange"
	ClampNoFit       Clamp = "noFit" // the anon need does not fit under maxLimit / LimitRange max: unchanged
	ClampAnonOverCap Clamp = "anonOverIncreaseCap"
)

// Model holds the intermediate figures behind a recommendation, for reports and tests.
type Model struct {
	// Xmx is the -Xmx the limit was sized for (new or current); 0 when not a managed JVM heap.
	Xmx int64
	// NonHeap is the JVM non-heap footprint used (measured or estimated); 0 when not a JVM.
	NonHeap int64
	// ProjectedRSS is the anon memory expected before margins and OOM bump: the RSS peak, or for a
	// JVM non-heap + min(committed heap peak, Xmx).
	ProjectedRSS int64
	// OOMBase is the anon need after the OOM bump-up (0 without OOM kills).
	OOMBase int64
	// RSSNeed is the anon memory the limit must hold: projected RSS (OOM-bumped) plus rssMargin.
	RSSNeed int64
	// CacheIntercept and CacheGrowthPerHour describe learned cache growth: cache ≈ intercept +
	// growth × age. GrowthKnown is false when no uncensored growth phase was seen.
	CacheIntercept     int64
	CacheGrowthPerHour int64
	GrowthKnown        bool
	// Plateau is the level cache settles at; PlateauKnown is false when cache kept growing or was
	// capped by the limit (censored) before settling.
	Plateau      int64
	PlateauKnown bool
	// CacheAtHorizon is the cache projected at the horizon: each pod's intercept + growth ×
	// horizon, capped at its plateau, median over pods, capped at the workload's plateau.
	CacheAtHorizon int64
	// CacheSeenByHorizon is the most cache any container had within the horizon of its start.
	CacheSeenByHorizon int64
	// CacheHeadroom is the page cache the limit makes room for:
	// max(cacheAtHorizon, cacheSeenByHorizon, activeFilePeak).
	CacheHeadroom int64
	// Floor is the smallest safe limit: anon need, -Xmx + non-heap + active file, minLimit.
	Floor int64
	// Limit is the computed limit before hysteresis (0 when the container keeps having no limit).
	Limit int64
	// Clamp names the bound that decided the limit, if any.
	Clamp Clamp
}

// Recommendation is the result for one container.
type Recommendation struct {
	// Limit, Request and Xmx are in bytes. When Changed is false they are the current values and
	// Xmx is 0. Limit 0 means no limit; Xmx 0 means leave the heap setting alone.
	Limit   int64
	Request int64
	Xmx     int64
	// Changed is false when the recommendation is within the change threshold of what runs now (or
	// there is none): the webhook leaves the container alone.
	Changed bool
	// Reason is one human sentence saying why.
	Reason   string
	Observed Observed
	Model    Model
}

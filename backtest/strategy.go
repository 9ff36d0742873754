package backtest

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/sizing"
)

// VPA's recommender defaults (ANCHORS.md 2.1; vertical-pod-autoscaler pkg/recommender).
const (
	vpaAggregation = 24 * time.Hour // one memory peak per container per day
	vpaHalfLife    = 24 * time.Hour // --memory-histogram-decay-half-life
	vpaPercentile  = 0.9            // target: p90 of the peaks
	vpaMargin      = 0.15           // --recommendation-margin-fraction
	vpaPodMin      = 250 << 20      // --pod-recommendation-min-memory-mb=250, split across containers
	vpaOOMRatio    = 1.2            // --oom-bump-up-ratio
	vpaOOMMin      = 100 << 20      // --oom-min-bump-up-bytes
	// The memory histogram: exponential buckets from 10 MB, each 5 % wider, up to 1 TB.
	vpaFirstBucket = 1e7
	vpaBucketRatio = 1.05
	vpaMaxValue    = 1e12
)

// KRR's simple strategy defaults (ANCHORS.md 2.3; robusta_krr/strategies/simple.py).
const (
	krrMargin     = 0.15
	krrMin        = 100 << 20 // --mem-min 100 (MB)
	krrMinHistory = 3 * time.Hour
)

// plan returns what strategy s sets for the container. rec and recErr are headroom's result under
// the policy, recAgent and recAgentErr under the policy the chart uses when the agent runs.
func (o Options) plan(s Strategy, c Container, frames []*frame, containersInPod int, recs [2]sizing.Recommendation, errs [2]error) plan {
	cur := c.Current
	current := plan{Limit: cur.Limit, Request: cur.Request, Xmx: cur.Xmx}
	switch s {
	case VPA:
		target := vpaTarget(frames, cur, containersInPod)
		p := plan{Request: target, Xmx: cur.Xmx}
		if cur.Limit > 0 {
			// VPA keeps the original limit:request ratio (GetProportionalLimit); a container without
			// a request has request = limit.
			req := cur.Request
			if req <= 0 {
				req = cur.Limit
			}
			p.Limit = roundMi(float64(target) * float64(cur.Limit) / float64(req))
		}
		return p
	case KRR:
		if span(frames) < krrMinHistory {
			current.note = "krr needs 3h of history: unchanged"
			return current
		}
		var peak float64
		for _, f := range frames {
			for _, w := range f.ws {
				peak = max(peak, w)
			}
		}
		v := roundMi(max(peak*(1+krrMargin), krrMin))
		return plan{Limit: v, Request: v, Xmx: cur.Xmx}
	case Headroom, HeadroomAgent:
		k := 0
		if s == HeadroomAgent {
			k = 1
		}
		rec, err := recs[k], errs[k]
		if err != nil {
			current.agent = s == HeadroomAgent
			current.note = "no recommendation: " + err.Error()
			if errors.Is(err, sizing.ErrInsufficientHistory) {
				current.note = "insufficient history: unchanged"
			}
			return current
		}
		p := plan{Limit: rec.Limit, Request: rec.Request, Xmx: cur.Xmx, agent: s == HeadroomAgent}
		if !rec.Changed {
			p.Limit, p.Request = cur.Limit, cur.Request
		}
		if rec.Changed && rec.Xmx > 0 {
			p.Xmx = rec.Xmx
		}
		return p
	}
	return current
}

// span is the time from the first to the last sample of any pod.
func span(frames []*frame) time.Duration {
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, f := range frames {
		first, last = min(first, f.t[0]), max(last, f.t[len(f.t)-1])
	}
	return time.Duration(last-first) * time.Millisecond
}

// roundMi rounds up to a whole MiB: VPA and KRR work in bytes; a MiB is below their precision
// (VPA's buckets are 5 % wide) and keeps the report readable.
func roundMi(v float64) int64 {
	const mi = 1 << 20
	return int64(math.Ceil(v/mi)) * mi
}

// vpaTarget is VPA's memory target for a container: each pod's working-set peak per 24h interval
// (intervals start at its first sample) goes into a histogram with exponential buckets whose weights
// decay with a 24h half-life (newer peaks count more); the target is the end of the bucket that
// holds the 90th percentile, plus 15 %, at least 250Mi per pod split across its containers. An OOM
// kill raises the peak of its interval to max(used + 100Mi, used x 1.2), where used is the larger
// of the request and the interval's peak so far (RecordOOM).
func vpaTarget(frames []*frame, cur sizing.Current, containersInPod int) int64 {
	type sample struct {
		v float64
		t int64
	}
	var peaks []sample
	ref := int64(math.MaxInt64)
	day := vpaAggregation.Milliseconds()
	for _, f := range frames {
		ref = min(ref, f.t[0])
		end := f.t[0] + day
		var peak sample
		for i, t := range f.t {
			if t >= end {
				if peak.v > 0 {
					peaks = append(peaks, peak)
				}
				end += (t-end)/day*day + day
				peak = sample{}
			}
			if f.ws[i] > peak.v {
				peak = sample{f.ws[i], t}
			}
			if f.oom[i] {
				used := max(float64(cur.Request), peak.v)
				if need := max(used+vpaOOMMin, used*vpaOOMRatio); need > peak.v {
					peak = sample{need, t}
				}
			}
		}
		if peak.v > 0 {
			peaks = append(peaks, peak)
		}
	}
	weights := map[int]float64{}
	var total float64
	for _, p := range peaks {
		w := math.Exp2(float64(p.t-ref) / float64(vpaHalfLife.Milliseconds()))
		weights[vpaBucket(p.v)] += w
		total += w
	}
	buckets := make([]int, 0, len(weights))
	for b := range weights {
		buckets = append(buckets, b)
	}
	slices.Sort(buckets)
	var p90 float64
	var acc float64
	for k, b := range buckets {
		acc += weights[b]
		if acc >= vpaPercentile*total || k == len(buckets)-1 {
			p90 = vpaBucketStart(b + 1) // the end of the bucket, as VPA's histogram returns
			break
		}
	}
	target := p90 * (1 + vpaMargin)
	if containersInPod > 0 {
		target = max(target, float64(vpaPodMin)/float64(containersInPod))
	}
	return roundMi(target)
}

var vpaBuckets = int(math.Ceil(math.Log(vpaMaxValue*(vpaBucketRatio-1)/vpaFirstBucket+1)/math.Log(vpaBucketRatio))) + 1

func vpaBucket(v float64) int {
	if v < vpaFirstBucket {
		return 0
	}
	b := int(math.Log(v*(vpaBucketRatio-1)/vpaFirstBucket+1) / math.Log(vpaBucketRatio))
	return min(b, vpaBuckets-1)
}

func vpaBucketStart(b int) float64 {
	if b <= 0 {
		return 0
	}
	b = min(b, vpaBuckets-1)
	return vpaFirstBucket * (math.Pow(vpaBucketRatio, float64(b)) - 1) / (vpaBucketRatio - 1)
}

// agentPolicy is the policy headroom+agent is sized with: the chart's shorter horizon.
func (o Options) agentPolicy() sizing.Policy {
	p := o.Policy
	if o.AgentHorizon > 0 {
		p.Horizon = sizing.Duration(o.AgentHorizon)
	}
	return p
}

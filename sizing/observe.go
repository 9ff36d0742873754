package sizing

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Cache-model constants. They shape how the estimator reads a curve, not what the policy wants,
// so they are not policy knobs.
const (
	// maxBins bounds the bins per pod: cache is read at a resolution of span/maxBins (at least the sample step).
	maxBins = 256
	// resetDrop: cache falling below this share of the previous sample (and by more than resetMin)
	// starts a new segment: a container restart (new cgroup) or deleted files.
	resetDrop = 0.5
	resetMin  = 8 * Mi
	// A plateau needs at least plateauMinBins usable bins over plateauMinSpan, and a tail (the last
	// quarter, at least tailMinSpan long) whose slope would raise the cache by no more than
	// plateauRise of its level over the horizon.
	plateauMinBins = 8
	plateauMinSpan = 4 * time.Hour
	tailMinSpan    = time.Hour
	plateauRise    = 0.05
	// The growth phase of a plateaued segment ends where cache first reaches growthEnd × plateau.
	growthEnd = 0.9
	// plateauSlack: a censored cache level above plateau × (1+plateauSlack) means the plateau
	// seen elsewhere is not the workload's.
	plateauSlack = 0.05
	// kernelPerCache is the kernel memory charged per byte of cache (xarray nodes, inodes): 13.5 MiB
	// for 347 MiB of cache in FACTS A.1.
	kernelPerCache = 0.04
	// nearLimit: where usage estimated from rss and cache is below (limitBoundFraction - nearLimit)
	// × limit, the exact usage (working set + inactive file) cannot reach the censoring line either
	// (kernel memory beyond 4% of cache is a few MiB, FACTS A.1), so those two series are only read
	// nearer the limit.
	nearLimit = 0.10
	// tailFitPoints bounds the Theil-Sen fit of a tail: enough to tell flat from rising.
	tailFitPoints = 16
	// nonHeapQuantile of RSS - committed heap is the JVM non-heap footprint.
	nonHeapQuantile = 0.95
)

const hourMs = float64(time.Hour / time.Millisecond)

// segment is one run of a container's cache without a reset, in bins of age.
type segment struct {
	origin int64 // age 0, Unix ms
	// ages (ms since origin) and vals of the uncensored bins before the first censored one.
	ages, vals []float64
	censored   bool
	// censoredAge and censoredFirst: age and cache of the first censored bin; censoredLevel: the
	// highest censored cache.
	censoredAge, censoredFirst, censoredLevel float64
}

// estimate is everything observe learns from a container's history.
type estimate struct {
	obs          Observed
	spanMs       int64
	oomLimit     int64 // highest limit of a pod that was OOM-killed
	growthKnown  bool
	growth       float64 // bytes per ms
	intercept    float64
	plateauKnown bool
	plateau      float64
	// projection is the cache expected at the horizon (weighted median of the segments').
	projection float64
	// seenByHorizon is the most cache any container had within the horizon of its start, censored
	// samples included: a floor for the projection that needs no model.
	seenByHorizon float64
}

// scratch holds reusable buffers for one Recommend call; ages and vals are the arena of the
// segments' bins.
type scratch struct {
	pairs, diffs, ys, ages, vals []float64
	segs                         []segment
}

// scratchPool keeps buffers between calls: sizing 10,000 workloads a cycle should not allocate
// megabytes per workload. Nothing in a result points into a scratch.
var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// observe computes the observed figures and the cache model of a container.
func observe(p Policy, c Container) estimate {
	var e estimate
	s := scratchPool.Get().(*scratch)
	defer func() {
		s.pairs, s.diffs, s.ys, s.ages, s.vals = s.pairs[:0], s.diffs[:0], s.ys[:0], s.ages[:0], s.vals[:0]
		s.segs = s.segs[:0]
		scratchPool.Put(s)
	}()
	segs := s.segs
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range c.Pods {
		pod := &c.Pods[i]
		if len(pod.RSS) == 0 {
			continue
		}
		e.obs.Pods++
		e.obs.OOMKills += pod.OOMKills
		first = min(first, pod.RSS[0].T)
		last = max(last, pod.RSS[len(pod.RSS)-1].T)
		segs = scanPod(p, pod, &e, segs, s)
		if pod.OOMKills > 0 {
			for _, l := range pod.Limit {
				e.oomLimit = max(e.oomLimit, int64(l.V))
			}
		}
		e.obs.HeapUsedPeakBytes = max(e.obs.HeapUsedPeakBytes, peak(pod.HeapUsed))
		e.obs.HeapCommittedPeakBytes = max(e.obs.HeapCommittedPeakBytes, peak(pod.HeapCommitted))
		s.diffs = nonHeapDiffs(pod.RSS, pod.HeapCommitted, s.diffs)
	}
	if e.obs.Pods == 0 {
		return e
	}
	e.spanMs = last - first
	e.obs.HistoryHours = e.spanMs / int64(time.Hour/time.Millisecond)
	if len(s.diffs) > 0 {
		e.obs.NonHeapBytes = int64(max(quantileInPlace(s.diffs, nonHeapQuantile), 0))
	}
	s.segs = segs
	cacheModel(&e, p, segs, s)
	e.obs.CacheGrowthBytesPerHour = int64(math.Round(e.growth * hourMs))
	return e
}

// scanPod makes one pass over a pod's series: peaks, censoring, segments and bins.
func scanPod(p Policy, pod *Pod, e *estimate, segs []segment, s *scratch) []segment {
	rss := pod.RSS
	if need := len(s.ages) + maxBins + 2; cap(s.ages) < need {
		// A new arena; segments already made keep the old one.
		s.ages, s.vals = make([]float64, 0, 2*need), make([]float64, 0, 2*need)
	}
	t0, t1 := rss[0].T, rss[len(rss)-1].T
	width := max((t1-t0)/maxBins, 1)
	cc, wc, ac, lc := newCursor(pod.Cache, rss), newCursor(pod.WorkingSet, rss), newCursor(pod.ActiveFile, rss), newCursor(pod.Limit, rss)
	var limit float64
	if len(pod.Limit) > 0 {
		limit = pod.Limit[0].V // limits rarely change; carried forward from here
	}
	var seg *segment
	newSeg := func(origin int64) {
		// Bins of one pod share one backing array: a pod has at most maxBins+1 of them.
		segs = append(segs, segment{origin: origin, ages: s.ages[len(s.ages):], vals: s.vals[len(s.vals):]})
		seg = &segs[len(segs)-1]
	}
	// The bin being filled.
	binEnd := int64(math.MinInt64) // the bin being filled holds samples before binEnd
	var binVal, binAge float64
	var binCensored, binHas bool
	flush := func() {
		if !binHas {
			return
		}
		switch {
		case binCensored:
			if !seg.censored {
				seg.censored, seg.censoredAge, seg.censoredFirst = true, binAge, binVal
			}
			seg.censoredLevel = max(seg.censoredLevel, binVal)
		case !seg.censored:
			if len(s.ages) == cap(s.ages) { // arena full (many restarts): go on in a fresh one
				s.ages, s.vals = make([]float64, 0, 4*maxBins), make([]float64, 0, 4*maxBins)
			}
			seg.ages = append(seg.ages, binAge)
			seg.vals = append(seg.vals, binVal)
			s.ages, s.vals = s.ages[:len(s.ages)+1], s.vals[:len(s.vals)+1]
		}
		binHas, binCensored, binVal = false, false, 0
	}
	prevT, prevCache := int64(math.MinInt64), -1.0
	frac := p.LimitBoundFraction
	horizon := p.Horizon.D().Milliseconds()
	var rssPeak, cachePeak float64
	defer func() {
		e.obs.RSSPeakBytes = max(e.obs.RSSPeakBytes, int64(rssPeak))
		e.obs.CachePeakBytes = max(e.obs.CachePeakBytes, int64(cachePeak))
		e.obs.ActiveFilePeakBytes = max(e.obs.ActiveFilePeakBytes, peak(pod.ActiveFile))
	}()
	e.obs.Samples += len(rss)
	for k, pt := range rss {
		t, r := pt.T, pt.V
		rssPeak = max(rssPeak, r)
		c, hasC := cc.get(k, t)
		if l, ok := lc.get(k, t); ok {
			limit = l
		}
		if !hasC {
			prevT = t
			continue
		}
		cachePeak = max(cachePeak, c)
		// Usage is rss + cache + kernel memory charged for the cache (~4% of it, FACTS A.1). Near
		// the limit, where it matters, the working set and active file make it exact:
		// usage = workingSet + inactive file. (Reading them only there keeps the scan fast.)
		usage := r + c*(1+kernelPerCache)
		if limit > 0 && usage >= (frac-nearLimit)*limit {
			w, hasW := wc.get(k, t)
			a, hasA := ac.get(k, t)
			if hasW && hasA {
				usage = max(usage, w+c-a)
			}
		}
		// At the limit the kernel reclaims cache: the level seen is the limit's, not the workload's.
		// Anon alone at the limit, or (almost) no cache, is an anon squeeze, e.g. just before an
		// OOM kill, not a cap on cache.
		censored := limit > 0 && usage >= frac*limit && c >= float64(resetMin) && r < frac*limit
		if censored {
			e.obs.LimitBound = true
		}
		if seg == nil || prevCache > 0 && c < resetDrop*prevCache && prevCache-c > float64(resetMin) {
			if seg != nil {
				flush()
			}
			origin := t
			switch {
			case seg == nil && pod.Start > 0 && pod.Start <= t:
				origin = pod.Start
			case seg != nil && pod.Start > prevT && pod.Start <= t:
				origin = pod.Start
			}
			newSeg(origin)
			binEnd = math.MinInt64
		}
		if t >= binEnd { // bins are [t0 + k*width, t0 + (k+1)*width)
			flush()
			binEnd = t0 + ((t-t0)/width+1)*width
		}
		if t-seg.origin <= horizon {
			e.seenByHorizon = max(e.seenByHorizon, c)
		}
		if !binHas || c >= binVal {
			binVal, binAge = c, float64(t-seg.origin)
		}
		binHas = true
		binCensored = binCensored || censored
		prevT, prevCache = t, c
	}
	if seg != nil {
		flush()
	}
	return segs
}

// cursor reads a series at increasing timestamps of the pod's RSS series. Series from one history
// query share the grid, so the common case is an index lookup; otherwise it walks.
type cursor struct {
	s       Series
	i       int
	aligned bool
}

func newCursor(s, master Series) cursor {
	n := len(master)
	return cursor{s: s, aligned: n > 0 && len(s) == n && s[0].T == master[0].T && s[n-1].T == master[n-1].T}
}

// get returns the value at index k of the master series, whose timestamp is t.
func (c *cursor) get(k int, t int64) (float64, bool) {
	if c.aligned {
		return c.s[k].V, true
	}
	return at(c.s, &c.i, t)
}

// at returns the value of s at time t, advancing *i (a cursor for increasing t).
func at(s Series, i *int, t int64) (float64, bool) {
	for *i < len(s) && s[*i].T < t {
		*i++
	}
	if *i < len(s) && s[*i].T == t {
		return s[*i].V, true
	}
	return 0, false
}

func peak(s Series) int64 {
	var m float64
	for _, p := range s {
		m = max(m, p.V)
	}
	return int64(m)
}

// nonHeapDiffs appends RSS - committed heap at the timestamps both series have.
func nonHeapDiffs(rss, committed Series, out []float64) []float64 {
	if len(committed) == 0 {
		return out
	}
	out = slices.Grow(out, len(rss))
	j := 0
	for _, p := range rss {
		if v, ok := at(committed, &j, p.T); ok && v > 0 {
			out = append(out, p.V-v)
		}
	}
	return out
}

// cacheModel learns how cache grows with age from the segments and projects it to the horizon.
//
// Per segment, the usable part is the uncensored bins before the first censored one. The segment
// has a plateau when the Theil-Sen slope of its tail (last quarter) would raise the cache by less
// than plateauRise of its level over the horizon; the plateau is its highest level and its growth
// phase ends where cache first reaches 90% of it (a segment already on its plateau when watching
// began is fitted whole). The growth rate is the Theil-Sen slope of the growth phase, the intercept
// the median of value - slope × age, and the segment's projection intercept + slope × horizon,
// capped at its plateau. A segment censored after a single usable bin gives the slope from that bin
// to the level where the limit capped it. Across segments (pods, restarts) projection, growth and
// intercept are medians weighted by how long each was watched. A plateau counts for the workload
// only if no censored segment had more cache than it.
func cacheModel(e *estimate, p Policy, segs []segment, s *scratch) {
	var projs, slopes, icepts, weights []float64
	var grew []bool // the segment showed a growth phase (it was not on its plateau all along)
	var plateau, censoredMax float64
	anyFlat := false
	horizon := float64(p.Horizon.D().Milliseconds())
	fit := func(ages, vals []float64) (g, c0 float64) {
		g, s.pairs = theilSen(ages, vals, s.pairs)
		g = max(g, 0)
		s.ys = s.ys[:0]
		for j := range ages {
			s.ys = append(s.ys, vals[j]-g*ages[j])
		}
		return g, medianInPlace(s.ys)
	}
	for i := range segs {
		sg := &segs[i]
		if sg.censored {
			censoredMax = max(censoredMax, sg.censoredLevel)
		}
		n := len(sg.vals)
		k, top := n, math.Inf(1)
		growing := true
		if n >= plateauMinBins && sg.ages[n-1]-sg.ages[0] >= float64(plateauMinSpan/time.Millisecond) {
			tail := n - max(n/4, 3)
			if sg.ages[n-1]-sg.ages[tail] >= float64(tailMinSpan/time.Millisecond) {
				var ts float64
				ts, s.pairs = theilSenN(sg.ages[tail:], sg.vals[tail:], s.pairs, tailFitPoints)
				s.ys = append(s.ys[:0], sg.vals[tail:]...)
				level := medianInPlace(s.ys)
				if ts*horizon <= plateauRise*level || level < float64(Mi) {
					top = 0
					for _, v := range sg.vals {
						top = max(top, v)
					}
					anyFlat = true
					plateau = max(plateau, top)
					k = 0
					for k < n && sg.vals[k] < growthEnd*top {
						k++
					}
					if k++; k < 3 {
						k, growing = n, false // on its plateau from the first bin: fit the whole segment
					}
				}
			}
		}
		var g, c0, w float64
		switch {
		case k >= 3 && sg.ages[k-1] > sg.ages[0]:
			g, c0 = fit(sg.ages[:k], sg.vals[:k])
			w = sg.ages[k-1] - sg.ages[0]
		case sg.censored && n > 0 && sg.censoredAge > sg.ages[0]:
			// Too few usable bins for a fit: the rise from the first bin to the level where the
			// limit capped it is the growth seen.
			w = sg.censoredAge - sg.ages[0]
			g = max((sg.censoredFirst-sg.vals[0])/w, 0)
			c0 = sg.vals[0] - g*sg.ages[0]
		default:
			continue
		}
		slopes = append(slopes, g)
		icepts = append(icepts, c0)
		weights = append(weights, w)
		grew = append(grew, growing)
		projs = append(projs, min(max(c0, 0)+g*horizon, top))
	}
	if len(slopes) > 0 {
		e.growthKnown = true
		e.projection = weightedMedian(projs, weights)
		// The growth rate reported is that of the segments that grew; pods already on their
		// plateau only confirm the level.
		if slices.Contains(grew, true) {
			slopes, icepts, weights = keep(slopes, grew), keep(icepts, grew), keep(weights, grew)
		}
		e.growth = weightedMedian(slopes, weights)
		e.intercept = max(weightedMedian(icepts, weights), 0)
	}
	if anyFlat && censoredMax <= plateau*(1+plateauSlack) {
		e.plateauKnown, e.plateau = true, plateau
	}
}

// keep returns the values whose flag is set.
func keep(v []float64, flags []bool) []float64 {
	out := v[:0:0]
	for i, f := range flags {
		if f {
			out = append(out, v[i])
		}
	}
	return out
}

package backtest

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/sizing"
)

// Kernel and cache constants of the replay, the same figures sizing reads history with.
const (
	// kernelPerCache is the kernel memory charged per byte of page cache (FACTS.md A.1: 13.5 MiB
	// for 347 MiB): usage = anon + cache + kernel memory, and the cache's share goes with it.
	kernelPerCache = 0.04
	// resetDrop and resetMin: cache falling below half of the previous sample, by more than 8 MiB,
	// is a new cgroup (a restart) or deleted files: cache starts over (as in sizing).
	resetDrop = 0.5
	resetMin  = 8 << 20
	// minKernel is the least kernel memory taken to stay charged when all cache is reclaimed:
	// 0.5-4 MiB remained after the reclaims of FACTS.md A.5. (Usage, working set and cache are each
	// the maximum over a step, so the kernel memory read from them can come out too low.)
	minKernel = 2 << 20
)

// frame is one pod's observed history on its RSS timestamps, with what the replay derives from it.
type frame struct {
	t []int64 // Unix ms
	// Observed, per sample: anon (rss), page cache, active file, kernel memory (usage - rss - cache),
	// the limit (0: none), usage and working set as recorded.
	rss, cache, active, kernel, limit, usage, ws []float64
	// heapUsed and heapCommitted are NaN where not exported.
	heapUsed, heapCommitted []float64
	// reset: a fresh cgroup or deleted files start here; censored: usage sat at the limit with
	// cache in it, so the cache seen is the limit's, not the workload's.
	reset, censored []bool
	// demand is the cache the workload would have kept with room to spare: the observed level, and
	// through censored stretches the learned growth carried on from the last free level.
	demand []float64
	// oom marks the samples taken as the pod's recorded OOM kills (history only has their count).
	oom []bool
	// growth is the learned cache growth in bytes per ms.
	growth float64
}

// frames builds a frame per pod with samples. rec is headroom's recommendation under the policy:
// its cache model (growth rate, plateau) carries the cache through censored stretches. The growth
// is reported even with too little history for a recommendation.
func (o Options) frames(c Container, rec sizing.Recommendation) []*frame {
	m := cacheModel{growth: float64(rec.Observed.CacheGrowthBytesPerHour) / float64(time.Hour.Milliseconds()), intercept: -1}
	if rec.Model.PlateauKnown {
		m.plateau = float64(rec.Model.Plateau)
	}
	if rec.Model.GrowthKnown {
		m.intercept = float64(rec.Model.CacheIntercept)
	}
	var out []*frame
	for i := range c.History.Pods {
		if f := o.frame(&c.History.Pods[i], m); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// cacheModel is what sizing learned about the container's cache: growth in bytes per ms of pod
// age from intercept (-1: not learned), up to plateau (0: none known).
type cacheModel struct{ growth, intercept, plateau float64 }

// capped caps a demand at the plateau, never below the observed level c.
func (m cacheModel) capped(d, c float64) float64 {
	if m.plateau > 0 {
		return min(d, max(m.plateau, c))
	}
	return d
}

func (o Options) frame(p *sizing.Pod, m cacheModel) *frame {
	n := len(p.RSS)
	if n == 0 {
		return nil
	}
	f := &frame{growth: m.growth, t: make([]int64, n)}
	for _, s := range []*[]float64{&f.rss, &f.cache, &f.active, &f.kernel, &f.limit, &f.usage, &f.ws, &f.heapUsed, &f.heapCommitted, &f.demand} {
		*s = make([]float64, n)
	}
	f.reset, f.censored, f.oom = make([]bool, n), make([]bool, n), make([]bool, n)
	cache, ws, active, limit := reader{s: p.Cache}, reader{s: p.WorkingSet}, reader{s: p.ActiveFile}, reader{s: p.Limit}
	used, committed := reader{s: p.HeapUsed}, reader{s: p.HeapCommitted}
	frac := o.Policy.LimitBoundFraction
	var lim float64
	if len(p.Limit) > 0 {
		lim = p.Limit[0].V // carried forward, as sizing does
	}
	for k, pt := range p.RSS {
		t, r := pt.T, pt.V
		f.t[k], f.rss[k] = t, r
		c, _ := cache.at(t)
		if l, ok := limit.at(t); ok {
			lim = l
		}
		w, hasW := ws.at(t)
		a, hasA := active.at(t)
		// usage = working set + inactive file = ws + cache - active (exact, kernel memory included);
		// without both, anon + cache + the cache's kernel memory (as sizing estimates it).
		var usage, act float64
		switch {
		case hasW && hasA:
			usage, act = max(w+c-a, r+c), min(a, c)
		case hasW:
			usage = max(r+c*(1+kernelPerCache), w)
			act = min(max(w-r-c*kernelPerCache, 0), c)
		default:
			usage = r + c*(1+kernelPerCache)
			w = r + c*kernelPerCache
		}
		f.cache[k], f.active[k], f.limit[k], f.usage[k], f.ws[k] = c, act, lim, usage, w
		f.kernel[k] = usage - r - c
		f.heapUsed[k], f.heapCommitted[k] = math.NaN(), math.NaN()
		if v, ok := used.at(t); ok {
			f.heapUsed[k] = v
		}
		if v, ok := committed.at(t); ok && v > 0 {
			f.heapCommitted[k] = v
		}
		f.censored[k] = lim > 0 && usage >= frac*lim && c >= resetMin && r < frac*lim
		switch {
		case k == 0:
			f.reset[k] = true
		case c < resetDrop*f.cache[k-1] && f.cache[k-1]-c > resetMin:
			f.reset[k] = true
		case p.Start > f.t[k-1] && p.Start <= t:
			f.reset[k] = true
		}
		f.demand[k] = c
		switch {
		case !f.censored[k]:
		case !f.reset[k]:
			f.demand[k] = m.capped(max(c, f.demand[k-1]+m.growth*float64(t-f.t[k-1])), c)
		case k == 0 && m.intercept >= 0 && p.Start > 0 && p.Start < t:
			// A pod that was already at its limit when the window opened: its cache would be
			// where the learned growth puts it at its age.
			f.demand[k] = m.capped(max(c, m.intercept+m.growth*float64(t-p.Start)), c)
		}
	}
	f.markOOMs(p.OOMKills)
	return f
}

// markOOMs takes the pod's n recorded OOM kills to be at its n samples with the highest anon
// memory relative to the limit: at a kill anon filled the limit (FACTS.md A.3). History gives only
// the count, not the time.
func (f *frame) markOOMs(n int) {
	if n <= 0 {
		return
	}
	idx := make([]int, len(f.t))
	for i := range idx {
		idx[i] = i
	}
	ratio := func(i int) float64 {
		if f.limit[i] > 0 {
			return (f.rss[i] + f.kernelBase(i)) / f.limit[i]
		}
		return 0
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ratio(b), ratio(a)) })
	for _, i := range idx[:min(n, len(idx))] {
		f.oom[i] = true
	}
}

// kernelBase is the kernel memory that is not the page cache's: what stays charged when every
// cache page is reclaimed, at least minKernel.
func (f *frame) kernelBase(i int) float64 {
	return max(f.kernel[i]-kernelPerCache*f.cache[i], minKernel)
}

// reader reads a series at increasing times.
type reader struct {
	s sizing.Series
	i int
}

func (r *reader) at(t int64) (float64, bool) {
	for r.i < len(r.s) && r.s[r.i].T < t {
		r.i++
	}
	if r.i < len(r.s) && r.s[r.i].T == t {
		return r.s[r.i].V, true
	}
	return 0, false
}

package backtest

import (
	"cmp"
	"math"
	"slices"

	"github.com/headroom-dev/headroom/reclaim"
	"github.com/headroom-dev/headroom/sizing"
)

// maxTicks bounds the agent's looks per sample (a 15m step at the agent's 10s interval is 90).
const maxTicks = 256

// plan is what a strategy sets for a container.
type plan struct {
	Limit, Request, Xmx int64
	// agent: the node agent reclaims cache by its rule.
	agent bool
	note  string
}

// replay runs a plan over every pod of a container and counts OOM-risk and alert samples and
// reclaims; tr, when not nil, collects usage for the charts.
func (o Options) replay(c Container, frames []*frame, p plan, tr *trace) Outcome {
	var oom, alertU, alertW, reclaims int
	for _, f := range frames {
		r := o.replayPod(c.Current, f, p, tr)
		oom += r.oom
		alertU += r.alertUsage
		alertW += r.alertWS
		reclaims += r.reclaims
	}
	return Outcome{OOMRiskMinutes: o.minutes(oom), AlertUsageMinutes: o.minutes(alertU),
		AlertWorkingSetMinutes: o.minutes(alertW), Reclaims: reclaims}
}

type podCounts struct{ oom, alertUsage, alertWS, reclaims int }

// replayPod is the kernel model for one pod (docs/backtest.md):
//
//   - anon memory is the recorded RSS, except that a JVM whose -Xmx changes has its committed heap
//     replaced: RSS follows committed heap (FACTS.md C.2);
//   - page cache grows as the workload's demand grows (observed, or the learned growth where the
//     limit censored it) or, after a reclaim, at least at the learned rate, and never beyond the
//     room the limit leaves: at the limit the kernel reclaims it (FACTS.md A.1);
//   - with the agent, every AgentInterval the agent's rule (reclaim.Decide) looks at the pod and
//     reclaims, at most once per AgentMinInterval.
//
// Where a plan keeps the recorded limit and anon memory, the recorded samples are read as they are.
func (o Options) replayPod(cur sizing.Current, f *frame, p plan, tr *trace) podCounts {
	var n podCounts
	L := float64(p.Limit)
	line := o.Policy.TargetUtilization * L
	tickMs := max(o.AgentInterval.Milliseconds(), 1)
	minGap := o.AgentMinInterval.Milliseconds()
	lastReclaim := int64(math.MinInt64)
	C := 0.0        // the replayed page cache
	synced := false // the replay still equals the record
	for i, t := range f.t {
		anon, risk := o.anon(cur, f, i, p)
		if f.reset[i] {
			synced, C = true, -1
		}
		var usage, ws float64
		if synced && !o.simulateAll && !p.agent && L == f.limit[i] && anon == f.rss[i] {
			C, usage, ws = f.cache[i], f.usage[i], f.ws[i]
		} else {
			synced = false
			// Room the limit leaves the cache: usage = anon + cache + kernel memory <= limit, where
			// the kernel memory is the recorded one with the cache's share following the cache.
			room := math.Inf(1)
			if L > 0 {
				room = max((L-anon-f.kernel[i]+kernelPerCache*f.cache[i])/(1+kernelPerCache), 0)
			}
			d1 := f.demand[i]
			if C < 0 {
				// A fresh cgroup, or a pod already running when the window opens: its first sample's
				// cache, as far as the limit leaves room. The plan is taken to have been in force
				// before, so the agent has had its pass before the sample is read (a reclaim counts
				// only for cgroups that start inside the window).
				C = min(d1, room)
				if p.agent {
					if r, ok := o.agentPass(f, i, anon, C, p); ok {
						C = r
						lastReclaim = t
						if i > 0 {
							n.reclaims++
						}
					}
				}
				usage, ws, _ = o.usageOf(f, i, anon, C)
			} else {
				d0, dt := f.demand[i-1], t-f.t[i-1]
				// Cache comes back at the demand's pace, and after a reclaim at least at the learned
				// growth rate (the workload re-reads or writes what was dropped).
				grow := max(d1-d0, f.growth*float64(dt))
				ticks := 1
				if p.agent {
					ticks = int(min(max((dt+tickMs-1)/tickMs, 1), maxTicks))
				}
				usage, ws = 0, 0
				for j := 1; j <= ticks; j++ {
					frac := float64(j) / float64(ticks)
					C = max(min(C+grow/float64(ticks), d0+(d1-d0)*frac, room), 0)
					u, w, _ := o.usageOf(f, i, anon, C)
					// A sample holds the most the step saw (history is max_over_time): the level
					// just before the agent acts.
					usage, ws = max(usage, u), max(ws, w)
					if !p.agent {
						continue
					}
					now := t - dt + int64(frac*float64(dt))
					if lastReclaim != math.MinInt64 && now-lastReclaim < minGap {
						continue
					}
					if r, ok := o.agentPass(f, i, anon, C, p); ok {
						C, lastReclaim = r, now
						n.reclaims++
					}
				}
			}
		}
		if L > 0 {
			if usage > line {
				n.alertUsage++
			}
			if ws > line {
				n.alertWS++
			}
			// OOM kill: anon plus the kernel memory reclaim cannot free fills the limit (FACTS.md
			// A.3); or a recorded kill under a limit no larger than the one it happened at.
			if anon+f.kernelBase(i) >= L || f.oom[i] && L <= f.limit[i] {
				risk = true
			}
		}
		if risk {
			n.oom++
		}
		if tr != nil {
			tr.add(t, usage)
		}
	}
	return n
}

// agentPass applies the agent's rule to the replayed cgroup and returns the cache after its
// reclaim, if it reclaims. The kernel takes inactive pages first; the active ones left are
// min(active, cache), which usageOf computes.
func (o Options) agentPass(f *frame, i int, anon, c float64, p plan) (float64, bool) {
	u, _, a := o.usageOf(f, i, anon, c)
	act := reclaim.Decide(reclaim.Stats{Usage: int64(u), Limit: p.Limit, Anon: int64(anon), File: int64(c),
		ActiveFile: int64(a), InactiveFile: int64(c - a)}, o.Agent)
	if act.Verdict != reclaim.VerdictReclaim || act.Bytes <= 0 {
		return c, false
	}
	return max(c-float64(act.Bytes), 0), true
}

// usageOf returns usage, working set and active file of sample i with anon memory anon and page
// cache c: the hot (active) files are the recorded ones as far as the cache holds them, and the
// kernel memory charged for the cache follows the cache.
func (o Options) usageOf(f *frame, i int, anon, c float64) (usage, ws, active float64) {
	kernel := max(f.kernel[i]+kernelPerCache*(c-f.cache[i]), 0)
	active = min(f.active[i], c)
	return anon + c + kernel, anon + active + kernel, active
}

// anon returns the anon memory of sample i under the plan, and whether heap use exceeds the plan's
// -Xmx (a java.lang.OutOfMemoryError, FACTS.md B.5).
//
// RSS follows committed heap, not used heap (FACTS.md C.2): a JVM whose -Xmx goes from X0 to X
// has its recorded committed heap h replaced by min(X, h) when the heap shrinks (it commits what it
// committed before, up to the new maximum), and by min(X, h·X/X0) when it grows (it commits the same
// share of a larger maximum). Both are the larger of the two readings, so the replay errs toward
// more anon memory. Without heap metrics, or with -Xmx unchanged or unknown, anon is the recorded RSS.
func (o Options) anon(cur sizing.Current, f *frame, i int, p plan) (float64, bool) {
	r := f.rss[i]
	x0, x := float64(cur.Xmx), float64(p.Xmx)
	if !cur.JVM || cur.Xmx <= 0 || p.Xmx <= 0 || p.Xmx == cur.Xmx {
		return r, false
	}
	heapOOM := !math.IsNaN(f.heapUsed[i]) && f.heapUsed[i] > x
	h := f.heapCommitted[i]
	if math.IsNaN(h) {
		return r, heapOOM
	}
	h1 := min(x, h)
	if x > x0 {
		h1 = min(x, h*x/x0)
	}
	return max(r-h+h1, 0), heapOOM
}

// trace collects (time, usage) of every pod; points gives the most of any pod per time.
type trace struct{ pts []point }

type point struct {
	t int64
	v float64
}

func (tr *trace) add(t int64, v float64) { tr.pts = append(tr.pts, point{t, v}) }

func (tr *trace) points() []point {
	slices.SortStableFunc(tr.pts, func(a, b point) int { return cmp.Compare(a.t, b.t) })
	out := tr.pts[:0]
	for _, p := range tr.pts {
		if k := len(out); k > 0 && out[k-1].t == p.t {
			out[k-1].v = max(out[k-1].v, p.v)
			continue
		}
		out = append(out, p)
	}
	return out
}

package sizing

import (
	"fmt"
	"strconv"
	"strings"
)

// jvmSize spells a heap size the way the JVM reads it and jvm.FormatSize writes it: "384m", "2048m".
func jvmSize(n int64) string {
	switch {
	case n > 0 && n%Mi == 0:
		return strconv.FormatInt(n/Mi, 10) + "m"
	case n > 0 && n%Ki == 0:
		return strconv.FormatInt(n/Ki, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" }

// anonPhrase explains the anon need: "649Mi of anon memory (non-heap 180Mi + heap 384Mi, +15%)".
func (s *sizer) anonPhrase() string {
	m, obs := s.m, s.e.obs
	var why string
	switch {
	case m.Xmx > 0 && s.heapManaged:
		why = fmt.Sprintf("non-heap %s + heap %s", human(m.NonHeap), human(m.ProjectedRSS-m.NonHeap))
	case m.Xmx > 0:
		why = fmt.Sprintf("-Xmx %s + non-heap %s", jvmSize(m.Xmx), human(m.NonHeap))
	default:
		why = "RSS peak " + human(obs.RSSPeakBytes)
	}
	if m.OOMBase > 0 {
		kills := "OOM kill"
		if obs.OOMKills > 1 {
			kills = "OOM kills"
		}
		why += fmt.Sprintf(", bumped to %s after %d %s", human(m.OOMBase), obs.OOMKills, kills)
	}
	return fmt.Sprintf("%s of anon memory (%s, +%s)", human(m.RSSNeed), why, pct(s.p.RSSMargin))
}

// cachePhrase explains the cache headroom.
func (s *sizer) cachePhrase() string {
	m, e := s.m, s.e
	active := e.obs.ActiveFilePeakBytes
	proj := m.CacheAtHorizon
	var what string
	switch {
	case e.plateauKnown && proj >= m.Plateau:
		what = "page cache that levels off at " + human(m.Plateau)
	case e.growthKnown:
		what = fmt.Sprintf("%s of page cache (%s of growth at %s/h)", human(proj), s.p.Horizon, human(m.CacheGrowthPerHour))
	default:
		what = human(proj) + " of page cache as seen (its growth could not be measured)"
	}
	if seen := m.CacheSeenByHorizon; float64(seen) > 1.05*float64(proj) && seen >= active {
		return fmt.Sprintf("the %s of page cache seen within %s of a start", human(seen), s.p.Horizon)
	}
	if active > proj {
		return fmt.Sprintf("its %s active file set", human(active))
	}
	return what
}

func (s *sizer) reason() string {
	p, cur, m, rec, obs := s.p, s.cur, s.m, s.rec, s.e.obs
	if !rec.Changed {
		return fmt.Sprintf("Computed limit %s (%s plus %s at %s utilization) is within %s of the current %s; left unchanged.",
			human(m.Limit), s.anonPhrase(), s.cachePhrase(), pct(p.TargetUtilization), pct(p.ChangeThreshold), limitName(cur.Limit))
	}
	var parts []string
	switch {
	case s.limitChg && rec.Limit > 0:
		parts = append(parts, fmt.Sprintf("Limit %s -> %s for %s plus %s at %s utilization",
			limitName(cur.Limit), human(rec.Limit), s.anonPhrase(), s.cachePhrase(), pct(p.TargetUtilization)))
	case rec.Limit == 0:
		parts = append(parts, fmt.Sprintf("No memory limit is set and the policy adds none (sized %s for %s plus %s)",
			human(m.Limit), s.anonPhrase(), s.cachePhrase()))
	default:
		parts = append(parts, fmt.Sprintf("Limit stays %s (computed %s for %s plus %s)",
			human(cur.Limit), human(m.Limit), s.anonPhrase(), s.cachePhrase()))
	}
	if s.newXmx > 0 {
		used := human(obs.HeapUsedPeakBytes)
		switch {
		case cur.Xmx == 0:
			parts = append(parts, fmt.Sprintf("-Xmx %s added as heap use peaks at %s", jvmSize(s.newXmx), used))
		case s.newXmx < cur.Xmx:
			parts = append(parts, fmt.Sprintf("-Xmx %s -> %s as heap use peaks at %s and RSS follows committed heap",
				jvmSize(cur.Xmx), jvmSize(s.newXmx), used))
		default:
			parts = append(parts, fmt.Sprintf("-Xmx %s -> %s as heap use peaks at %s", jvmSize(cur.Xmx), jvmSize(s.newXmx), used))
		}
	}
	if s.requestChg && rec.Request > 0 {
		parts = append(parts, "request "+human(rec.Request))
	}
	switch m.Clamp {
	case ClampIncrease:
		parts = append(parts, fmt.Sprintf("capped at %vx the current limit, so the agent has to keep cache in check beyond that", p.MaxIncreaseFactor))
	case ClampAnonOverCap:
		parts = append(parts, fmt.Sprintf("above %vx the current limit because the anon need requires it", p.MaxIncreaseFactor))
	case ClampMaxLimit:
		parts = append(parts, "capped at the policy's maxLimit "+human(s.hardCap)+", so the agent has to keep cache in check beyond that")
	case ClampLimitRange:
		parts = append(parts, "capped at the LimitRange maximum "+human(s.hardCap)+", so the agent has to keep cache in check beyond that")
	}
	if obs.LimitBound {
		parts = append(parts, "the old limit capped the cache (usage sat at the limit while the kernel reclaimed)")
	}
	if cur.JVM && cur.Xmx == 0 && !s.heapManaged {
		parts = append(parts, "the heap has no explicit -Xmx and follows the limit")
	}
	return strings.Join(parts, "; ") + "."
}

func (s *sizer) noFitReason(why Clamp) string {
	max := "the policy's maxLimit"
	if why == ClampLimitRange {
		max = "the LimitRange maximum"
	}
	return fmt.Sprintf("Needs at least %s (%s) but %s is %s; left unchanged.",
		human(s.m.Floor), s.anonPhrase(), max, human(s.hardCap))
}

func limitName(n int64) string {
	if n <= 0 {
		return "none"
	}
	return human(n)
}

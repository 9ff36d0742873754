package sizing

import (
	"fmt"
	"math"
	"time"
)

// Recommend sizes one container from its history under the policy (DESIGN.md section 5).
//
// With less history than policy.MinHistory it returns an error wrapping ErrInsufficientHistory
// together with a Recommendation that carries the observed figures and the reason, and is not
// Changed. Otherwise the error is nil. The result depends only on the arguments.
func Recommend(p Policy, c Container, cur Current) (Recommendation, error) {
	e := observe(p, c)
	rec := Recommendation{Limit: cur.Limit, Request: cur.Request, Observed: e.obs}
	span := time.Duration(e.spanMs) * time.Millisecond
	if e.obs.Samples == 0 {
		rec.Reason = "Insufficient history: no samples in the window; left unchanged."
		return rec, fmt.Errorf("%w: no samples", ErrInsufficientHistory)
	}
	if span < p.MinHistory.D() {
		have := FormatDuration(span.Truncate(time.Minute))
		rec.Reason = fmt.Sprintf("Insufficient history: %s of the %s needed; left unchanged.", have, p.MinHistory)
		return rec, fmt.Errorf("%w: %s of %s", ErrInsufficientHistory, have, p.MinHistory)
	}
	s := sizer{p: p, cur: cur, e: &e, rec: &rec, m: &rec.Model, step: int64(p.Step)}
	s.heap()
	rec.Observed = e.obs // heap() fills in the estimated non-heap of a JVM without heap metrics
	s.anon()
	s.cache()
	if !s.limit() {
		return rec, nil
	}
	s.request()
	s.decide()
	rec.Reason = s.reason()
	return rec, nil
}

type sizer struct {
	p    Policy
	cur  Current
	e    *estimate
	rec  *Recommendation
	m    *Model
	step int64

	heapManaged bool  // the heap is sized from heap metrics
	newXmx      int64 // -Xmx to set; 0 when the heap setting stays
	limitValue  int64 // computed limit, also when the container keeps having none
	hardCap     int64
	request0    int64 // computed request before hysteresis
	limitChg    bool
	requestChg  bool
}

func ceil(f float64) int64 { return int64(math.Ceil(f)) }

// differs reports whether v is more than threshold away from cur (any v differs from an unset cur).
func differs(v, cur int64, threshold float64) bool {
	if cur <= 0 {
		return v > 0
	}
	return math.Abs(float64(v-cur)) > threshold*float64(cur)
}

// heap decides -Xmx (step 1) and the JVM's projected RSS under it.
func (s *sizer) heap() {
	p, cur, obs, m := s.p, s.cur, &s.e.obs, s.m
	switch {
	case cur.JVM && obs.HeapUsedPeakBytes > 0:
		s.heapManaged = true
		target := roundUp(ceil(float64(obs.HeapUsedPeakBytes)*(1+p.HeapMargin)), s.step)
		target = max(target, roundUp(int64(p.MinHeap), s.step))
		if cur.Xmx > 0 {
			if target < cur.Xmx && !p.LowerXmx {
				target = cur.Xmx
			}
			// Heap-used peaks include young-generation garbage; cap how fast -Xmx can grow.
			if c := roundDown(ceil(float64(cur.Xmx)*p.MaxIncreaseFactor), s.step); target > c && c >= cur.Xmx {
				target = c
			}
		}
		m.Xmx = cur.Xmx
		if cur.Xmx == 0 || differs(target, cur.Xmx, p.ChangeThreshold) {
			s.newXmx, m.Xmx = target, target
		}
		// RSS follows committed heap, not used heap (FACTS C.2): under the new -Xmx the heap part of
		// RSS is what was committed, capped by -Xmx; the rest of RSS (non-heap) stays as measured.
		heapPart := m.Xmx
		if obs.HeapCommittedPeakBytes > 0 {
			heapPart = min(obs.HeapCommittedPeakBytes, m.Xmx)
			m.NonHeap = obs.NonHeapBytes
		} else {
			m.NonHeap = max(obs.RSSPeakBytes-m.Xmx, int64(p.MinNonHeap))
			obs.NonHeapBytes = m.NonHeap
		}
		m.ProjectedRSS = m.NonHeap + heapPart
	case cur.JVM && cur.Xmx > 0:
		// No heap metrics: keep -Xmx and assume the heap commits fully (a JVM's RSS converges to
		// -Xmx + non-heap); non-heap is what RSS shows above -Xmx, at least minNonHeap.
		m.Xmx = cur.Xmx
		m.NonHeap = max(obs.RSSPeakBytes-cur.Xmx, int64(p.MinNonHeap))
		obs.NonHeapBytes = m.NonHeap
		m.ProjectedRSS = cur.Xmx + m.NonHeap
	default:
		m.ProjectedRSS = obs.RSSPeakBytes
	}
}

// anon computes the anon need (step 2) with the OOM bump-up.
func (s *sizer) anon() {
	p, obs, m := s.p, s.e.obs, s.m
	anon := float64(m.ProjectedRSS)
	if obs.OOMKills > 0 {
		// At an OOM kill anon + unreclaimable memory filled the limit (FACTS A.3), so the need is at
		// least that limit, unless the heap is being shrunk below what was committed then.
		shrinking := s.heapManaged && m.Xmx < obs.HeapCommittedPeakBytes
		if !shrinking {
			anon = max(anon, float64(s.e.oomLimit))
		}
		anon = max(anon*p.OOMBumpRatio, anon+float64(p.OOMMinBump))
		m.OOMBase = ceil(anon)
	}
	m.RSSNeed = ceil(anon * (1 + p.RSSMargin))
}

// cache computes the cache headroom (step 3).
func (s *sizer) cache() {
	e, m := s.e, s.m
	var proj float64
	switch {
	case e.growthKnown:
		proj = e.projection
		if e.plateauKnown {
			proj = min(proj, e.plateau)
		}
	case e.plateauKnown:
		proj = e.plateau
	default:
		proj = float64(e.obs.CachePeakBytes) // nothing learned: at least what was seen
	}
	m.CacheAtHorizon = ceil(proj)
	m.CacheIntercept = int64(math.Round(e.intercept))
	m.CacheGrowthPerHour = e.obs.CacheGrowthBytesPerHour
	m.GrowthKnown = e.growthKnown
	m.Plateau, m.PlateauKnown = int64(math.Round(e.plateau)), e.plateauKnown
	m.CacheSeenByHorizon = int64(e.seenByHorizon)
	m.CacheHeadroom = max(ceil(proj), m.CacheSeenByHorizon, e.obs.ActiveFilePeakBytes)
}

// limit computes the limit (step 4). It returns false when the anon need does not fit under a
// hard maximum: the recommendation is then "unchanged" with a reason.
func (s *sizer) limit() bool {
	p, cur, m, obs := s.p, s.cur, s.m, s.e.obs
	floor := m.RSSNeed
	if m.Xmx > 0 {
		floor = max(floor, m.Xmx+m.NonHeap+obs.ActiveFilePeakBytes)
	}
	m.Floor = roundUp(max(floor, int64(p.MinLimit)), s.step)
	limit := roundUp(ceil(float64(m.RSSNeed+m.CacheHeadroom)/p.TargetUtilization), s.step)
	limit = max(limit, m.Floor)

	hard, why := int64(0), ClampNone
	if p.MaxLimit > 0 {
		hard, why = roundDown(int64(p.MaxLimit), s.step), ClampMaxLimit
	}
	if lr := roundDown(cur.LimitRangeMax, s.step); cur.LimitRangeMax > 0 && (hard == 0 || lr < hard) {
		hard, why = lr, ClampLimitRange
	}
	s.hardCap = hard
	if hard > 0 && m.Floor > hard {
		m.Clamp = ClampNoFit
		m.Limit = m.Floor
		s.rec.Reason = s.noFitReason(why)
		return false
	}
	if hard > 0 && limit > hard {
		limit, m.Clamp = hard, why
	}
	if cur.Limit > 0 {
		if soft := roundDown(ceil(float64(cur.Limit)*p.MaxIncreaseFactor), s.step); limit > soft {
			if m.Floor > soft {
				limit, m.Clamp = m.Floor, ClampAnonOverCap
			} else {
				limit, m.Clamp = soft, ClampIncrease
			}
		}
	}
	m.Limit = limit
	s.limitValue = limit
	return true
}

// request computes the request (step 5).
func (s *sizer) request() {
	p, cur, m := s.p, s.cur, s.m
	switch {
	case cur.Guaranteed || p.Request == RequestLimit:
		s.request0 = s.limitValue
	case p.Request == RequestKeep:
		s.request0 = min(cur.Request, s.limitValue)
	default:
		s.request0 = min(roundUp(m.RSSNeed+s.e.obs.ActiveFilePeakBytes, s.step), s.limitValue)
	}
}

// decide applies hysteresis (step 6) and fills the result.
func (s *sizer) decide() {
	p, cur, m, rec := s.p, s.cur, s.m, s.rec
	newLimit := s.limitValue
	if cur.Limit == 0 && !p.AddMissingLimit {
		newLimit = 0
	}
	// Never keep a limit below the floor, however close it is.
	s.limitChg = differs(newLimit, cur.Limit, p.ChangeThreshold) || cur.Limit > 0 && cur.Limit < m.Floor
	s.requestChg = differs(s.request0, cur.Request, p.ChangeThreshold)
	limit, request := cur.Limit, cur.Request
	if s.limitChg {
		limit = newLimit
	}
	if s.requestChg {
		request = s.request0
	}
	if limit > 0 && request > limit || cur.Guaranteed && limit > 0 && request != limit {
		request = limit
		s.requestChg = request != cur.Request
	}
	rec.Changed = s.limitChg || s.requestChg || s.newXmx > 0
	if rec.Changed {
		rec.Limit, rec.Request, rec.Xmx = limit, request, s.newXmx
	}
}

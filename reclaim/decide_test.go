package reclaim

import (
	"math/rand/v2"
	"testing"
)

// The agent's table test (agent/decide_test.go) pins the reasons and amounts through the agent's
// names for these types; this one checks the properties the backtest relies on over random cgroups.
func TestDecideProperties(t *testing.T) {
	const mi = int64(1) << 20
	r := rand.New(rand.NewPCG(1, 2))
	th := DefaultThresholds
	checked := 0
	for range 20000 {
		limit := (64 + r.Int64N(8000)) * mi
		anon := r.Int64N(limit + limit/10)
		active := r.Int64N(limit/2 + 1)
		inactive := r.Int64N(limit + 1)
		kernel := r.Int64N(8 * mi)
		s := Stats{Usage: anon + active + inactive + kernel, Limit: limit, Anon: anon, File: active + inactive,
			ActiveFile: active, InactiveFile: inactive}
		a := Decide(s, th)
		line := int64(th.Threshold * float64(limit))
		over := s.Usage > line
		switch a.Verdict {
		case VerdictUnder:
			if over {
				t.Fatalf("%+v: usage over the threshold but %s", s, a.Verdict)
			}
		case VerdictNotCache:
			if !over || s.Usage-s.Reclaimable() <= line {
				t.Fatalf("%+v: not-cache, but reclaiming the cache would bring usage under the threshold", s)
			}
		case VerdictReclaim:
			checked++
			if !over || a.Bytes <= 0 || a.Bytes > s.Reclaimable() {
				t.Fatalf("%+v: reclaim %d bytes, reclaimable %d", s, a.Bytes, s.Reclaimable())
			}
			// After the reclaim usage is at the target, or every reclaimable page is gone and usage is
			// still under the threshold (never left over it by a reclaim that could have done more).
			after := s.Usage - a.Bytes
			target := int64(th.Target * float64(limit))
			if after > target && (a.Bytes != s.Reclaimable() || after > line) && (a.Bytes != s.InactiveFile || after > line) {
				t.Fatalf("%+v: usage after the reclaim %d, target %d, line %d", s, after, target, line)
			}
			// With only usage over the line, the hot (active) cache is left alone.
			if s.WorkingSet() <= line && a.Bytes > s.InactiveFile {
				t.Fatalf("%+v: working set under the line, yet %d bytes reclaimed beyond the inactive list", s, a.Bytes)
			}
		default:
			t.Fatalf("%+v: verdict %s for a cgroup with a limit", s, a.Verdict)
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d reclaims among the random cgroups: the generator misses the interesting case", checked)
	}
}

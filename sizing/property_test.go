package sizing_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/sizing"
)

// The invariants of DESIGN.md section 5, checked over seeded random cases.

// propertyCases random cases per property; HEADROOM_PROPERTY_SEED explores other cases.
const propertyCases = 300

func forCases(t *testing.T, f func(t *testing.T, s synth)) {
	t.Helper()
	seed := uint64(42)
	if v := os.Getenv("HEADROOM_PROPERTY_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	r := rand.New(rand.NewPCG(seed, 4242))
	for i := 0; i < propertyCases; i++ {
		s := randomSynth(r)
		t.Run("", func(t *testing.T) { f(t, s) })
	}
}

func recommend(t *testing.T, p sizing.Policy, s synth, cur sizing.Current) sizing.Recommendation {
	t.Helper()
	rec, err := sizing.Recommend(p, s.container(), cur)
	if err != nil && !errors.Is(err, sizing.ErrInsufficientHistory) {
		t.Fatalf("Recommend: %v\ncase %v", err, s)
	}
	return rec
}

func TestPropertyNeverBelowAnonNeed(t *testing.T) {
	p := sizing.Default()
	forCases(t, func(t *testing.T, s synth) {
		cur := s.current()
		rec := recommend(t, p, s, cur)
		m := rec.Model
		if m.Clamp == sizing.ClampNoFit || m.RSSNeed == 0 {
			return
		}
		if m.Limit < m.RSSNeed {
			t.Errorf("computed limit %d below anon need %d\ncase %v", m.Limit, m.RSSNeed, s)
		}
		// What the pod gets (new or kept) is never below the anon need either: hysteresis does not
		// keep a limit that is too small.
		if got := rec.Limit; got > 0 && got < m.RSSNeed {
			t.Errorf("resulting limit %d below anon need %d (changed=%v)\ncase %v", got, m.RSSNeed, rec.Changed, s)
		}
		if m.Xmx > 0 && rec.Limit > 0 {
			room := rec.Limit - rec.Observed.ActiveFilePeakBytes
			if xmx := max(rec.Xmx, cur.Xmx); rec.Xmx > 0 {
				xmx = rec.Xmx
				if xmx+m.NonHeap > room {
					t.Errorf("xmx %d + non-heap %d > limit %d - active file %d\ncase %v", xmx, m.NonHeap, rec.Limit, rec.Observed.ActiveFilePeakBytes, s)
				}
			} else if rec.Limit > 0 && m.Xmx+m.NonHeap > room {
				t.Errorf("kept xmx %d + non-heap %d > limit %d - active file %d\ncase %v", m.Xmx, m.NonHeap, rec.Limit, rec.Observed.ActiveFilePeakBytes, s)
			}
		}
	})
}

func TestPropertyBoundedGrowthFitsUnderTarget(t *testing.T) {
	p := sizing.Default()
	forCases(t, func(t *testing.T, s synth) {
		rec := recommend(t, p, s, s.current())
		m := rec.Model
		if m.RSSNeed == 0 || m.Clamp != sizing.ClampNone || !m.PlateauKnown && !m.GrowthKnown {
			return
		}
		// Projected at the horizon: RSS (with the OOM bump) and cache min(intercept + growth × horizon, plateau).
		h := p.Horizon.D().Hours()
		cache := float64(m.CacheIntercept) + float64(m.CacheGrowthPerHour)*h
		if !m.GrowthKnown {
			cache = float64(m.Plateau)
		}
		if m.PlateauKnown {
			cache = math.Min(cache, float64(m.Plateau))
		}
		rss := float64(max(m.ProjectedRSS, m.OOMBase))
		if got, want := rss+cache, p.TargetUtilization*float64(m.Limit); got > want+1 {
			t.Errorf("projected rss %.0f + cache %.0f = %.0f > %.2f x limit %d\ncase %v", rss, cache, got, p.TargetUtilization, m.Limit, s)
		}
	})
}

// Monotonicity is asserted where both histories show the same facts: when the old limit capped the
// cache before it had grown visibly for two hours, or hid a plateau in one history only, more RSS (or
// faster growth) changes what the model can know, not just the numbers. checked counts the cases
// actually compared.
func TestPropertyMonotoneInRSS(t *testing.T) {
	p := sizing.Default()
	checked := 0
	t.Cleanup(func() { t.Logf("%d of %d cases compared", checked, propertyCases); assertEnough(t, checked) })
	forCases(t, func(t *testing.T, s synth) {
		more := s
		if s.JVM {
			more.NonHeap += 1 + rand.New(rand.NewPCG(s.Seed, 1)).Float64()*200
		} else {
			more.RSS += 1 + rand.New(rand.NewPCG(s.Seed, 1)).Float64()*200
		}
		if !comparable(s, more) {
			return
		}
		checked++
		a := recommend(t, p, s, sizing.Current{JVM: s.JVM, Xmx: s.current().Xmx})
		b := recommend(t, p, more, sizing.Current{JVM: s.JVM, Xmx: s.current().Xmx})
		if a.Model.RSSNeed == 0 {
			return
		}
		if b.Model.Limit < a.Model.Limit {
			t.Errorf("more RSS gave a smaller limit: %s -> %s\nless: %+v\nmore: %+v\ncase %v", sizing.FormatBytes(a.Model.Limit), sizing.FormatBytes(b.Model.Limit), a.Model, b.Model, s)
		}
	})
}

func TestPropertyMonotoneInCacheGrowth(t *testing.T) {
	p := sizing.Default()
	checked := 0
	t.Cleanup(func() { t.Logf("%d of %d cases compared", checked, propertyCases); assertEnough(t, checked) })
	forCases(t, func(t *testing.T, s synth) {
		faster := s
		faster.Growth = s.Growth*(1+rand.New(rand.NewPCG(s.Seed, 2)).Float64()) + 1
		if !comparable(s, faster) {
			return
		}
		checked++
		a := recommend(t, p, s, sizing.Current{JVM: s.JVM, Xmx: s.current().Xmx})
		b := recommend(t, p, faster, sizing.Current{JVM: s.JVM, Xmx: s.current().Xmx})
		if a.Model.RSSNeed == 0 {
			return
		}
		if b.Model.Limit < a.Model.Limit {
			t.Errorf("faster cache growth gave a smaller limit: %s -> %s\nslower: %+v\nfaster: %+v\ncase %v", sizing.FormatBytes(a.Model.Limit), sizing.FormatBytes(b.Model.Limit), a.Model, b.Model, s)
		}
	})
}

// assertEnough keeps a property from passing by skipping everything.
func assertEnough(t *testing.T, checked int) {
	t.Helper()
	if checked < propertyCases/2 {
		t.Errorf("only %d of %d cases in the property's domain", checked, propertyCases)
	}
}

func TestPropertyDeterministic(t *testing.T) {
	p := sizing.Default()
	forCases(t, func(t *testing.T, s synth) {
		c := s.container()
		a, errA := sizing.Recommend(p, c, s.current())
		b, errB := sizing.Recommend(p, s.container(), s.current())
		if diff := cmp.Diff(a, b); diff != "" || (errA == nil) != (errB == nil) {
			t.Errorf("same input, different output (-first +second):\n%s", diff)
		}
		// The order pods arrive in does not matter either.
		r := rand.New(rand.NewPCG(s.Seed, 3))
		r.Shuffle(len(c.Pods), func(i, j int) { c.Pods[i], c.Pods[j] = c.Pods[j], c.Pods[i] })
		shuffled, _ := sizing.Recommend(p, c, s.current())
		if diff := cmp.Diff(a, shuffled); diff != "" {
			t.Errorf("pod order changed the output (-sorted +shuffled):\n%s", diff)
		}
	})
}

func TestPropertyInsufficientHistoryChangesNothing(t *testing.T) {
	p := sizing.Default()
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 50; i++ {
		s := randomSynth(r)
		s.Hours = 1 + r.IntN(23)
		cur := s.current()
		rec, err := sizing.Recommend(p, s.container(), cur)
		if !errors.Is(err, sizing.ErrInsufficientHistory) {
			t.Fatalf("%dh of history: err = %v, want ErrInsufficientHistory", s.Hours, err)
		}
		if rec.Changed || rec.Limit != cur.Limit || rec.Xmx != 0 {
			t.Errorf("insufficient history changed something: %+v", rec)
		}
	}
}

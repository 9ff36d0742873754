package reclaim

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const mi = int64(1) << 20

func TestDecide(t *testing.T) {
	th := Thresholds{Threshold: 0.75, Target: 0.60}
	// Limits of 1000 MiB keep the arithmetic readable: threshold 750 MiB, target 600 MiB.
	lim := 1000 * mi
	tests := map[string]struct {
		stats Stats
		want  Action
	}{
		"a container without a limit is never touched, however full": {
			stats: Stats{Usage: 5000 * mi, Anon: 100 * mi, File: 4900 * mi, InactiveFile: 4900 * mi},
			want:  Action{Verdict: VerdictNoLimit, Reason: "no memory limit: nothing to keep usage under"},
		},
		"usage and working set under the threshold are left alone": {
			stats: Stats{Usage: 700 * mi, Limit: lim, Anon: 300 * mi, File: 400 * mi, InactiveFile: 380 * mi, ActiveFile: 20 * mi},
			want:  Action{Verdict: VerdictUnder, Reason: "usage 70.0% and working set 32.0% of the limit are under the 75% threshold"},
		},
		"usage exactly at the threshold is not over it": {
			stats: Stats{Usage: 750 * mi, Limit: lim, Anon: 300 * mi, File: 450 * mi, InactiveFile: 450 * mi},
			want:  Action{Verdict: VerdictUnder, Reason: "usage 75.0% and working set 30.0% of the limit are under the 75% threshold"},
		},
		"a log writer at its limit gets just usage-target reclaimed, all of it from inactive cache": {
			stats: Stats{Usage: 1000 * mi, Limit: lim, Anon: 300 * mi, File: 690 * mi, InactiveFile: 680 * mi, ActiveFile: 10 * mi},
			want: Action{Verdict: VerdictReclaim, Bytes: 400 * mi, MayDropActive: true, Trigger: "usage",
				Reason: "usage over the 75% threshold (usage 100.0%, working set 32.0% of 1000.0MiB): reclaim 400.0MiB of page cache to reach 60%"},
		},
		"a read-heavy pod over on usage only keeps its hot active cache: only the inactive list goes, and active pages may not": {
			// ws = 830-130 = 700 (under the 750 line); usage-target = 230 > inactive 130: stop there.
			stats: Stats{Usage: 830 * mi, Limit: lim, Anon: 300 * mi, File: 530 * mi, InactiveFile: 130 * mi, ActiveFile: 400 * mi},
			want: Action{Verdict: VerdictReclaim, Bytes: 130 * mi, Trigger: "usage",
				Reason: "usage over the 75% threshold (usage 83.0%, working set 70.0% of 1000.0MiB): reclaim 130.0MiB of page cache to reach 60%"},
		},
		"logs read twice push the working set over: reclaim covers all inactive plus the active excess": {
			// ws = 900-50 = 850; usage-target = 300 = inactive 50 + (ws-target) 250.
			stats: Stats{Usage: 900 * mi, Limit: lim, Anon: 300 * mi, File: 600 * mi, InactiveFile: 50 * mi, ActiveFile: 550 * mi},
			want: Action{Verdict: VerdictReclaim, Bytes: 300 * mi, MayDropActive: true, Trigger: "usage and working set",
				Reason: "usage and working set over the 75% threshold (usage 90.0%, working set 85.0% of 1000.0MiB): reclaim 300.0MiB of page cache to reach 60%"},
		},
		"the amount is capped at what is reclaimable": {
			// usage-target = 300, but only 160 MiB is on the file LRU lists (tmpfs counts in file, not
			// there). The working set (890) is over too, so active cache may go.
			stats: Stats{Usage: 900 * mi, Limit: lim, Anon: 600 * mi, File: 300 * mi, InactiveFile: 10 * mi, ActiveFile: 150 * mi},
			want: Action{Verdict: VerdictReclaim, Bytes: 160 * mi, MayDropActive: true, Trigger: "usage and working set",
				Reason: "usage and working set over the 75% threshold (usage 90.0%, working set 89.0% of 1000.0MiB): reclaim 160.0MiB of page cache to reach 60%"},
		},
		"active cache of a tenth of the amount is negligible: it may go with the rest": {
			// ws = 830-200 = 630 (under); amount = min(230, inactive 200) = 200; active 20 = 200/10.
			stats: Stats{Usage: 830 * mi, Limit: lim, Anon: 610 * mi, File: 220 * mi, InactiveFile: 200 * mi, ActiveFile: 20 * mi},
			want: Action{Verdict: VerdictReclaim, Bytes: 200 * mi, MayDropActive: true, Trigger: "usage",
				Reason: "usage over the 75% threshold (usage 83.0%, working set 63.0% of 1000.0MiB): reclaim 200.0MiB of page cache to reach 60%"},
		},
		"active cache just over a tenth of the amount must stay": {
			stats: Stats{Usage: 830 * mi, Limit: lim, Anon: 609 * mi, File: 221 * mi, InactiveFile: 200 * mi, ActiveFile: 21 * mi},
			want: Action{Verdict: VerdictReclaim, Bytes: 200 * mi, Trigger: "usage",
				Reason: "usage over the 75% threshold (usage 83.0%, working set 63.0% of 1000.0MiB): reclaim 200.0MiB of page cache to reach 60%"},
		},
		"an anon-bound container is not helped by dropping its cache": {
			stats: Stats{Usage: 950 * mi, Limit: lim, Anon: 850 * mi, File: 100 * mi, InactiveFile: 90 * mi, ActiveFile: 10 * mi},
			want: Action{Verdict: VerdictNotCache, Trigger: "usage and working set",
				Reason: "usage and working set over the 75% threshold (usage 95.0%, working set 86.0% of 1000.0MiB), but only 100.0MiB is reclaimable page cache: anon memory needs a bigger limit"},
		},
		"tmpfs (shmem) counts as cache but is not reclaimable without swap": {
			stats: Stats{Usage: 900 * mi, Limit: lim, Anon: 100 * mi, File: 800 * mi, InactiveFile: 50 * mi, ActiveFile: 0},
			want: Action{Verdict: VerdictNotCache, Trigger: "usage and working set",
				Reason: "usage and working set over the 75% threshold (usage 90.0%, working set 85.0% of 1000.0MiB), but only 50.0MiB is reclaimable page cache: anon memory needs a bigger limit"},
		},
		"the blog pod (3000Mi limit, 2.28 GB rss, 707 MB cache) gets its inactive cache reclaimed, landing under the threshold": {
			// rss alone is 72.5 % of the limit: the target (60 %) is out of reach, but 75 % is not. Only
			// usage is over, so the amount is the inactive list; the 7 MB of active cache are 1 % of it,
			// so a method that also drops them (v1 force_empty) may be used.
			stats: Stats{Usage: 2987000000, Limit: 3000 * mi, Anon: 2280000000, File: 707000000, InactiveFile: 700000000, ActiveFile: 7000000},
			want: Action{Verdict: VerdictReclaim, Bytes: 700000000, MayDropActive: true, Trigger: "usage",
				Reason: "usage over the 75% threshold (usage 95.0%, working set 72.7% of 3000.0MiB): reclaim 667.6MiB of page cache to reach 60%"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Decide(tc.stats, th)); diff != "" {
				t.Errorf("Decide(%+v) (-want +got):\n%s", tc.stats, diff)
			}
		})
	}
}

func TestThresholdsValidate(t *testing.T) {
	tests := map[string]struct {
		th Thresholds
		ok bool
	}{
		"the defaults are valid":             {DefaultThresholds, true},
		"target above threshold is rejected": {Thresholds{Threshold: 0.6, Target: 0.7}, false},
		"target equal to threshold rejected": {Thresholds{Threshold: 0.7, Target: 0.7}, false},
		"threshold above 1 is rejected":      {Thresholds{Threshold: 1.2, Target: 0.7}, false},
		"zero target is rejected":            {Thresholds{Threshold: 0.75, Target: 0}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tc.th.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate(%+v) = %v, want ok=%v", tc.th, err, tc.ok)
			}
		})
	}
}

// TestDecide pins reasons and amounts; this one checks the properties the agent and the backtest
// rely on over random cgroups.
func TestDecideProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	th := DefaultThresholds
	checked, keptActive := 0, 0
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
			// Active pages may go only when the working set is over the line or they are a tenth of
			// the amount at most; when they must stay, the amount fits in the inactive list, so a
			// method that keeps them can deliver it.
			negligible := s.ActiveFile <= a.Bytes/10
			if a.MayDropActive != (s.WorkingSet() > line || negligible) {
				t.Fatalf("%+v: MayDropActive %v, working set over %v, active a tenth of the amount at most %v",
					s, a.MayDropActive, s.WorkingSet() > line, negligible)
			}
			if !a.MayDropActive {
				keptActive++
				if a.Bytes > s.InactiveFile {
					t.Fatalf("%+v: active cache must stay, yet %d bytes asked, more than the inactive list", s, a.Bytes)
				}
			}
		default:
			t.Fatalf("%+v: verdict %s for a cgroup with a limit", s, a.Verdict)
		}
		if a.Verdict != VerdictReclaim && a.MayDropActive {
			t.Fatalf("%+v: verdict %s with MayDropActive", s, a.Verdict)
		}
	}
	if checked < 1000 || keptActive < 100 || checked-keptActive < 100 {
		t.Fatalf("%d reclaims, %d of them keeping the active cache, among the random cgroups: the generator misses the interesting cases",
			checked, keptActive)
	}
}

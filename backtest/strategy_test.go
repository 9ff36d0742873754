package backtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/sizing"
)

var t0 = time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC)

// steadyPod is a pod sampled every 15m for a week with constant RSS and working set, the working
// set rising to peak for one sample a day.
func steadyPod(name string, rss, ws, peak float64, oomKills int) sizing.Pod {
	p := sizing.Pod{Name: name, OOMKills: oomKills}
	step := (15 * time.Minute).Milliseconds()
	for k := int64(0); k < 7*96; k++ {
		t := t0.UnixMilli() + k*step
		w := ws
		if k%96 == 50 {
			w = peak
		}
		p.RSS = append(p.RSS, sizing.Point{T: t, V: rss})
		p.Cache = append(p.Cache, sizing.Point{T: t, V: 0})
		p.WorkingSet = append(p.WorkingSet, sizing.Point{T: t, V: w})
		p.ActiveFile = append(p.ActiveFile, sizing.Point{T: t, V: w - rss - float64(2*mi)})
		p.Limit = append(p.Limit, sizing.Point{T: t, V: 4096 * float64(mi)})
	}
	return p
}

func runOne(t *testing.T, cur sizing.Current, containers int, pods ...sizing.Pod) map[backtest.Strategy]backtest.Outcome {
	t.Helper()
	wl := backtest.Workload{Kind: "Deployment", Name: "app"}
	for i := range containers {
		c := backtest.Container{History: sizing.Container{Name: "c" + string(rune('0'+i)), Pods: pods}, Current: cur}
		wl.Containers = append(wl.Containers, c)
	}
	ns, err := backtest.Run(backtest.DefaultOptions(sizing.Default(), 15*time.Minute), "ns", t0, t0.Add(7*24*time.Hour), []backtest.Workload{wl})
	if err != nil {
		t.Fatal(err)
	}
	out := map[backtest.Strategy]backtest.Outcome{}
	for _, o := range ns.Workloads[0].Containers[0].Outcomes {
		out[o.Strategy] = o
	}
	return out
}

func TestVPAAndKRRFormulas(t *testing.T) {
	peak := 1000 * float64(mi)
	cur := sizing.Current{Limit: 4096 * mi, Request: 2048 * mi}
	got := runOne(t, cur, 1, steadyPod("a", 300*float64(mi), 600*float64(mi), peak, 0))
	vpa, krr := got[backtest.VPA], got[backtest.KRR]
	// VPA: every daily peak is 1000Mi: p90 is the end of its 5 % bucket, plus 15 %.
	if lo, hi := int64(1.15*peak), int64(1.15*1.05*peak)+mi; vpa.Request < lo || vpa.Request > hi {
		t.Errorf("vpa request %dMi, want p90 x 1.15 in [%d, %d]Mi", vpa.Request/mi, lo/mi, hi/mi)
	}
	if vpa.Limit < 2*vpa.Request || vpa.Limit > 2*vpa.Request+mi {
		t.Errorf("vpa limit %dMi for request %dMi: want the current 2:1 limit:request ratio", vpa.Limit/mi, vpa.Request/mi)
	}
	// KRR: the working-set maximum x 1.15, request = limit.
	if want := roundMi(1.15 * peak); krr.Limit != want || krr.Request != want {
		t.Errorf("krr limit %dMi request %dMi, want %dMi", krr.Limit/mi, krr.Request/mi, want/mi)
	}
	if vpa.Xmx != 0 || krr.Xmx != 0 {
		t.Errorf("vpa and krr set -Xmx: %+v %+v", vpa, krr)
	}
}

func TestVPABumpsAfterARecentOOMKill(t *testing.T) {
	cur := sizing.Current{Limit: 2048 * mi, Request: 1500 * mi}
	calm := runOne(t, cur, 1, steadyPod("a", 300*float64(mi), 600*float64(mi), 1000*float64(mi), 0))[backtest.VPA]
	// killedOn is the pod with one OOM kill on that day: anon fills the limit at one sample (the
	// replay places a kill at the pod's highest anon sample).
	killedOn := func(day int64) sizing.Pod {
		p := steadyPod("a", 300*float64(mi), 600*float64(mi), 1000*float64(mi), 1)
		p.RSS[day*96+60].V = float64(2046 * mi)
		return p
	}
	// The kill's interval peak becomes max(used + 100Mi, used x 1.2) with used = max(request,
	// peak) = 1500Mi: 1800Mi. On the last day it carries half the decayed weight: p90 is it.
	got := runOne(t, cur, 1, killedOn(6))[backtest.VPA]
	if want := int64(1.15 * 1.2 * 1500 * float64(mi)); got.Request < want {
		t.Errorf("vpa request after a kill on the last day %dMi, want at least %dMi (without the kill %dMi)", got.Request/mi, want/mi, calm.Request/mi)
	}
	// Six days earlier the same kill weighs 1/64 as much (24h half-life): below the p90.
	if old := runOne(t, cur, 1, killedOn(0))[backtest.VPA]; old.Request != calm.Request {
		t.Errorf("vpa request after a kill six days ago %dMi, want it as without (%dMi)", old.Request/mi, calm.Request/mi)
	}
}

func TestVPAAndKRRMinimums(t *testing.T) {
	small := steadyPod("a", 10*float64(mi), 20*float64(mi), 30*float64(mi), 0)
	got := runOne(t, sizing.Current{Limit: 512 * mi, Request: 512 * mi}, 2, small)
	// 250Mi per pod split across its two containers; KRR's 100Mi floor.
	if v := got[backtest.VPA]; v.Request != 125*mi {
		t.Errorf("vpa request %dMi for a tiny container of two: want 125Mi", v.Request/mi)
	}
	if k := got[backtest.KRR]; k.Limit != 100*mi {
		t.Errorf("krr limit %dMi for a tiny container: want 100Mi", k.Limit/mi)
	}
}

func TestInsufficientHistoryKeepsTheCurrentLimits(t *testing.T) {
	spec := loadSpec(t, "too-little-history")
	h := load(t, spec, 0)
	ns := runScenario(t, spec, h, backtest.DefaultOptions(sizing.Default(), h.Window.Step))
	for _, o := range ns.Workloads[0].Containers[0].Outcomes {
		if o.Strategy == backtest.Headroom || o.Strategy == backtest.HeadroomAgent {
			if o.Limit != 512*mi || !strings.Contains(o.Note, "insufficient history") {
				t.Errorf("%s: %+v, want the current 512Mi and a note", o.Strategy, o)
			}
		}
	}
}

func roundMi(v float64) int64 { return (int64(v) + mi - 1) / mi * mi }

func TestVerdict(t *testing.T) {
	tests := map[string]struct {
		totals []backtest.Totals
		want   string
	}{
		"fewer alerts, less memory than both": {
			totals: []backtest.Totals{
				{Strategy: backtest.Current, Reserved: 1000, AlertUsageMinutes: 1000},
				{Strategy: backtest.VPA, Reserved: 600, AlertUsageMinutes: 900, AlertWorkingSetMinutes: 900},
				{Strategy: backtest.HeadroomAgent, Reserved: 582, AlertUsageMinutes: 15},
			},
			want: "headroom+agent: 0 OOM-risk minutes, 98 % fewer alert minutes than current (usage 1000 -> 15 min, working set 0 -> 0 min), 3 % less memory than vpa (41 % less than current)",
		},
		"OOM risk is compared, and percentages never round up to a claim": {
			totals: []backtest.Totals{
				{Strategy: backtest.Current, Reserved: 1000, AlertUsageMinutes: 1000, OOMRiskMinutes: 30},
				{Strategy: backtest.VPA, Reserved: 1000},
				{Strategy: backtest.HeadroomAgent, Reserved: 1005, AlertUsageMinutes: 1, OOMRiskMinutes: 15},
			},
			want: "headroom+agent: 15 OOM-risk minutes (current 30, vpa 0), 99 % fewer alert minutes than current (usage 1000 -> 1 min, working set 0 -> 0 min), under 1 % more memory than vpa (under 1 % more than current)",
		},
		"no alerts anywhere": {
			totals: []backtest.Totals{
				{Strategy: backtest.Current, Reserved: 1000},
				{Strategy: backtest.VPA, Reserved: 800},
				{Strategy: backtest.HeadroomAgent, Reserved: 1000},
			},
			want: "headroom+agent: 0 OOM-risk minutes, no alert minutes, as current (usage 0 -> 0 min, working set 0 -> 0 min), 25 % more memory than vpa (as much as current)",
		},
		"alerts where current had none": {
			totals: []backtest.Totals{
				{Strategy: backtest.Current, Reserved: 1000},
				{Strategy: backtest.VPA, Reserved: 800},
				{Strategy: backtest.HeadroomAgent, Reserved: 500, AlertUsageMinutes: 45, AlertWorkingSetMinutes: 30},
			},
			want: "headroom+agent: 0 OOM-risk minutes, 45 alert minutes where current had none (usage 0 -> 45 min, working set 0 -> 30 min), 37 % less memory than vpa (50 % less than current)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := backtest.Verdict(tc.totals); got != tc.want {
				t.Errorf("verdict:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

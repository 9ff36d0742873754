package backtest_test

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/sizing"
)

const mi = int64(1) << 20

// scenarios lists the committed scenario names.
func scenarios(t *testing.T) []string {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "scenarios", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".yaml"))
	}
	return names
}

// recorded counts, straight from history, the minutes a limit's alert line was crossed: usage
// (working set + cache - active file, the kernel's own figure) and working set above tu x limit,
// and the minutes anon memory sat at the limit (where the scenario generator records an OOM kill).
// limit 0 reads each sample's recorded limit.
type minutes struct {
	usage, ws, oom float64
	// episodes: runs of consecutive samples over the line (usage, working set).
	usageEpisodes, wsEpisodes int
}

func recorded(t *testing.T, h *history.Namespace, tu float64, limit int64) minutes {
	t.Helper()
	var m minutes
	step := h.Window.Step.Minutes()
	for _, wl := range h.Workloads {
		for _, c := range wl.Containers {
			for _, p := range c.Pods {
				if len(p.WorkingSet) != len(p.RSS) || len(p.Cache) != len(p.RSS) || len(p.ActiveFile) != len(p.RSS) || len(p.Limit) != len(p.RSS) {
					t.Fatalf("%s: series not on one grid", p.Name)
				}
				overU, overW := false, false
				for k := range p.RSS {
					l := p.Limit[k].V
					if limit > 0 {
						l = float64(limit)
					}
					u := p.WorkingSet[k].V+p.Cache[k].V-p.ActiveFile[k].V > tu*l
					w := p.WorkingSet[k].V > tu*l
					if u {
						m.usage += step
						if !overU {
							m.usageEpisodes++
						}
					}
					if w {
						m.ws += step
						if !overW {
							m.wsEpisodes++
						}
					}
					overU, overW = u, w
					if p.RSS[k].V >= l-float64(2*mi) {
						m.oom += step
					}
				}
			}
		}
	}
	return m
}

func outcome(t *testing.T, ns backtest.Namespace, s backtest.Strategy) backtest.Totals {
	t.Helper()
	for _, tot := range ns.Totals {
		if tot.Strategy == s {
			return tot
		}
	}
	t.Fatalf("no totals for %s", s)
	return backtest.Totals{}
}

// within reports whether got is within frac of want, or within slack minutes.
func within(got, want, frac, slack float64) bool {
	return math.Abs(got-want) <= max(frac*want, slack)
}

func TestCurrentReproducesTheRecordedAlertMinutes(t *testing.T) {
	tu := sizing.Default().TargetUtilization
	for _, name := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			// At the scenario's own interval every raw sample is replayed: exactly the record.
			raw := load(t, spec, spec.Interval.D())
			want := recorded(t, raw, tu, 0)
			got := outcome(t, runScenario(t, spec, raw, backtest.DefaultOptions(sizing.Default(), raw.Window.Step)), backtest.Current)
			if got.AlertUsageMinutes != want.usage || got.AlertWorkingSetMinutes != want.ws {
				t.Errorf("at the recorded interval: current alert minutes usage %v, working set %v; the record has %v, %v",
					got.AlertUsageMinutes, got.AlertWorkingSetMinutes, want.usage, want.ws)
			}
			// At the default 15m step each sample is the maximum over 15m: the same data, rounded
			// to whole steps. An episode over the line is never missed, and lasts at most two
			// steps longer (it can touch one more sample at each end).
			h := load(t, spec, 0)
			got15 := outcome(t, runScenario(t, spec, h, backtest.DefaultOptions(sizing.Default(), h.Window.Step)), backtest.Current)
			step := h.Window.Step.Minutes()
			if got15.AlertUsageMinutes < want.usage-step || got15.AlertUsageMinutes > want.usage+2*step*float64(want.usageEpisodes) ||
				got15.AlertWorkingSetMinutes < want.ws-step || got15.AlertWorkingSetMinutes > want.ws+2*step*float64(want.wsEpisodes) {
				t.Errorf("at %s: current alert minutes usage %v, working set %v; the record (at %s) has %v in %d episodes, %v in %d",
					h.Window.Step, got15.AlertUsageMinutes, got15.AlertWorkingSetMinutes, raw.Window.Step, want.usage, want.usageEpisodes, want.ws, want.wsEpisodes)
			}
			t.Logf("record %+v; replay at %s: usage %v ws %v", want, h.Window.Step, got15.AlertUsageMinutes, got15.AlertWorkingSetMinutes)
		})
	}
}

// The kernel model itself, run at the recorded limits instead of reading the record, gives the
// record back: cache capped at the limit, kernel memory, working set.
func TestTheModelAtTheRecordedLimitsGivesTheRecordBack(t *testing.T) {
	tu := sizing.Default().TargetUtilization
	for _, name := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			h := load(t, spec, 0)
			want := recorded(t, h, tu, 0)
			got := outcome(t, runScenario(t, spec, h, backtest.SimulateAll(backtest.DefaultOptions(sizing.Default(), h.Window.Step))), backtest.Current)
			slack := h.Window.Step.Minutes()
			if !within(got.AlertUsageMinutes, want.usage, 0.01, slack) || !within(got.AlertWorkingSetMinutes, want.ws, 0.01, slack) {
				t.Errorf("simulated current: alert minutes usage %v, working set %v; the record has %v, %v",
					got.AlertUsageMinutes, got.AlertWorkingSetMinutes, want.usage, want.ws)
			}
		})
	}
}

// The replay predicts what another limit (and -Xmx) would have done. The truth is the scenario
// simulated again with those settings: its record shows the cache the old limit hid, the heap a
// new -Xmx commits, the kills a smaller limit causes.
func TestTheReplayPredictsOtherLimits(t *testing.T) {
	tests := []struct {
		scenario   string
		limit, xmx int64 // xmx 0: unchanged
		why        string
	}{
		{"seed-jvm-logs", 4500 * mi, 0, "a larger limit holds more of the logs' cache: the growth the 3000Mi limit censored"},
		{"seed-jvm-logs", 2600 * mi, 0, "a smaller limit fills sooner and puts the working set over the line"},
		{"seed-jvm-logs", 3776 * mi, 320 * mi, "headroom's 24h limit: a smaller heap leaves a day of log growth room"},
		{"seed-jvm-logs", 1024 * mi, 320 * mi, "headroom's 2h limit without the agent: the cache fills it within hours"},
		{"rolling-restarts", 1024 * mi, 0, "30 pods, each censored after a day of logs"},
		{"rolling-restarts", 600 * mi, 0, "a smaller limit for the same pods"},
		{"read-heavy-active-file", 2 * 1024 * mi, 0, "the hot index no longer fits: working set over the line"},
		{"read-heavy-active-file", 2800 * mi, 0, "headroom's limit: index and anon fit under the line"},
		{"bursty-oom", 800 * mi, 0, "bursts above the limit are OOM kills"},
		{"bursty-oom", 1536 * mi, 0, "the 700Mi burst fits"},
		{"service-bounded-cache", 400 * mi, 0, "a bounded cache pinned at a small limit"},
	}
	tu := sizing.Default().TargetUtilization
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s at %dMi %s", tc.scenario, tc.limit/mi, tc.why), func(t *testing.T) {
			spec := loadSpec(t, tc.scenario)
			h := load(t, spec, 0)
			c := workloads(spec, h)[0].Containers[0]
			got := backtest.ReplayCandidate(backtest.DefaultOptions(sizing.Default(), h.Window.Step), c, tc.limit, tc.xmx, false)

			truthSpec := loadSpec(t, tc.scenario)
			tc0 := &truthSpec.Workloads[0].Containers[0]
			tc0.Limit = sizing.Bytes(tc.limit)
			if tc.xmx > 0 {
				tc0.JVM.Xmx = sizing.Bytes(tc.xmx)
			}
			want := recorded(t, load(t, truthSpec, 0), tu, 0)
			slack := 2 * h.Window.Step.Minutes()
			if !within(got.AlertUsageMinutes, want.usage, 0.03, slack) || !within(got.AlertWorkingSetMinutes, want.ws, 0.03, slack) ||
				!within(got.OOMRiskMinutes, want.oom, 0.03, slack) {
				t.Errorf("predicted alert minutes usage %v, working set %v, OOM risk %v; simulated truth %v, %v, %v",
					got.AlertUsageMinutes, got.AlertWorkingSetMinutes, got.OOMRiskMinutes, want.usage, want.ws, want.oom)
			}
			t.Logf("predicted usage %v ws %v oom %v; truth %+v", got.AlertUsageMinutes, got.AlertWorkingSetMinutes, got.OOMRiskMinutes, want)
		})
	}
}

func TestALimitBelowTheRecordedRSSShowsOOMRisk(t *testing.T) {
	spec := loadSpec(t, "seed-jvm-logs")
	h := load(t, spec, 0)
	o := backtest.DefaultOptions(sizing.Default(), h.Window.Step)
	c := workloads(spec, h)[0].Containers[0]
	var rssPeak float64
	for _, p := range c.History.Pods {
		for _, s := range p.RSS {
			rssPeak = max(rssPeak, s.V)
		}
	}
	below := int64(rssPeak) - 64*mi
	if got := backtest.ReplayCandidate(o, c, below, 0, false); got.OOMRiskMinutes == 0 {
		t.Errorf("a %dMi limit under the %dMi RSS peak shows no OOM risk: %+v", below/mi, int64(rssPeak)/mi, got)
	}
	if got := backtest.ReplayCandidate(o, c, int64(rssPeak)+256*mi, 0, false); got.OOMRiskMinutes != 0 {
		t.Errorf("a limit 256Mi over the RSS peak shows OOM risk: %+v", got)
	}
	// Heap use peaks at 153Mi: a 128Mi heap throws OutOfMemoryError, whatever the limit.
	if got := backtest.ReplayCandidate(o, c, 4096*mi, 128*mi, false); got.OOMRiskMinutes == 0 {
		t.Errorf("-Xmx128m under a 153Mi heap-use peak shows no OOM risk: %+v", got)
	}
	if got := backtest.ReplayCandidate(o, c, 4096*mi, 320*mi, false); got.OOMRiskMinutes != 0 {
		t.Errorf("-Xmx320m shows OOM risk: %+v", got)
	}
}

func TestTheAgentKeepsUsageUnderTheAlertLine(t *testing.T) {
	for _, name := range []string{"seed-jvm-logs", "rolling-restarts"} {
		t.Run(name, func(t *testing.T) {
			spec := loadSpec(t, name)
			h := load(t, spec, 0)
			o := backtest.DefaultOptions(sizing.Default(), h.Window.Step)
			c := workloads(spec, h)[0].Containers[0]
			limit := c.Current.Limit
			without := backtest.ReplayCandidate(o, c, limit, 0, false)
			with := backtest.ReplayCandidate(o, c, limit, 0, true)
			if without.AlertUsageMinutes == 0 || with.AlertUsageMinutes != 0 || with.Reclaims == 0 || with.OOMRiskMinutes != without.OOMRiskMinutes {
				t.Errorf("at the current limit: without the agent %+v; with it %+v", without, with)
			}
			// The agent reclaims at most once per min interval per pod, and needs to less often
			// with more room between its threshold and target.
			o.AgentMinInterval = 24 * time.Hour
			if rare := backtest.ReplayCandidate(o, c, limit, 0, true); rare.Reclaims >= with.Reclaims || rare.AlertUsageMinutes == 0 {
				t.Errorf("with one reclaim a day allowed: %+v (every 5m: %+v)", rare, with)
			}
		})
	}
}

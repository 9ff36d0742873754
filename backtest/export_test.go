package backtest

import "github.com/headroom-dev/headroom/sizing"

// SimulateAll makes the replay run unchanged settings through the kernel model too.
func SimulateAll(o Options) Options {
	o.simulateAll = true
	return o
}

// ReplayCandidate replays one container under a candidate limit and -Xmx (0: the current one),
// with or without the agent.
func ReplayCandidate(o Options, c Container, limit, xmx int64, agent bool) Outcome {
	rec, _ := sizing.Recommend(o.Policy, c.History, c.Current)
	if xmx == 0 {
		xmx = c.Current.Xmx
	}
	return o.replay(c, o.frames(c, rec), plan{Limit: limit, Xmx: xmx, agent: agent}, nil)
}

// Verdict is the namespace verdict for the totals.
func Verdict(ts []Totals) string { return verdict(ts) }

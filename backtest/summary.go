package backtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// totals sums each strategy's outcomes over the workloads, in Strategies order.
func totals(workloads []WorkloadResult) []Totals {
	out := make([]Totals, len(Strategies))
	for k, s := range Strategies {
		out[k].Strategy = s
	}
	for _, w := range workloads {
		for _, c := range w.Containers {
			for k, o := range c.Outcomes {
				t := &out[k]
				t.Reserved += o.Reserved
				t.OOMRiskMinutes += o.OOMRiskMinutes
				t.AlertUsageMinutes += o.AlertUsageMinutes
				t.AlertWorkingSetMinutes += o.AlertWorkingSetMinutes
				t.Reclaims += o.Reclaims
			}
		}
	}
	return out
}

func find(ts []Totals, s Strategy) Totals {
	for _, t := range ts {
		if t.Strategy == s {
			return t
		}
	}
	return Totals{Strategy: s}
}

// verdict is one line a human can act on: headroom+agent's OOM risk, its alert minutes against
// current's and its memory against vpa's (and current's). Alert minutes are usage-based, the
// stricter measure (the working set never exceeds usage); both figures follow in parentheses.
// Percentages are rounded toward zero so that they never claim more than the replay showed.
func verdict(ts []Totals) string {
	if len(ts) == 0 {
		return ""
	}
	ha, cur, vpa := find(ts, HeadroomAgent), find(ts, Current), find(ts, VPA)
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s OOM-risk minutes", HeadroomAgent, Minutes(ha.OOMRiskMinutes))
	if ha.OOMRiskMinutes > 0 {
		fmt.Fprintf(&b, " (current %s, vpa %s)", Minutes(cur.OOMRiskMinutes), Minutes(vpa.OOMRiskMinutes))
	}
	b.WriteString(", ")
	switch {
	case cur.AlertUsageMinutes == 0 && ha.AlertUsageMinutes == 0:
		b.WriteString("no alert minutes, as current")
	case cur.AlertUsageMinutes == 0:
		fmt.Fprintf(&b, "%s alert minutes where current had none", Minutes(ha.AlertUsageMinutes))
	default:
		b.WriteString(change(ha.AlertUsageMinutes, cur.AlertUsageMinutes, "fewer", "more", "as many") + " alert minutes than current")
	}
	fmt.Fprintf(&b, " (usage %s -> %s min, working set %s -> %s min), ", Minutes(cur.AlertUsageMinutes), Minutes(ha.AlertUsageMinutes),
		Minutes(cur.AlertWorkingSetMinutes), Minutes(ha.AlertWorkingSetMinutes))
	b.WriteString(change(float64(ha.Reserved), float64(vpa.Reserved), "less", "more", "as much") + " memory than vpa")
	if c := change(float64(ha.Reserved), float64(cur.Reserved), "less", "more", "as much"); c == "as much" {
		b.WriteString(" (as much as current)")
	} else {
		fmt.Fprintf(&b, " (%s than current)", c)
	}
	return b.String()
}

// change says how v compares with base: "98 % fewer", "12 % more", "as many".
func change(v, base float64, less, more, same string) string {
	if base <= 0 {
		if v <= 0 {
			return same
		}
		return "infinitely " + more // only for memory against a strategy that reserves none
	}
	pct := math.Trunc(100 * (base - v) / base)
	switch {
	case pct > 0:
		return strconv.FormatFloat(pct, 'f', 0, 64) + " % " + less
	case pct < 0:
		return strconv.FormatFloat(-pct, 'f', 0, 64) + " % " + more
	case v < base:
		return "under 1 % " + less
	case v > base:
		return "under 1 % " + more
	}
	return same
}

// Minutes formats a number of minutes: whole minutes without decimals.
func Minutes(m float64) string {
	if m == math.Trunc(m) {
		return strconv.FormatFloat(m, 'f', 0, 64)
	}
	return strconv.FormatFloat(m, 'f', 1, 64)
}

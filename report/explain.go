package report

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

// explainContext is what explain needs beyond the row.
type explainContext struct {
	excluded     bool
	workloadMode string
	cannot       error // why the recommended -Xmx cannot be applied
	webhookSkips bool  // with the current -Xmx the new limit does not fit: the webhook leaves the container alone
	err          error // sizing's error (insufficient history)
	computedXmx  int64
}

// explain says in plain words what happens to the container's memory and what headroom would do,
// one sentence per fact, for someone who has not read FACTS.md: RSS is what the process holds and
// the kernel cannot take back; page cache is file data the kernel keeps and drops when needed;
// a JVM's RSS follows -Xmx, not the heap in use; an "80% of the limit" alert counts cache.
func explain(p sizing.Policy, r Row, x explainContext) (seen, plan []string) {
	var out []string
	say := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	tu := percent(p.TargetUtilization)

	if x.err != nil {
		if r.Pods == 0 {
			say("There is no memory history for this container in the window, so headroom has nothing to size it from and leaves it as it is.")
		} else {
			say("There are only about %dh of memory history; headroom needs %s before it changes anything and leaves the container as it is until then.",
				r.HistoryHours, p.MinHistory)
		}
		seen, out = out, nil
		if r.Action == ActionOptedOut {
			say("%s.", optOutWhy(r, x))
		}
		return seen, out
	}

	// What the process itself holds.
	switch {
	case r.JVM && r.HeapUsedPeakBytes > 0 && r.XmxBytes > 0:
		share := float64(r.HeapUsedPeakBytes) / float64(r.XmxBytes)
		if share < 0.5 {
			say("The Java heap is mostly empty: at most %s of the %s that -Xmx%s allows was ever in use (%s).",
				approx(r.HeapUsedPeakBytes), approx(r.XmxBytes), jvm.FormatSize(r.XmxBytes), percent(share))
		} else {
			say("The Java heap is well used: up to %s of the %s that -Xmx%s allows (%s).",
				approx(r.HeapUsedPeakBytes), approx(r.XmxBytes), jvm.FormatSize(r.XmxBytes), percent(share))
		}
	case r.JVM && r.HeapUsedPeakBytes > 0:
		say("At most %s of Java heap was in use; no -Xmx is set, so the JVM sizes its heap from the limit (%s).",
			approx(r.HeapUsedPeakBytes), r.XmxWhere)
	case r.JVM && r.XmxBytes > 0:
		say("The JVM exports no heap metrics, so headroom cannot tell how much of its heap is used and keeps -Xmx %s as it is.",
			jvm.FormatSize(r.XmxBytes))
	}
	switch {
	case r.JVM && r.XmxBytes > 0 && float64(r.RSSPeakBytes) >= 0.8*float64(r.XmxBytes):
		say("Yet the process holds up to %s (RSS): a JVM grows its heap towards -Xmx and keeps it, so RSS follows -Xmx (%s heap + %s outside it), not the heap in use.",
			approx(r.RSSPeakBytes), approx(r.XmxBytes), approx(r.NonHeapBytes))
	case r.RSSPeakBytes > 0:
		say("The process holds up to %s (RSS).", approx(r.RSSPeakBytes))
	}

	// Page cache.
	if r.CachePeakBytes > 0 {
		s := "Page cache (file data such as logs written or files read, kept in spare memory and dropped when memory is needed) reached " + approx(r.CachePeakBytes)
		switch {
		case r.model.PlateauKnown:
			s += " and levels off at about " + approx(r.model.Plateau)
		case r.CacheGrowthBytesPerDay > 0:
			s += " and grows by about " + approx(r.CacheGrowthBytesPerDay) + " a day"
		}
		if r.LimitBound {
			s += ". It filled the rest of the limit: usage sat at the limit while the kernel reclaimed cache, so the cache is limit-bound and would grow further with more room."
		} else {
			s += "."
		}
		out = append(out, s)
	}
	if r.ActiveFilePeakBytes > 0 && (r.LimitBytes == 0 || float64(r.ActiveFilePeakBytes) > 0.1*float64(r.LimitBytes)) {
		say("Up to %s of files are read again and again (active file cache): that part counts as used memory in kubectl top and for eviction, so headroom keeps room for it.",
			approx(r.ActiveFilePeakBytes))
	}
	if r.OOMKills > 0 {
		say("%d OOM %s in the window: RSS, not cache, hit the limit.", r.OOMKills, plural(r.OOMKills, "kill", "kills"))
	}

	// Where that leads with today's settings.
	switch {
	case r.Risk != nil:
		s := fmt.Sprintf("Over the next %s RSS plus cache would need about %s, %s of the %s limit",
			p.Horizon, approx(r.ProjectedBytes), percent(*r.Risk), qty(r.LimitBytes))
		thr := int64(p.TargetUtilization * float64(r.LimitBytes))
		switch {
		case !r.AtRisk:
			s += fmt.Sprintf(": under the %s alert line (%s).", tu, approx(thr))
		case float64(r.RSSPeakBytes) > p.TargetUtilization*float64(r.LimitBytes):
			s += fmt.Sprintf(": over the %s alert line (%s). RSS alone is %s of the limit: this container really needs more memory.",
				tu, approx(thr), percent(float64(r.RSSPeakBytes)/float64(r.LimitBytes)))
		default:
			s += fmt.Sprintf(": an alert at %s of the limit (%s) fires", tu, approx(thr))
			if *r.Risk >= 1 {
				s += " and usage stays pinned at the limit"
			}
			s += ". That is cache, not a leak: the kernel drops cache before it would kill the process."
		}
		out = append(out, s)
	case r.LimitBytes == 0:
		say("There is no memory limit, so the container can take node memory until the node runs short.")
	}

	// What headroom would do.
	seen, out = out, nil
	changes := changeList(r)
	switch r.Action {
	case ActionOptedOut:
		s := optOutWhy(r, x) + ", so headroom leaves it alone"
		if len(changes) > 0 {
			s += "; otherwise it would change " + andList(changes)
		}
		out = append(out, s+".")
	case ActionKeep:
		if r.model.Limit > 0 && r.LimitBytes > 0 {
			say("headroom changes nothing: the limit it computes (%s) is within %s of the current one.",
				qty(r.model.Limit), percent(p.ChangeThreshold))
		} else {
			say("headroom changes nothing.")
		}
	case ActionCannotRewrite:
		msg := x.cannot.Error()
		var cre *jvm.CannotRewriteError
		if errors.As(x.cannot, &cre) && cre.Message != "" {
			msg = cre.Message
		}
		say("headroom would set -Xmx to %s, but the webhook cannot change it in this pod spec (%s).", jvm.FormatSize(x.computedXmx), msg)
		if x.webhookSkips {
			say("With the current heap the new limit would be too small, so the webhook leaves the container alone: set -Xmx to %s by hand, and headroom sizes the limit from there.",
				jvm.FormatSize(x.computedXmx))
		} else if len(changes) > 0 {
			say("It would still change %s, but RSS stays where -Xmx puts it; set -Xmx to %s by hand for the full effect.",
				andList(changes), jvm.FormatSize(x.computedXmx))
		}
	case ActionRaise, ActionLower, ActionXmxOnly, ActionRequestOnly:
		say("headroom would change %s.", andList(changes))
	}
	shows := r.Action == ActionRaise || r.Action == ActionLower || r.Action == ActionXmxOnly ||
		r.Action == ActionCannotRewrite && !x.webhookSkips && r.RecommendedLimitBytes != r.LimitBytes
	if shows && r.RiskRecommended != nil {
		s := "Then "
		if r.RecommendedXmxBytes != r.XmxBytes && r.JVM {
			s += fmt.Sprintf("RSS drops to about %s, and ", approx(r.ProjectedRecommendedBytes-r.model.CacheHeadroom))
		}
		s += fmt.Sprintf("with %s of cache usage reaches about %s, %s of the new limit", p.Horizon,
			approx(r.ProjectedRecommendedBytes), percent(*r.RiskRecommended))
		if *r.RiskRecommended <= p.TargetUtilization {
			s += fmt.Sprintf(": under the %s alert line.", tu)
		} else {
			s += fmt.Sprintf(": still over the %s alert line. The limit is capped (%s), so the node agent has to reclaim cache beyond that.",
				tu, clampName(r.model.Clamp))
		}
		out = append(out, s)
	}
	if r.PublishedLimitBytes > 0 || r.PublishedXmxBytes > 0 {
		var pub []string
		if r.PublishedLimitBytes > 0 {
			pub = append(pub, "limit "+qty(r.PublishedLimitBytes))
		}
		if r.PublishedRequestBytes > 0 {
			pub = append(pub, "request "+qty(r.PublishedRequestBytes))
		}
		if r.PublishedXmxBytes > 0 {
			pub = append(pub, "-Xmx "+jvm.FormatSize(r.PublishedXmxBytes))
		}
		say("The MemoryRecommendation in the cluster (what the webhook applies today) says %s.", strings.Join(pub, ", "))
	}
	return seen, out
}

// changeList names each value that changes: "the limit from 3000Mi to 3776Mi".
func changeList(r Row) []string {
	var out []string
	if r.RecommendedLimitBytes != r.LimitBytes {
		if r.LimitBytes == 0 {
			out = append(out, "the limit to "+qty(r.RecommendedLimitBytes)+" (none today)")
		} else {
			out = append(out, fmt.Sprintf("the limit from %s to %s", qty(r.LimitBytes), qty(r.RecommendedLimitBytes)))
		}
	}
	if r.RecommendedXmxBytes != r.XmxBytes && r.RecommendedXmxBytes > 0 {
		if r.XmxBytes == 0 {
			out = append(out, "-Xmx to "+jvm.FormatSize(r.RecommendedXmxBytes)+" (none today)")
		} else {
			out = append(out, fmt.Sprintf("-Xmx from %s to %s", jvm.FormatSize(r.XmxBytes), jvm.FormatSize(r.RecommendedXmxBytes)))
		}
	}
	if r.RecommendedRequestBytes != r.RequestBytes && r.RecommendedRequestBytes > 0 {
		if r.RequestBytes == 0 {
			out = append(out, "the request to "+qty(r.RecommendedRequestBytes)+" (none today)")
		} else {
			out = append(out, fmt.Sprintf("the request from %s to %s", qty(r.RequestBytes), qty(r.RecommendedRequestBytes)))
		}
	}
	return out
}

func optOutWhy(r Row, x explainContext) string {
	switch {
	case x.excluded:
		return "The container is listed in the pod template's headroom.dev/exclude-containers annotation"
	case strings.TrimSpace(x.workloadMode) == string(mode.Off):
		return "The workload opted out (headroom.dev/mode: off on its pod template)"
	}
	return "The namespace is off (headroom.dev/mode=off)"
}

func clampName(c sizing.Clamp) string {
	switch c {
	case sizing.ClampIncrease, sizing.ClampAnonOverCap:
		return "maxIncreaseFactor"
	case sizing.ClampMaxLimit:
		return "maxLimit"
	case sizing.ClampLimitRange:
		return "LimitRange maximum"
	}
	return "policy"
}

// andList joins "a", "b", "c" as "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// percent formats a fraction as a whole percentage: 0.8 -> "80%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*100), 'f', 0, 64) + "%"
}

// approx formats a measured size for people: whole MiB below 4 GiB, GiB with one decimal above.
func approx(n int64) string {
	switch {
	case n <= 0:
		return "0"
	case n < 4*sizing.Gi:
		return strconv.FormatInt((n+sizing.Mi/2)/sizing.Mi, 10) + "Mi"
	}
	return strconv.FormatFloat(float64(n)/float64(sizing.Gi), 'f', 1, 64) + "Gi"
}

// qty formats a configured size (limit, request) exactly as Kubernetes spells it when it is a
// whole number of MiB ("3000Mi", "4Gi"), and approximately otherwise.
func qty(n int64) string {
	if n > 0 && n%sizing.Mi == 0 {
		return sizing.FormatBytes(n)
	}
	return approx(n)
}

// HowToRead explains the report's terms in plain words (the table's footer, the HTML page's
// "How to read this").
func HowToRead(p PolicySummary) string {
	tu := percent(p.TargetUtilization)
	return "RSS is the memory the process itself holds; the kernel cannot take it back, and a container whose RSS reaches its limit is OOM-killed. " +
		"Page cache is file data (logs being written, files read) that the kernel keeps in spare memory and drops as soon as memory is needed: it fills any limit without harm, yet an alert on \"% of the limit\" counts it. " +
		"A Java process's RSS follows its -Xmx, not the heap it uses: the JVM grows the heap towards -Xmx and keeps it. " +
		"RISK is RSS plus the cache expected over the next " + p.Horizon + ", as a share of the limit, today → after the change; above " + tu +
		" (the alert line) the pod alerts. RSS, CACHE and HEAP (heap in use) are peaks over the window, CACHE/D is how much cache grows per day (flat: it levels off). headroom sizes the limit so RSS plus that cache stays under " + tu + ", and lowers -Xmx when the heap is mostly empty, which frees room for cache."
}

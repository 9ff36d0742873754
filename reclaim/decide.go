package reclaim

import "fmt"

// Stats are one memory cgroup's figures in bytes, read from its memory.* files.
type Stats struct {
	// Usage is memory.usage_in_bytes (v1) or memory.current (v2): anon + page cache + kernel memory.
	Usage int64
	// Limit is memory.limit_in_bytes (v1) or memory.max (v2); 0 means no limit.
	Limit int64
	// Anon is total_rss (v1) or anon (v2): what the OOM killer cares about.
	Anon int64
	// File is total_cache (v1) or file (v2). It includes shmem/tmpfs, which cannot be reclaimed without swap.
	File int64
	// ActiveFile and InactiveFile are the file LRU lists: the page cache reclaim can actually free.
	ActiveFile   int64
	InactiveFile int64
}

// WorkingSet is usage minus inactive file pages, the cAdvisor/kubelet definition (FACTS.md D.1).
func (s Stats) WorkingSet() int64 {
	if ws := s.Usage - s.InactiveFile; ws > 0 {
		return ws
	}
	return 0
}

// Reclaimable is the page cache the kernel can drop without swap. shmem sits on the anon LRU lists, so
// it is not in active_file/inactive_file even though "cache"/"file" count it.
func (s Stats) Reclaimable() int64 { return s.ActiveFile + s.InactiveFile }

// Thresholds say when to act and how far down to go, as fractions of the container's limit.
type Thresholds struct {
	// Threshold: act when usage or working set is above this fraction. The default 0.75 is the policy's
	// targetUtilization (0.8) minus 0.05, so cache is reclaimed before an 80 % alert fires.
	Threshold float64
	// Target: reclaim enough to bring the measure that crossed the threshold down to this fraction.
	Target float64
}

// DefaultThresholds are the flag defaults.
var DefaultThresholds = Thresholds{Threshold: 0.75, Target: 0.60}

// Validate checks 0 < Target < Threshold <= 1.
func (t Thresholds) Validate() error {
	if !(t.Target > 0 && t.Target < t.Threshold && t.Threshold <= 1) {
		return fmt.Errorf("thresholds: need 0 < target (%g) < threshold (%g) <= 1", t.Target, t.Threshold)
	}
	return nil
}

// Verdict is what Decide concluded.
type Verdict string

const (
	// VerdictNoLimit: the cgroup has no memory limit, so there is nothing to stay under.
	VerdictNoLimit Verdict = "no-limit"
	// VerdictUnder: usage and working set are both at or below the threshold.
	VerdictUnder Verdict = "under-threshold"
	// VerdictNotCache: over the threshold, but even without its reclaimable cache the container would
	// stay over: anon memory is the problem, which only a bigger limit (or smaller heap) fixes.
	VerdictNotCache Verdict = "not-cache"
	// VerdictReclaim: reclaim Action.Bytes of page cache.
	VerdictReclaim Verdict = "reclaim"
)

// Action is the decision for one cgroup.
type Action struct {
	Verdict Verdict
	// Bytes of page cache to reclaim; 0 unless Verdict is VerdictReclaim.
	Bytes int64
	// MayDropActive says whether the reclaim may take active (hot) file pages as well. A method that
	// cannot be held to the inactive list (cgroup v1 memory.force_empty drops every page it can) may
	// only be used when it is true; false means Bytes fits in the inactive list and the active cache
	// must stay.
	MayDropActive bool
	// Trigger names the measures over the threshold: "usage" or "usage and working set".
	Trigger string
	// Reason is one sentence for logs, events and the manual mode.
	Reason string
}

// Decide is the pure decision: given one cgroup's stats, whether to reclaim its page cache and how much.
func Decide(s Stats, t Thresholds) Action {
	if s.Limit <= 0 {
		return Action{Verdict: VerdictNoLimit, Reason: "no memory limit: nothing to keep usage under"}
	}
	line := int64(t.Threshold * float64(s.Limit))
	target := int64(t.Target * float64(s.Limit))
	ws := s.WorkingSet()
	overUsage, overWS := s.Usage > line, ws > line
	var trigger string
	// The working set (usage - inactive_file) never exceeds usage, so it is over only when usage is.
	switch {
	case overWS:
		trigger = "usage and working set"
	case overUsage:
		trigger = "usage"
	default:
		return Action{Verdict: VerdictUnder, Reason: fmt.Sprintf("usage %s and working set %s of the limit are under the %s threshold",
			Percent(s.Usage, s.Limit), Percent(ws, s.Limit), Fraction(t.Threshold))}
	}

	// Reclaim only pays when cache is what holds usage up: if usage would still be over the threshold
	// with every reclaimable cache page gone, the container is anon-bound; dropping its cache would buy
	// a few percent until the next refill and only cost it re-reads. (The same test covers the working
	// set: ws - active_file = usage - reclaimable.)
	if s.Usage-s.Reclaimable() > line {
		return Action{Verdict: VerdictNotCache, Trigger: trigger, Reason: fmt.Sprintf(
			"%s over the %s threshold (usage %s, working set %s of %s), but only %s is reclaimable page cache: anon memory needs a bigger limit",
			trigger, Fraction(t.Threshold), Percent(s.Usage, s.Limit), Percent(ws, s.Limit), MiB(s.Limit), MiB(s.Reclaimable()))}
	}
	// Bring usage to the target. The working set never exceeds usage, so it ends at or below the target
	// too. The kernel reclaims inactive pages first (deactivating active ones as it goes), so when the
	// inactive list covers the amount the hot, active cache is left alone; when the working set is over,
	// usage-target = inactive_file + (ws-target): the whole inactive list plus just the active cache the
	// working set must lose.
	want := min(s.Usage-target, s.Reclaimable())
	if !overWS {
		// Only usage is over: dropping the inactive list alone brings usage down to the working set,
		// which is under the line. Active cache is a read-heavy pod's hot data (FACTS.md A.2); taking it
		// to reach the target would buy nothing an alert sees and cost re-reads from disk.
		want = min(want, s.InactiveFile)
	}
	// Active cache may go when the working set is over the line: it is what holds the working set up,
	// and an alert on the working set fires whatever its pages are for. It may also go when it is
	// negligible next to the amount (a tenth at most): a log writer's few active pages (the blog's pod:
	// 7 MB active of 707 MB cache) are not hot data, and keeping them would rule out the one v1 method
	// that works without the host's PIDs (force_empty), leaving the log cache in place. Otherwise it
	// is a read-heavy pod's hot data and must stay: dropping it costs re-reads from disk and buys
	// nothing, since the inactive list alone brings usage under the line.
	mayDropActive := overWS || s.ActiveFile <= want/10
	return Action{Verdict: VerdictReclaim, Bytes: want, MayDropActive: mayDropActive, Trigger: trigger, Reason: fmt.Sprintf(
		"%s over the %s threshold (usage %s, working set %s of %s): reclaim %s of page cache to reach %s",
		trigger, Fraction(t.Threshold), Percent(s.Usage, s.Limit), Percent(ws, s.Limit), MiB(s.Limit), MiB(want), Fraction(t.Target))}
}

// Formatting shared by the reasons here and the agent's logs, events and manual mode.

// MiB formats bytes as mebibytes with one decimal, e.g. "667.6MiB".
func MiB(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

// Percent formats v as a share of limit, e.g. "95.0%"; "n/a" without a limit.
func Percent(v, limit int64) string {
	if limit <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(v)/float64(limit))
}

// Fraction formats a fraction such as a threshold as a percentage, e.g. 0.75 as "75%".
func Fraction(f float64) string { return fmt.Sprintf("%.4g%%", 100*f) }

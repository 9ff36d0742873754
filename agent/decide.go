package agent

import "github.com/headroom-dev/headroom/reclaim"

// The decision rule lives in package reclaim, which is pure, so that the backtest replays history
// under exactly the rule the agent applies. These names keep the agent's API as it was.
type (
	// Stats are one memory cgroup's figures in bytes, read from its memory.* files.
	Stats = reclaim.Stats
	// Thresholds say when to act and how far down to go, as fractions of the container's limit.
	Thresholds = reclaim.Thresholds
	// Verdict is what Decide concluded.
	Verdict = reclaim.Verdict
	// Action is the decision for one cgroup.
	Action = reclaim.Action
)

// The verdicts of Decide.
const (
	VerdictNoLimit  = reclaim.VerdictNoLimit
	VerdictUnder    = reclaim.VerdictUnder
	VerdictNotCache = reclaim.VerdictNotCache
	VerdictReclaim  = reclaim.VerdictReclaim
)

// DefaultThresholds are the flag defaults.
var DefaultThresholds = reclaim.DefaultThresholds

// Decide is the pure decision: given one cgroup's stats, whether to reclaim its page cache and how much.
func Decide(s Stats, t Thresholds) Action { return reclaim.Decide(s, t) }

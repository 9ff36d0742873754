// Package reclaim is the agent's decision rule, kept pure so that the node agent (live cgroups) and
// the backtest (replayed history) apply one and the same rule: given one memory cgroup's figures,
// whether to reclaim its page cache and how much. It must not import Kubernetes or touch the system.
package reclaim

// Package agent is headroom's node fallback: it reads each container's memory cgroup on its node (v1 or
// v2, any cgroup driver) and reclaims that container's page cache, only, as usage nears the limit.
// The decision is package reclaim's (pure, shared with the backtest), Memcg hides the cgroup version,
// Agent is the node loop; it must not import webhook or recommender.
package agent

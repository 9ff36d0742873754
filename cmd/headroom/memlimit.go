package main

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
)

// memoryLimitEnv carries the container's memory limit in bytes (the chart sets it from the
// downward API, resourceFieldRef limits.memory).
const memoryLimitEnv = "HEADROOM_MEMORY_LIMIT"

// memoryLimitShare is the part of the container limit the Go runtime aims to stay under. Not all
// of it: the runtime's soft limit covers Go's own memory only, and at 100 % the collector would
// start working hard just when the cgroup is about to OOM-kill the process.
const memoryLimitShare = 0.9

// applyMemoryLimit sets the Go runtime's soft memory limit from memoryLimitEnv. An explicit
// GOMEMLIMIT wins; without either, the runtime's default (no limit) stays.
func applyMemoryLimit(getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	v := getenv(memoryLimitEnv)
	if v == "" {
		return 0, nil
	}
	limit, err := strconv.ParseInt(v, 10, 64)
	if err != nil || limit <= 0 {
		return 0, fmt.Errorf("%s=%q: want the container's memory limit in bytes", memoryLimitEnv, v)
	}
	soft := int64(math.Floor(float64(limit) * memoryLimitShare))
	debug.SetMemoryLimit(soft)
	return soft, nil
}

package recommender

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/sizing"
)

// Size is the one place where a workload and its history become sizing results; the recommender
// and the offline `headroom recommend` both call it.
//
// containers is what history knows of the workload (nil when it has none). spec is the workload's
// pod template (nil when unknown): it supplies each container's current limit, request, -Xmx and
// QoS, and its containers that history lacks are added, so they say "insufficient history".
// A container history knows but the template does not (renamed or removed, or spec is nil) is sized
// from the last limit history shows, with -Xmx left alone. limitRangeMax is the namespace
// LimitRange's maximum container memory limit (0: none). Results are sorted by container name.
func Size(p sizing.Policy, containers []sizing.Container, spec *corev1.PodSpec, limitRangeMax int64) []Result {
	if spec != nil {
		have := make(map[string]bool, len(containers))
		for _, c := range containers {
			have[c.Name] = true
		}
		all := append(make([]sizing.Container, 0, len(containers)+len(spec.Containers)), containers...)
		for _, c := range spec.Containers {
			if !have[c.Name] {
				all = append(all, sizing.Container{Name: c.Name})
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
		containers = all
	}
	results := make([]Result, 0, len(containers))
	for _, c := range containers {
		var cur sizing.Current
		ok := false
		if spec != nil {
			cur, ok = manifest.Current(spec, c.Name)
		}
		if !ok {
			cur = sizing.Current{Limit: c.LastLimit()}
		}
		cur.LimitRangeMax = limitRangeMax
		rec, err := sizing.Recommend(p, c, cur)
		results = append(results, Result{Name: c.Name, Recommendation: rec, Err: err, Current: cur, FromSpec: ok})
	}
	return results
}

// containersOf returns the containers of a workload's history, nil when there is none.
func containersOf(w *history.Workload) []sizing.Container {
	if w == nil {
		return nil
	}
	return w.Containers
}

package history

import (
	"slices"
	"sort"
	"strings"

	"github.com/headroom-dev/headroom/sizing"
)

type seriesKey struct{ pod, container string }

// raw is what the queries of one namespace returned, in the same shape for every source, so
// that both sources give the same samples and the same workloads.
type raw struct {
	ranges map[string]map[seriesKey]sizing.Series
	// meta rows: label values in metaQuery.by order, and the value.
	meta map[string][]metaRow
}

type metaRow struct {
	labels []string
	value  float64
}

func newRaw() *raw {
	return &raw{ranges: map[string]map[seriesKey]sizing.Series{}, meta: map[string][]metaRow{}}
}

// appendRange appends points to a series (chunks arrive in time order). The first chunk is kept
// as it is, not copied: the caller hands it over.
func (r *raw) appendRange(q string, k seriesKey, pts sizing.Series) {
	m := r.ranges[q]
	if m == nil {
		m = map[seriesKey]sizing.Series{}
		r.ranges[q] = m
	}
	if cur, ok := m[k]; ok {
		m[k] = append(cur, pts...)
	} else {
		m[k] = pts
	}
}

type owner struct{ kind, name string }

// owners indexes a meta query's rows by their first label: the controller owner of each object.
// A pod or object with several owners keeps the smallest (kind, name) so the choice is stable;
// "<none>" owners (kube-state-metrics' bare pods) are dropped.
func (r *raw) owners(q string) map[string]owner {
	out := map[string]owner{}
	for _, row := range r.meta[q] {
		if len(row.labels) < 3 || row.labels[1] == "" || row.labels[1] == "<none>" {
			continue
		}
		o := owner{row.labels[1], row.labels[2]}
		if cur, ok := out[row.labels[0]]; !ok || o.kind < cur.kind || o.kind == cur.kind && o.name < cur.name {
			out[row.labels[0]] = o
		}
	}
	return out
}

// assemble turns the query results of a namespace into workloads.
func assemble(ns string, w Window, r *raw) *Namespace {
	type podKey = seriesKey
	pods := map[podKey]*sizing.Pod{}
	containersOf := map[string][]string{} // pod -> container names
	for k, s := range r.ranges[qRSS] {
		if k.container == "" || len(s) == 0 {
			continue
		}
		pods[k] = &sizing.Pod{Name: k.pod, RSS: s}
		containersOf[k.pod] = append(containersOf[k.pod], k.container)
	}
	for _, cs := range containersOf {
		sort.Strings(cs)
	}
	// JVM metrics scraped through a Service often lack the container label: give them to the pod's
	// only container, or to the one with the highest RSS (the JVM, in practice).
	target := func(k seriesKey) *sizing.Pod {
		if p := pods[k]; p != nil {
			return p
		}
		cs := containersOf[k.pod]
		if k.container != "" || len(cs) == 0 {
			return nil
		}
		best := pods[seriesKey{k.pod, cs[0]}]
		for _, c := range cs[1:] {
			if p := pods[seriesKey{k.pod, c}]; peakOf(p.RSS) > peakOf(best.RSS) {
				best = p
			}
		}
		return best
	}
	attach := func(q string, set func(p *sizing.Pod, s sizing.Series)) {
		keys := sortedKeys(r.ranges[q])
		// Series with a container label first: they win over unlabelled ones for the same pod.
		slices.SortStableFunc(keys, func(a, b seriesKey) int { return boolInt(a.container == "") - boolInt(b.container == "") })
		for _, k := range keys {
			if p := target(k); p != nil {
				set(p, r.ranges[q][k])
			}
		}
	}
	attach(qCache, func(p *sizing.Pod, s sizing.Series) { p.Cache = s })
	attach(qWorkingSet, func(p *sizing.Pod, s sizing.Series) { p.WorkingSet = s })
	attach(qActiveFile, func(p *sizing.Pod, s sizing.Series) { p.ActiveFile = s })
	attach(qLimit, func(p *sizing.Pod, s sizing.Series) { p.Limit = s })
	attach(qHeapUsed, func(p *sizing.Pod, s sizing.Series) {
		if p.HeapUsed == nil {
			p.HeapUsed = s
		}
	})
	attach(qHeapCommitted, func(p *sizing.Pod, s sizing.Series) {
		if p.HeapCommitted == nil {
			p.HeapCommitted = s
		}
	})
	for k, p := range pods {
		events := counterIncreases(r.ranges[qOOMEvents][k])
		reasons := risingEdges(r.ranges[qOOMReason][k], int64(w.Step/1e6), p.RSS[0].T)
		p.OOMKills = max(events, reasons)
	}
	starts := map[string]int64{}
	for _, row := range r.meta[qStart] {
		if len(row.labels) > 0 {
			starts[row.labels[0]] = int64(row.value * 1000)
		}
	}
	podOwners, rsOwners, jobOwners := r.owners(qPodOwner), r.owners(qRSOwner), r.owners(qJobOwner)
	id := identity{pods: podOwners, replicaSets: rsOwners, jobs: jobOwners,
		haveRS: len(r.meta[qRSOwner]) > 0, haveJobs: len(r.meta[qJobOwner]) > 0}

	byWorkload := map[WorkloadKey]map[string][]sizing.Pod{}
	for k, p := range pods {
		p.Start = starts[k.pod]
		kind, name := id.resolve(k.pod)
		wk := WorkloadKey{Namespace: ns, Kind: kind, Name: name}
		if byWorkload[wk] == nil {
			byWorkload[wk] = map[string][]sizing.Pod{}
		}
		byWorkload[wk][k.container] = append(byWorkload[wk][k.container], *p)
	}
	out := &Namespace{Name: ns, Window: w}
	for wk, cs := range byWorkload {
		wl := Workload{Key: wk}
		for name, ps := range cs {
			sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
			wl.Containers = append(wl.Containers, sizing.Container{Name: name, Pods: ps})
		}
		sort.Slice(wl.Containers, func(i, j int) bool { return wl.Containers[i].Name < wl.Containers[j].Name })
		out.Workloads = append(out.Workloads, wl)
	}
	sort.Slice(out.Workloads, func(i, j int) bool {
		a, b := out.Workloads[i].Key, out.Workloads[j].Key
		return a.Kind < b.Kind || a.Kind == b.Kind && a.Name < b.Name
	})
	return out
}

func sortedKeys(m map[seriesKey]sizing.Series) []seriesKey {
	keys := make([]seriesKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b seriesKey) int {
		if c := strings.Compare(a.pod, b.pod); c != 0 {
			return c
		}
		return strings.Compare(a.container, b.container)
	})
	return keys
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func peakOf(s sizing.Series) float64 {
	var m float64
	for _, p := range s {
		m = max(m, p.V)
	}
	return m
}

// counterIncreases counts what a counter gained, like PromQL increase() without extrapolation:
// positive steps, and after a reset (a new container) its new value.
func counterIncreases(s sizing.Series) int {
	var n float64
	for i := 1; i < len(s); i++ {
		if d := s[i].V - s[i-1].V; d >= 0 {
			n += d
		} else {
			n += s[i].V
		}
	}
	return int(n + 0.5)
}

// risingEdges counts how often a 0/1 gauge became 1: after a 0, after a gap longer than a step,
// or at its first sample when the pod had been seen running before (podFirst).
func risingEdges(s sizing.Series, stepMs, podFirst int64) int {
	n := 0
	for i, p := range s {
		if p.V < 1 {
			continue
		}
		switch {
		case i == 0:
			if p.T > podFirst {
				n++
			}
		case s[i-1].V < 1 || p.T-s[i-1].T > stepMs:
			n++
		}
	}
	return n
}

package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

// chartPoints bounds the points of one chart: enough to show daily patterns over a week at a
// 1280px page width, small enough that a namespace of a hundred containers stays a few MB.
const chartPoints = 300

// defaultJVMHeapPercent is the JVM's heap, in percent of the container limit, when nothing sets
// it (JDK 10+ -XX:MaxRAMPercentage default, FACTS B.4).
const defaultJVMHeapPercent = 25

// Build sizes every container of the input (or takes the recommendations it carries) and
// assembles the report: rows sorted riskiest first, namespaces by name, summaries added up.
// It is deterministic for the same input.
func Build(in Input) *Report {
	p := in.Policy
	r := &Report{
		SchemaVersion: SchemaVersion,
		GeneratedAt:   in.GeneratedAt.UTC(),
		Window:        Window{Start: in.Window.Start.UTC(), End: in.Window.End.UTC(), Step: in.Window.Step},
		Policy: PolicySummary{
			TargetUtilization: p.TargetUtilization,
			Horizon:           p.Horizon.String(),
			Lookback:          p.Lookback.String(),
			MinHistory:        p.MinHistory.String(),
			ChangeThreshold:   p.ChangeThreshold,
			RSSMargin:         p.RSSMargin,
			HeapMargin:        p.HeapMargin,
			LowerXmx:          p.LowerXmx,
		},
		Namespaces: []NamespaceReport{},
	}
	if r.Window.End.After(r.Window.Start) {
		r.Policy.Lookback = sizing.FormatDuration(r.Window.End.Sub(r.Window.Start))
	}
	for _, ns := range in.Namespaces {
		nr := NamespaceReport{Name: ns.Name, Mode: ns.Mode, Rows: []Row{}}
		for _, wl := range ns.Workloads {
			m, _ := mode.Workload(ns.Mode, wl.Mode, wl.Mode != "") // as the webhook does
			for _, c := range wl.Containers {
				nr.Rows = append(nr.Rows, buildRow(in, ns.Name, wl, c, m))
			}
		}
		slices.SortStableFunc(nr.Rows, compareRows)
		nr.Summary = summarize(nr.Rows)
		r.Namespaces = append(r.Namespaces, nr)
	}
	slices.SortStableFunc(r.Namespaces, func(a, b NamespaceReport) int { return cmp.Compare(a.Name, b.Name) })
	var all []Row
	for _, nr := range r.Namespaces {
		all = append(all, nr.Rows...)
	}
	r.Summary = summarize(all)
	return r
}

func buildRow(in Input, namespace string, wl WorkloadInput, c ContainerInput, wlMode mode.Mode) Row {
	p := in.Policy
	cur := sizing.Current{Limit: c.History.LastLimit()}
	source := SourceHistory
	if c.Current != nil {
		cur, source = *c.Current, cmp.Or(c.Source, SourceManifest)
	}
	res := c.Result
	if res == nil {
		rec, err := sizing.Recommend(p, c.History, cur)
		res = &Result{Recommendation: rec, Err: err}
	}
	rec, m, obs := res.Recommendation, res.Recommendation.Model, res.Recommendation.Observed

	row := Row{
		Namespace: namespace, Mode: wlMode, Kind: wl.Kind, Workload: wl.Name, Container: c.Name,
		SpecSource: source, JVM: cur.JVM,
		LimitBytes: cur.Limit, RequestBytes: cur.Request, XmxBytes: cur.Xmx,
		RSSPeakBytes:           obs.RSSPeakBytes,
		CachePeakBytes:         obs.CachePeakBytes,
		CacheGrowthBytesPerDay: obs.CacheGrowthBytesPerHour * 24,
		ActiveFilePeakBytes:    obs.ActiveFilePeakBytes,
		HeapUsedPeakBytes:      obs.HeapUsedPeakBytes,
		HeapCommittedPeakBytes: obs.HeapCommittedPeakBytes,
		NonHeapBytes:           obs.NonHeapBytes,
		LimitBound:             obs.LimitBound,
		OOMKills:               obs.OOMKills,
		Pods:                   obs.Pods,
		HistoryHours:           obs.HistoryHours,
		Reason:                 rec.Reason,
		model:                  m,
	}
	if res.Err != nil && row.Reason == "" {
		row.Reason = "No recommendation: " + res.Err.Error() + "."
	}
	var heap *jvm.Heap
	if c.JVM != nil {
		h := jvm.Analyze(*c.JVM)
		heap = &h
		row.XmxWhere = xmxWhere(h, cur)
	}
	running := 0
	row.RSSNowBytes, row.CacheNowBytes, running = now(c.History, in.Window.Step)
	row.Replicas = wl.Replicas
	if row.Replicas == 0 {
		row.Replicas = max(running, 1)
	}
	row.Series = chartSeries(c.History, in.Window)

	excluded := slices.Contains(wl.Exclude, c.Name)
	if excluded {
		row.Mode = mode.Off
	}
	noHistory := res.Err != nil
	var cannot error
	if !noHistory && rec.Changed && rec.Xmx > 0 && c.JVM != nil {
		if _, _, err := jvm.Rewrite(*c.JVM, rec.Xmx); err != nil {
			cannot = err
		}
	}

	// What the container would run with afterwards.
	row.RecommendedLimitBytes, row.RecommendedRequestBytes, row.RecommendedXmxBytes = cur.Limit, cur.Request, cur.Xmx
	if !noHistory && rec.Changed {
		row.RecommendedLimitBytes, row.RecommendedRequestBytes = rec.Limit, rec.Request
		if rec.Xmx > 0 {
			row.RecommendedXmxBytes = rec.Xmx
		}
	}
	webhookSkips := false
	if cannot != nil {
		// The webhook keeps -Xmx; it still applies the limit when the current heap plus non-heap
		// fits under it, and otherwise leaves the container alone.
		row.RecommendedXmxBytes = cur.Xmx
		if heapFor(cur, heap, rec.Limit)+obs.NonHeapBytes >= rec.Limit {
			webhookSkips = true
			row.RecommendedLimitBytes, row.RecommendedRequestBytes = cur.Limit, cur.Request
		}
	}

	switch {
	case row.Mode == mode.Off:
		row.Action = ActionOptedOut
	case noHistory:
		row.Action = ActionNoHistory
	case !rec.Changed:
		row.Action = ActionKeep
	case cannot != nil:
		row.Action = ActionCannotRewrite
	case rec.Limit != cur.Limit && (cur.Limit == 0 || rec.Limit < cur.Limit):
		row.Action = ActionLower
	case rec.Limit != cur.Limit:
		row.Action = ActionRaise
	case rec.Xmx > 0:
		row.Action = ActionXmxOnly
	default:
		row.Action = ActionRequestOnly
	}

	if !noHistory {
		cache := m.CacheHeadroom
		row.ProjectedBytes = obs.RSSPeakBytes + cache
		rssAfter := m.ProjectedRSS
		if cannot != nil || rssAfter == 0 {
			rssAfter = obs.RSSPeakBytes
		}
		row.ProjectedRecommendedBytes = rssAfter + cache
		if row.LimitBytes > 0 {
			row.Risk = ratio(row.ProjectedBytes, row.LimitBytes)
			row.AtRisk = *row.Risk > p.TargetUtilization
		}
		if row.RecommendedLimitBytes > 0 {
			row.RiskRecommended = ratio(row.ProjectedRecommendedBytes, row.RecommendedLimitBytes)
		}
	}
	if pub := c.Published; pub != nil {
		row.PublishedLimitBytes, row.PublishedRequestBytes, row.PublishedXmxBytes = pub.Limit, pub.Request, pub.Xmx
		if !pub.Updated.IsZero() {
			row.PublishedUpdated = pub.Updated.UTC().Format(time.RFC3339)
		}
	}
	row.Seen, row.Plan = explain(p, row, explainContext{
		excluded: excluded, workloadMode: wl.Mode, cannot: cannot, webhookSkips: webhookSkips,
		err: res.Err, computedXmx: rec.Xmx,
	})
	row.Explanation = strings.Join(append(slices.Clip(row.Seen), row.Plan...), " ")
	return row
}

// heapFor is the heap the JVM uses at a limit: its explicit -Xmx, or what HotSpot's ergonomics
// give at that limit (jvm.Heap.MaxHeapFor, the rule the webhook applies too); 0 when not a JVM.
func heapFor(cur sizing.Current, h *jvm.Heap, limit int64) int64 {
	if !cur.JVM {
		return 0
	}
	if h == nil { // the container's spec is not known: only its -Xmx
		h = &jvm.Heap{MaxHeap: cur.Xmx}
	}
	return h.MaxHeapFor(limit)
}

// xmxWhere says where the effective heap setting lives, or how the heap is sized without one.
func xmxWhere(h jvm.Heap, cur sizing.Current) string {
	switch {
	case !cur.JVM:
		return ""
	case h.MaxHeap > 0:
		return h.Where.String()
	case h.MaxRAMPercentage > 0:
		return fmt.Sprintf("none: MaxRAMPercentage=%g in %s", h.MaxRAMPercentage, h.MaxRAMPercentageWhere)
	}
	return fmt.Sprintf("none: JVM default, %d%% of the limit", defaultJVMHeapPercent)
}

func ratio(a, b int64) *float64 {
	v := math.Round(float64(a)/float64(b)*1000) / 1000
	return &v
}

// now returns the RSS and cache of the fullest pod still running at the end of the history, and
// how many pods were running then (their last sample within two steps of the latest one).
func now(c sizing.Container, step time.Duration) (rss, cache int64, running int) {
	var last int64
	for _, p := range c.Pods {
		if n := len(p.RSS); n > 0 {
			last = max(last, p.RSS[n-1].T)
		}
	}
	slack := 2 * step.Milliseconds()
	if slack <= 0 {
		slack = (10 * time.Minute).Milliseconds()
	}
	for _, p := range c.Pods {
		n := len(p.RSS)
		if n == 0 || p.RSS[n-1].T < last-slack {
			continue
		}
		running++
		r := int64(p.RSS[n-1].V)
		var ca int64
		if k := len(p.Cache); k > 0 && p.Cache[k-1].T >= last-slack {
			ca = int64(p.Cache[k-1].V)
		}
		if r+ca > rss+cache {
			rss, cache = r, ca
		}
	}
	return rss, cache, running
}

// chartSeries downsamples the history to at most chartPoints bins over the window. Each bin
// holds the sample with the largest RSS + cache of any pod (so the stacked areas never add up
// two pods), and the largest heap in use.
func chartSeries(c sizing.Container, w Window) []Point {
	start, end := w.Start.UnixMilli(), w.End.UnixMilli()
	if !w.End.After(w.Start) {
		return nil
	}
	width := max((end-start+chartPoints-1)/chartPoints, 1)
	if step := w.Step.Milliseconds(); step > width {
		width = step
	}
	bins := int((end-start)/width) + 1
	pts := make([]Point, bins)
	have := make([]bool, bins)
	usage := make([]int64, bins)
	for _, p := range c.Pods {
		j := 0
		for _, s := range p.RSS {
			if s.T < start || s.T > end {
				continue
			}
			b := int((s.T - start) / width)
			var ca int64
			for j < len(p.Cache) && p.Cache[j].T < s.T {
				j++
			}
			if j < len(p.Cache) && p.Cache[j].T == s.T {
				ca = int64(p.Cache[j].V)
			}
			if u := int64(s.V) + ca; !have[b] || u > usage[b] {
				have[b], usage[b] = true, u
				pts[b].RSS, pts[b].Cache = int64(s.V), ca
			}
		}
		for _, s := range p.HeapUsed {
			if s.T < start || s.T > end {
				continue
			}
			b := int((s.T - start) / width)
			pts[b].HeapUsed = max(pts[b].HeapUsed, int64(s.V))
		}
	}
	out := make([]Point, 0, bins)
	for b := range pts {
		if have[b] {
			pts[b].T = start + int64(b)*width + width/2
			out = append(out, pts[b])
		}
	}
	return out
}

// compareRows orders rows riskiest first: rows with a risk by risk, then rows without a limit by
// projected usage, then rows without history; ties by workload and container.
func compareRows(a, b Row) int {
	group := func(r Row) int {
		switch {
		case r.Action == ActionNoHistory || r.Risk == nil && r.ProjectedBytes == 0:
			return 2
		case r.Risk == nil:
			return 1
		}
		return 0
	}
	if c := cmp.Compare(group(a), group(b)); c != 0 {
		return c
	}
	if a.Risk != nil && b.Risk != nil {
		if c := cmp.Compare(*b.Risk, *a.Risk); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(b.ProjectedBytes, a.ProjectedBytes); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Workload, b.Workload), cmp.Compare(a.Container, b.Container))
}

func summarize(rows []Row) Summary {
	var s Summary
	type flags struct{ risk, change, off, nohist bool }
	seen := map[string]*flags{}
	var order []string
	for _, r := range rows {
		key := r.Namespace + "/" + r.Kind + "/" + r.Workload
		f := seen[key]
		if f == nil {
			f = &flags{}
			seen[key] = f
			order = append(order, key)
		}
		s.Containers++
		f.risk = f.risk || r.AtRisk
		f.off = f.off || r.Action == ActionOptedOut
		f.nohist = f.nohist || r.Action == ActionNoHistory
		n := int64(r.Replicas)
		s.RequestsNowBytes += n * r.RequestBytes
		s.LimitsNowBytes += n * r.LimitBytes
		switch r.Action {
		case ActionOptedOut, ActionNoHistory, ActionKeep:
			s.RequestsRecommendedBytes += n * r.RequestBytes
			s.LimitsRecommendedBytes += n * r.LimitBytes
		default:
			f.change = f.change || r.RecommendedLimitBytes != r.LimitBytes ||
				r.RecommendedRequestBytes != r.RequestBytes || r.RecommendedXmxBytes != r.XmxBytes
			s.RequestsRecommendedBytes += n * r.RecommendedRequestBytes
			s.LimitsRecommendedBytes += n * r.RecommendedLimitBytes
		}
	}
	s.Workloads = len(order)
	for _, k := range order {
		f := seen[k]
		s.AtRisk += b2i(f.risk)
		s.Changing += b2i(f.change)
		s.OptedOut += b2i(f.off)
		s.NoHistory += b2i(f.nohist)
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

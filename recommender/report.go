package recommender

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/sizing"
)

// errNoCycle is the report's answer before the first cycle: a 503, not a 404, since every
// namespace is unknown then.
var errNoCycle = errors.New("no cycle has finished yet (with leader election only the leader runs cycles)")

// Report is the dry-run report of the last cycle for one namespace, or for every namespace Last
// has a result for when namespace is "" (a report.LoadFunc: mount it with report.Handler). A
// namespace's rows join the cycle's sizing results (computed with the namespace's policy, so
// headroom.dev/policy overrides hold) with its workloads' templates, its mode label and its
// published MemoryRecommendations from the informer cache, and its history read again over the
// cycle's window for the charts and the figures of now (History: 13 queries).
//
// Without a namespace the namespaces are read one after the other, so that only one namespace's
// raw history is in memory at a time, and the page has no charts: a chart per container of a whole
// cluster would not fit the recommender's memory, nor a reader's browser. Reports are built one at
// a time for the same reason; a request waits for the one before it.
//
// An unknown namespace is report.ErrUnknownNamespace (404); before the first cycle every request
// fails (503).
func (r *Recommender) Report(ctx context.Context, namespace string) (*report.Report, error) {
	r.mu.RLock()
	cycled := r.cycled
	r.mu.RUnlock()
	if !cycled {
		return nil, errNoCycle
	}
	select {
	case r.reportSlot <- struct{}{}:
		defer func() { <-r.reportSlot }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	if namespace != "" {
		last := r.Last(namespace)
		if last == nil {
			return nil, fmt.Errorf("%w %s: the recommender has no results for it (not served, or its history could not be read yet)",
				report.ErrUnknownNamespace, namespace)
		}
		return r.namespaceReport(ctx, last)
	}

	var parts []*report.Report
	var newest time.Time
	for _, ns := range r.Namespaces() {
		last := r.Last(ns)
		if last == nil {
			continue // no longer served since Namespaces
		}
		if last.Time.After(newest) {
			newest = last.Time
		}
		one, err := r.namespaceReport(ctx, last)
		if err != nil {
			return nil, err
		}
		for _, nr := range one.Namespaces {
			for j := range nr.Rows {
				nr.Rows[j].Series = nil
			}
		}
		parts = append(parts, one)
	}
	// The page's header: the global policy and its window as of the newest result.
	if newest.IsZero() {
		newest = r.opts.Clock()
	}
	w, err := r.opts.window(r.opts.Policy, newest)
	if err != nil {
		return nil, err
	}
	all := report.Build(report.Input{GeneratedAt: r.opts.Clock(), Policy: r.opts.Policy,
		Window: report.Window{Start: w.Start, End: w.End, Step: w.Step}})
	for _, p := range parts {
		all.Namespaces = append(all.Namespaces, p.Namespaces...)
		all.Summary = addSummary(all.Summary, p.Summary)
	}
	return all, nil
}

// namespaceReport builds one namespace's report from its last result, with its policy and window.
func (r *Recommender) namespaceReport(ctx context.Context, last *NamespaceResult) (*report.Report, error) {
	in, err := r.namespaceInput(ctx, last)
	if err != nil {
		return nil, err
	}
	return report.Build(report.Input{
		GeneratedAt: r.opts.Clock(),
		Window:      report.Window{Start: last.Window.Start, End: last.Window.End, Step: last.Window.Step},
		Policy:      last.Policy,
		Namespaces:  []report.NamespaceInput{in},
	}), nil
}

// namespaceInput joins a namespace's last result with its history and what the cache says of it.
func (r *Recommender) namespaceInput(ctx context.Context, last *NamespaceResult) (report.NamespaceInput, error) {
	ns := last.Namespace
	h, err := r.opts.Source.Load(ctx, ns, last.Window)
	if err != nil {
		return report.NamespaceInput{}, fmt.Errorf("history of namespace %s: %w", ns, err)
	}
	inv, err := inventory.Load(ctx, r.reader, ns)
	if err != nil {
		return report.NamespaceInput{}, err
	}
	in := inventory.ClusterSpecs(inv).NamespaceInput(ns, h, r.opts.DefaultMode)
	withResults(&in, last)
	return in, nil
}

// withResults gives each container the cycle's result for it, when that was computed against
// what the row shows as current. A template changed since the cycle leaves the container without
// one: report.Build then sizes it afresh, with the namespace's policy, against the template as it
// is now.
func withResults(in *report.NamespaceInput, last *NamespaceResult) {
	byName := make(map[string]*WorkloadResult, len(last.Workloads))
	for i := range last.Workloads {
		w := &last.Workloads[i]
		byName[w.Key.Kind+"/"+w.Key.Name] = w
	}
	for i := range in.Workloads {
		wl := &in.Workloads[i]
		res := byName[wl.Kind+"/"+wl.Name]
		if res == nil {
			continue
		}
		for j := range wl.Containers {
			c := &wl.Containers[j]
			for _, cr := range res.Containers {
				if cr.Name != c.Name {
					continue
				}
				// What Build sizes against: the template's values, else the last limit history shows.
				cur := sizing.Current{Limit: c.History.LastLimit(), LimitRangeMax: cr.Current.LimitRangeMax}
				if c.Current != nil {
					cur = *c.Current
				}
				if cur == cr.Current {
					c.Result = &report.Result{Recommendation: cr.Recommendation, Err: cr.Err}
				}
			}
		}
	}
}

// addSummary adds up two namespaces' summaries: every figure counts workloads (namespaced) or
// containers, so the sum is the summary of both.
func addSummary(a, b report.Summary) report.Summary {
	return report.Summary{
		Workloads:                a.Workloads + b.Workloads,
		Containers:               a.Containers + b.Containers,
		AtRisk:                   a.AtRisk + b.AtRisk,
		Changing:                 a.Changing + b.Changing,
		OptedOut:                 a.OptedOut + b.OptedOut,
		NoHistory:                a.NoHistory + b.NoHistory,
		RequestsNowBytes:         a.RequestsNowBytes + b.RequestsNowBytes,
		RequestsRecommendedBytes: a.RequestsRecommendedBytes + b.RequestsRecommendedBytes,
		LimitsNowBytes:           a.LimitsNowBytes + b.LimitsNowBytes,
		LimitsRecommendedBytes:   a.LimitsRecommendedBytes + b.LimitsRecommendedBytes,
	}
}

package history

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/sizing"
)

// MaxPointsPerSeries is Prometheus's limit on the points of one series in a range query result.
const MaxPointsPerSeries = 11000

// Query results reported to PrometheusOptions.Observe.
const (
	ResultSuccess = "success"
	ResultError   = "error"
)

// PrometheusOptions configure the Prometheus source. Zero values take the defaults.
type PrometheusOptions struct {
	// URL of Prometheus or of anything that speaks its HTTP API (Thanos, Mimir, VictoriaMetrics).
	URL string
	// RoundTripper carries authentication or TLS settings; nil uses client_golang's default.
	RoundTripper http.RoundTripper
	// Labels names the namespace, pod and container labels.
	Labels Labels
	// Selector adds label matchers to every query, e.g. `cluster="prod"`.
	Selector string
	// Timeout bounds each query attempt (default 2m); it is also sent to Prometheus.
	Timeout time.Duration
	// Attempts per query (default 3), with exponential backoff starting at Backoff (default 1s).
	// Only server errors, timeouts, 429s and network errors are retried.
	Attempts int
	Backoff  time.Duration
	// MaxPoints per series per range query (default 11,000); longer ranges are split.
	MaxPoints int
	// Observe, if set, is called once per query attempt with ResultSuccess or ResultError
	// (e.g. to count headroom_history_queries_total{result}).
	Observe func(result string)
}

// Prometheus is a history source that queries a Prometheus-compatible HTTP API. It aggregates on
// the server: per namespace a fixed set of queries (QueriesPerNamespace), each returning one series
// per (pod, container), whatever the number of workloads.
type Prometheus struct {
	api   v1.API
	opts  PrometheusOptions
	extra []matcher
}

// NewPrometheus returns a Prometheus source. It does not contact the server.
func NewPrometheus(o PrometheusOptions) (*Prometheus, error) {
	if o.URL == "" {
		return nil, errors.New("prometheus source: URL is required")
	}
	client, err := api.NewClient(api.Config{Address: o.URL, RoundTripper: o.RoundTripper})
	if err != nil {
		return nil, fmt.Errorf("prometheus source: %w", err)
	}
	extra, err := parseSelector(o.Selector)
	if err != nil {
		return nil, fmt.Errorf("prometheus source: %w", err)
	}
	o.Labels = o.Labels.withDefaults()
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxPoints <= 0 || o.MaxPoints > MaxPointsPerSeries {
		o.MaxPoints = MaxPointsPerSeries
	}
	return &Prometheus{api: v1.NewAPI(client), opts: o, extra: extra}, nil
}

// Namespaces lists namespaces with container memory series in the window (label values from the
// index: cheap, but it may include a namespace whose samples end just before the window).
func (p *Prometheus) Namespaces(ctx context.Context, w Window) ([]string, error) {
	var vals model.LabelValues
	sel := namespaceSelector(p.opts.Labels, p.extra)
	err := p.do(ctx, func(ctx context.Context) error {
		v, _, _, err := p.api.LabelValues(ctx, p.opts.Labels.Namespace, []string{sel}, w.Start, w.End)
		vals = v
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("history: list namespaces from %s: %w", p.opts.URL, err)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if v != "" {
			out = append(out, string(v))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Load runs the query plan for one namespace. Any failed query fails the whole load.
func (p *Prometheus) Load(ctx context.Context, namespace string, w Window) (*Namespace, error) {
	l := p.opts.Labels
	r := newRaw()
	for _, q := range rangeQueries {
		expr := q.promQL(l, namespace, w.Step, p.extra)
		for _, c := range chunks(w, p.opts.MaxPoints) {
			var val model.Value
			err := p.do(ctx, func(ctx context.Context) error {
				v, _, _, err := p.api.QueryRange(ctx, expr, c, v1.WithTimeout(p.opts.Timeout))
				val = v
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("history: query %s of namespace %s (%s): %w", q.key, namespace, c.Start.Format(time.RFC3339), err)
			}
			m, ok := val.(model.Matrix)
			if !ok {
				return nil, fmt.Errorf("history: query %s of namespace %s: want a matrix, got %s", q.key, namespace, val.Type())
			}
			for _, ss := range m {
				k := seriesKey{string(ss.Metric[model.LabelName(l.Pod)]), string(ss.Metric[model.LabelName(l.Container)])}
				pts := make(sizing.Series, len(ss.Values))
				for i, sp := range ss.Values {
					pts[i] = sizing.Point{T: int64(sp.Timestamp), V: float64(sp.Value)}
				}
				r.appendRange(q.key, k, pts)
			}
		}
	}
	for _, q := range metaQueries {
		expr := q.promQL(l, namespace, w.End.Sub(w.Start), p.extra)
		var val model.Value
		err := p.do(ctx, func(ctx context.Context) error {
			v, _, _, err := p.api.Query(ctx, expr, w.End, v1.WithTimeout(p.opts.Timeout))
			val = v
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("history: query %s of namespace %s: %w", q.key, namespace, err)
		}
		vec, ok := val.(model.Vector)
		if !ok {
			return nil, fmt.Errorf("history: query %s of namespace %s: want a vector, got %s", q.key, namespace, val.Type())
		}
		by := q.byLabels(l)[1:]
		rows := make([]metaRow, 0, len(vec))
		for _, s := range vec {
			vals := make([]string, len(by))
			for i, b := range by {
				vals[i] = string(s.Metric[model.LabelName(b)])
			}
			rows = append(rows, metaRow{labels: vals, value: float64(s.Value)})
		}
		sort.Slice(rows, func(i, j int) bool { return fmt.Sprintf("%q", rows[i].labels) < fmt.Sprintf("%q", rows[j].labels) })
		r.meta[q.key] = rows
	}
	return assemble(namespace, w, r), nil
}

// chunks splits a window into ranges of at most maxPoints evaluation timestamps on the same grid.
func chunks(w Window, maxPoints int) []v1.Range {
	var out []v1.Range
	span := time.Duration(maxPoints-1) * w.Step
	for s := w.Start; !s.After(w.End); {
		e := s.Add(span)
		if e.After(w.End) {
			e = w.End
		}
		out = append(out, v1.Range{Start: s, End: e, Step: w.Step})
		s = e.Add(w.Step)
	}
	return out
}

// do runs one query with a per-attempt timeout, retrying transient failures with backoff.
func (p *Prometheus) do(ctx context.Context, f func(context.Context) error) error {
	delay := p.opts.Backoff
	for attempt := 1; ; attempt++ {
		qctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
		err := f(qctx)
		cancel()
		p.observe(err)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if attempt >= p.opts.Attempts || !retryable(err) {
			if attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, err)
			}
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		delay *= 2
	}
}

func (p *Prometheus) observe(err error) {
	if p.opts.Observe == nil {
		return
	}
	if err == nil {
		p.opts.Observe(ResultSuccess)
	} else {
		p.opts.Observe(ResultError)
	}
}

// retryable says whether a failed query may succeed when repeated: server errors, timeouts, 429,
// and transport errors are; bad queries and other client errors are not.
func retryable(err error) bool {
	var e *v1.Error
	if errors.As(err, &e) {
		switch e.Type {
		case v1.ErrServer, v1.ErrTimeout:
			return true
		case v1.ErrClient:
			return strings.Contains(e.Msg, "429")
		}
		return false
	}
	return true
}

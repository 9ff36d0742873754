package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
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
	// Only server errors, timeouts, 429s, network errors and partial answers (warnings) are retried.
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
	client api.Client  // builds endpoint URLs
	http   http.Client // client_golang's round tripper (or the caller's), for streamed query bodies
	api    v1.API      // label values
	opts   PrometheusOptions
	extra  []matcher
}

// NewPrometheus returns a Prometheus source. It does not contact the server.
func NewPrometheus(o PrometheusOptions) (*Prometheus, error) {
	if o.URL == "" {
		return nil, errors.New("prometheus source: URL is required")
	}
	rt := o.RoundTripper
	if rt == nil {
		rt = api.DefaultRoundTripper
	}
	client, err := api.NewClient(api.Config{Address: o.URL, RoundTripper: rt})
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
	return &Prometheus{client: client, http: http.Client{Transport: rt}, api: v1.NewAPI(client), opts: o, extra: extra}, nil
}

// Namespaces lists namespaces with container memory series in the window (label values from the
// index: cheap, but it may include a namespace whose samples end just before the window).
func (p *Prometheus) Namespaces(ctx context.Context, w Window) ([]string, error) {
	var vals model.LabelValues
	sel := namespaceSelector(p.opts.Labels, p.extra)
	err := p.do(ctx, func(ctx context.Context) error {
		v, warnings, _, err := p.api.LabelValues(ctx, p.opts.Labels.Namespace, []string{sel}, w.Start, w.End)
		if err != nil {
			return err
		}
		// A namespace missing from a partial list would be read as one without history.
		if err := partial(warnings, false); err != nil {
			return err
		}
		vals = v
		return nil
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

// Load runs the query plan for one namespace. Any failed query fails the whole load, and so does
// an answer with warnings: Thanos, Mimir and Prometheus with remote read warn when a store,
// ingester or remote endpoint did not answer, and a recommendation must not come from part of
// the history.
func (p *Prometheus) Load(ctx context.Context, namespace string, w Window) (*Namespace, error) {
	l := p.opts.Labels
	r := newRaw()
	seriesLabels := []string{l.Pod, l.Container}
	for _, q := range rangeQueries {
		expr := q.promQL(l, namespace, w.Step, p.extra)
		for _, c := range chunks(w, p.opts.MaxPoints) {
			points := int(c.End.Sub(c.Start)/c.Step) + 1
			res, err := p.query(ctx, epQueryRange, rangeArgs(expr, c), resultMatrix, seriesLabels, points)
			if err != nil {
				return nil, fmt.Errorf("history: query %s of namespace %s (%s): %w", q.key, namespace, c.Start.Format(time.RFC3339), err)
			}
			for _, s := range res.series {
				r.appendRange(q.key, seriesKey{s.labels[0], s.labels[1]}, s.points)
			}
		}
	}
	for _, q := range metaQueries {
		expr := q.promQL(l, namespace, w.End.Sub(w.Start), p.extra)
		args := url.Values{"query": {expr}, "time": {formatTime(w.End)}}
		res, err := p.query(ctx, epQuery, args, resultVector, q.byLabels(l)[1:], 0)
		if err != nil {
			return nil, fmt.Errorf("history: query %s of namespace %s: %w", q.key, namespace, err)
		}
		rows := make([]metaRow, 0, len(res.series))
		for _, s := range res.series {
			rows = append(rows, metaRow{labels: s.labels, value: s.points[0].V})
		}
		sort.Slice(rows, func(i, j int) bool { return fmt.Sprintf("%q", rows[i].labels) < fmt.Sprintf("%q", rows[j].labels) })
		r.meta[q.key] = rows
	}
	return assemble(namespace, w, r), nil
}

// Endpoints of the Prometheus HTTP API (client_golang does not export its own).
const (
	epQuery      = "/api/v1/query"
	epQueryRange = "/api/v1/query_range"
)

// ErrPartialResponse is wrapped by the error of a query whose answer came with warnings (or,
// from VictoriaMetrics, "isPartial": true): the data may be incomplete.
var ErrPartialResponse = errors.New("partial response")

// partial returns an ErrPartialResponse quoting the first warning, or nil. No warning Prometheus
// emits for the plan's queries is benign, so none is let through: PromQL's own warnings
// ("PromQL warning: ...", Prometheus 3.x and late 2.x) need native histograms or functions the
// plan does not use (rate, quantiles, histogram_quantile), and "results truncated due to limit"
// needs a limit parameter the plan does not send; the rest come from storage (remote read,
// Thanos stores, Mimir ingesters) and mean missing data. Infos ("PromQL info: ...") are remarks
// beside a complete answer: the decoder does not keep them.
func partial(warnings []string, isPartial bool) error {
	switch {
	case len(warnings) == 1:
		return fmt.Errorf("%w: the server warned %q", ErrPartialResponse, warnings[0])
	case len(warnings) > 1:
		return fmt.Errorf("%w: the server warned %q (and %d more)", ErrPartialResponse, warnings[0], len(warnings)-1)
	case isPartial:
		return fmt.Errorf("%w: the server marked it isPartial", ErrPartialResponse)
	}
	return nil
}

// query runs one query with do's timeout and retries (a partial answer is retried like a server
// error: a store that did not answer may answer the next time).
func (p *Prometheus) query(ctx context.Context, ep string, args url.Values, want string, labels []string, points int) (*response, error) {
	args.Set("timeout", p.opts.Timeout.String())
	var res *response
	err := p.do(ctx, func(ctx context.Context) error {
		r, err := p.post(ctx, ep, args, want, labels, points)
		if err != nil {
			return err
		}
		if err := partial(r.warnings, r.partial); err != nil {
			return err
		}
		res = r
		return nil
	})
	return res, err
}

// post sends a query the way client_golang's v1 API does (a form POST, then a GET if the server
// refuses POST with 403, 405 or 501) and decodes the answer as it streams in: the body is never
// held whole (client_golang's api.Client.Do reads it all into a growing buffer first).
func (p *Prometheus) post(ctx context.Context, ep string, args url.Values, want string, labels []string, points int) (*response, error) {
	u := p.client.URL(ep, nil)
	form := u.Query()
	for k, v := range args {
		form[k] = v
	}
	encoded := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(encoded))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil // retried by the transport on a broken keep-alive connection, like a GET
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	if c := resp.StatusCode; c == http.StatusForbidden || c == http.StatusMethodNotAllowed || c == http.StatusNotImplemented {
		closeBody(resp)
		u.RawQuery = encoded
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
			return nil, err
		}
		if resp, err = p.http.Do(req); err != nil {
			return nil, err
		}
	}
	defer closeBody(resp)
	return readResponse(ctx, resp, want, labels, points)
}

// readResponse decodes a response with client_golang's error semantics, so that retryable sees
// the same errors as before: HTTP errors other than 400 and 422 become client_error or
// server_error, an API error keeps its errorType, and a body that is not a valid answer is a
// bad_response. A body cut off by the network is a transport error (retried).
func readResponse(ctx context.Context, resp *http.Response, want string, labels []string, points int) (*response, error) {
	code := resp.StatusCode
	if code/100 != 2 && code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
		detail, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		t, msg := errorTypeAndMsgFor(code)
		return nil, &v1.Error{Type: t, Msg: msg, Detail: string(detail)}
	}
	if code/100 != 2 {
		want = "" // an error: only the envelope matters
	}
	body := &bodyReader{r: resp.Body}
	res, err := newDecoder(body, want, labels, points).decode()
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil && body.err != nil:
		return nil, body.err
	case err != nil && code/100 != 2:
		t, msg := errorTypeAndMsgFor(code)
		return nil, &v1.Error{Type: t, Msg: msg}
	case err != nil:
		return nil, &v1.Error{Type: v1.ErrBadResponse, Msg: err.Error()}
	case code/100 != 2:
		if res.status == "success" {
			return nil, &v1.Error{Type: v1.ErrBadResponse, Msg: "inconsistent body for response code"}
		}
		e := &v1.Error{Type: v1.ErrorType(res.errorType), Msg: res.err}
		if e.Type == "" {
			e.Type = v1.ErrClient
		}
		if e.Msg == "" {
			e.Msg = fmt.Sprintf("client error: %d", code)
		}
		return nil, e
	}
	if err := res.apiError(); err != nil {
		return nil, err
	}
	if !res.haveData {
		return nil, &v1.Error{Type: v1.ErrBadResponse, Msg: "response without data"}
	}
	return res, nil
}

func errorTypeAndMsgFor(code int) (v1.ErrorType, string) {
	switch code / 100 {
	case 4:
		return v1.ErrClient, fmt.Sprintf("client error: %d", code)
	case 5:
		return v1.ErrServer, fmt.Sprintf("server error: %d", code)
	}
	return v1.ErrBadResponse, fmt.Sprintf("bad response code %d", code)
}

// bodyReader remembers the first read error, which tells a broken connection from bad JSON.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// closeBody reads what is left of a body (a little) so that the connection can be reused.
func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// rangeArgs are the parameters of a range query, as client_golang's QueryRange sends them.
func rangeArgs(expr string, r v1.Range) url.Values {
	return url.Values{"query": {expr}, "start": {formatTime(r.Start)}, "end": {formatTime(r.End)},
		"step": {strconv.FormatFloat(r.Step.Seconds(), 'f', -1, 64)}}
}

// formatTime writes a time as client_golang does: Unix seconds with a fraction.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
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

package history

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/headroom-dev/headroom/sizing"
)

// fakeProm answers range and instant queries with empty results; fail decides per request whether
// to answer with an error status instead, and answer (if it returns a body) what to answer.
type fakeProm struct {
	mu       sync.Mutex
	requests []string // path + query
	fail     func(n int, r *http.Request) int
	answer   func(n int, r *http.Request) string
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Path+" "+r.Form.Get("query"))
	n := len(f.requests)
	f.mu.Unlock()
	if f.fail != nil {
		if code := f.fail(n, r); code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			if code == http.StatusBadRequest {
				_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
			}
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if f.answer != nil {
		if body := f.answer(n, r); body != "" {
			_, _ = w.Write([]byte(body))
			return
		}
	}
	switch r.URL.Path {
	case "/api/v1/query_range":
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	case "/api/v1/query":
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	case "/api/v1/label/namespace/values":
		_, _ = w.Write([]byte(`{"status":"success","data":["b","a",""]}`))
	default:
		http.NotFound(w, r)
	}
}

func newFake(t *testing.T, f *fakeProm, opts PrometheusOptions) (*Prometheus, *[]string) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	opts.URL = srv.URL
	opts.Backoff = time.Millisecond
	var results []string
	var mu sync.Mutex
	opts.Observe = func(r string) { mu.Lock(); results = append(results, r); mu.Unlock() }
	p, err := NewPrometheus(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, &results
}

var week = Window{Start: t0.Add(-7 * 24 * time.Hour), End: t0, Step: 15 * time.Minute}

func TestPrometheusQueriesPerNamespaceNotPerWorkload(t *testing.T) {
	f := &fakeProm{}
	p, results := newFake(t, f, PrometheusOptions{})
	if _, err := p.Load(context.Background(), "shop", week); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != QueriesPerNamespace || len(*results) != QueriesPerNamespace {
		t.Errorf("%d requests, %d observed; want %d", len(f.requests), len(*results), QueriesPerNamespace)
	}
	for _, r := range f.requests {
		if !strings.Contains(r, `namespace="shop"`) {
			t.Errorf("query not scoped to the namespace: %s", r)
		}
	}
	names, err := p.Namespaces(context.Background(), week)
	if err != nil || strings.Join(names, ",") != "a,b" {
		t.Errorf("Namespaces = %v, %v", names, err)
	}
}

func TestPrometheusSplitsLongRanges(t *testing.T) {
	f := &fakeProm{}
	p, _ := newFake(t, f, PrometheusOptions{MaxPoints: 100})
	w := Window{Start: t0.Add(-250 * time.Minute), End: t0, Step: time.Minute} // 251 points: 3 chunks
	if _, err := p.Load(context.Background(), "shop", w); err != nil {
		t.Fatal(err)
	}
	if want := 3*len(rangeQueries) + len(metaQueries); len(f.requests) != want {
		t.Errorf("%d requests, want %d", len(f.requests), want)
	}
}

func TestPrometheusRetriesTransientErrorsOnly(t *testing.T) {
	tests := map[string]struct {
		fail     func(n int, r *http.Request) int
		wantErr  string
		requests int
		results  string
	}{
		"a 503 is retried": {
			fail:     func(n int, _ *http.Request) int { return map[bool]int{true: http.StatusServiceUnavailable}[n == 1] },
			requests: QueriesPerNamespace + 1,
			results:  "error,success",
		},
		"a bad query is not retried": {
			fail:     func(int, *http.Request) int { return http.StatusBadRequest },
			wantErr:  "history: query rss of namespace shop",
			requests: 1,
			results:  "error",
		},
		"three failures in a row fail the load": {
			fail:     func(int, *http.Request) int { return http.StatusBadGateway },
			wantErr:  "after 3 attempts",
			requests: 3,
			results:  "error,error,error",
		},
		"a failure late in the plan fails the whole namespace": {
			fail: func(_ int, r *http.Request) int {
				return map[bool]int{true: http.StatusBadRequest}[strings.Contains(r.Form.Get("query"), "kube_job_owner")]
			},
			wantErr:  "query job_owner of namespace shop",
			requests: QueriesPerNamespace,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := &fakeProm{fail: tt.fail}
			p, results := newFake(t, f, PrometheusOptions{})
			ns, err := p.Load(context.Background(), "shop", week)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if err != nil && ns != nil {
				t.Error("partial data returned with an error")
			}
			if len(f.requests) != tt.requests {
				t.Errorf("%d requests, want %d", len(f.requests), tt.requests)
			}
			if tt.results != "" && !strings.HasPrefix(strings.Join(*results, ","), tt.results) {
				t.Errorf("observed %v, want %s...", *results, tt.results)
			}
		})
	}
}

func TestPrometheusTimesOutEachAttempt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond) // far beyond the 50ms timeout, short enough for Close
	}))
	t.Cleanup(srv.Close)
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, Timeout: 50 * time.Millisecond, Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Load(context.Background(), "shop", week)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	p, err := NewPrometheus(PrometheusOptions{URL: "http://127.0.0.1:1", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Load(context.Background(), "shop", week); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPrometheus(PrometheusOptions{}); err == nil {
		t.Error("an empty URL was accepted")
	}
}

func TestPrometheusWarningsMeanPartialData(t *testing.T) {
	const (
		matrix = `{"status":"success","data":{"resultType":"matrix","result":[]}`
		vector = `{"status":"success","data":{"resultType":"vector","result":[]}`
	)
	thanos := `,"warnings":["partial response: store 10.0.0.7:10901: rpc error: code = Unavailable"]}`
	tests := map[string]struct {
		answer   func(n int, r *http.Request) string
		wantErr  string // "" for success
		requests int
		results  string
	}{
		"a warning fails the namespace and is quoted": {
			answer: func(int, *http.Request) string { return matrix + thanos },
			wantErr: `query rss of namespace shop (2026-11-13T00:00:00Z): after 3 attempts: partial response: ` +
				`the server warned "partial response: store 10.0.0.7:10901: rpc error: code = Unavailable"`,
			requests: 3,
			results:  "error,error,error",
		},
		"the first of several warnings is quoted": {
			answer:   func(int, *http.Request) string { return matrix + `,"warnings":["first","second","third"]}` },
			wantErr:  `the server warned "first" (and 2 more)`,
			requests: 3,
		},
		"a warning on an instant query fails the namespace too": {
			answer: func(_ int, r *http.Request) string {
				if r.URL.Path == "/api/v1/query" {
					return vector + thanos
				}
				return ""
			},
			wantErr:  "query pod_start of namespace shop: after 3 attempts: partial response",
			requests: len(rangeQueries) + 3,
		},
		"VictoriaMetrics' isPartial fails the namespace": {
			answer: func(int, *http.Request) string {
				return `{"status":"success","isPartial":true,"data":{"resultType":"matrix","result":[]}}`
			},
			wantErr:  "partial response: the server marked it isPartial",
			requests: 3,
		},
		"a warning that goes away is retried away": {
			answer: func(n int, _ *http.Request) string {
				if n == 1 {
					return matrix + thanos
				}
				return ""
			},
			requests: QueriesPerNamespace + 1,
			results:  "error,success,success",
		},
		"infos are remarks beside a complete answer": {
			answer: func(_ int, r *http.Request) string {
				if r.URL.Path == "/api/v1/query" {
					return vector + `,"infos":["PromQL info: metric might not be a counter"]}`
				}
				return matrix + `,"infos":["PromQL info: ignored histograms in a range containing both floats and histograms"]}`
			},
			requests: QueriesPerNamespace,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := &fakeProm{answer: tt.answer}
			p, results := newFake(t, f, PrometheusOptions{})
			ns, err := p.Load(context.Background(), "shop", week)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPartialResponse)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			case err != nil && ns != nil:
				t.Error("partial data returned with an error")
			}
			if len(f.requests) != tt.requests {
				t.Errorf("%d requests, want %d", len(f.requests), tt.requests)
			}
			if tt.results != "" && !strings.HasPrefix(strings.Join(*results, ","), tt.results) {
				t.Errorf("observed %v, want %s...", *results, tt.results)
			}
		})
	}
	t.Run("a partial list of namespaces is an error, not namespaces without history", func(t *testing.T) {
		f := &fakeProm{answer: func(_ int, r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/api/v1/label/") {
				return `{"status":"success","data":["a"],"warnings":["remote read: partial"]}`
			}
			return ""
		}}
		p, _ := newFake(t, f, PrometheusOptions{})
		if names, err := p.Namespaces(context.Background(), week); err == nil || !strings.Contains(err.Error(), `warned "remote read: partial"`) {
			t.Errorf("Namespaces = %v, %v", names, err)
		}
	})
}

func TestPrometheusAnswers(t *testing.T) {
	week := Window{Start: t0.Add(-time.Hour), End: t0, Step: 15 * time.Minute}
	tests := map[string]struct {
		fail     func(n int, r *http.Request) int
		answer   func(n int, r *http.Request) string
		wantErr  string
		requests int
	}{
		"an API error keeps its type and is not retried": {
			answer: func(int, *http.Request) string {
				return `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`
			},
			wantErr:  "execution: query processing would load too many samples into memory",
			requests: 1,
		},
		"a server that refuses POST is asked with GET": {
			fail: func(_ int, r *http.Request) int {
				return map[bool]int{true: http.StatusMethodNotAllowed}[r.Method == http.MethodPost]
			},
			requests: 2 * QueriesPerNamespace,
		},
		"a body that is not an answer is not retried": {
			answer:   func(int, *http.Request) string { return `<html>proxy error</html>` },
			wantErr:  "bad_response",
			requests: 1,
		},
		"a native histogram is refused": {
			answer: func(int, *http.Request) string {
				return `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[[1,{"count":"1","sum":"1"}]]}]}}`
			},
			wantErr:  "native histogram samples",
			requests: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			f := &fakeProm{fail: tt.fail, answer: tt.answer}
			p, _ := newFake(t, f, PrometheusOptions{})
			_, err := p.Load(context.Background(), "shop", week)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if len(f.requests) != tt.requests {
				t.Errorf("%d requests, want %d", len(f.requests), tt.requests)
			}
		})
	}
}

func TestPrometheusReadsSeriesAndMetadata(t *testing.T) {
	w := Window{Start: t0.Add(-30 * time.Minute), End: t0, Step: 15 * time.Minute}
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	rss := promBody(resultMatrix, []promSeries{{
		labels: map[string]string{"namespace": "shop", "pod": "orders-5d8f9c7b6d-x2x4z", "container": "app"},
		points: sizing.Series{{T: ms(-30 * time.Minute), V: 100}, {T: ms(-15 * time.Minute), V: 300}, {T: ms(0), V: 200}},
	}}, nil, nil)
	owner := promBody(resultVector, []promSeries{{
		labels: map[string]string{"namespace": "shop", "pod": "orders-5d8f9c7b6d-x2x4z", "owner_kind": "ReplicaSet", "owner_name": "orders-5d8f9c7b6d"},
		points: sizing.Series{{T: ms(0), V: 1}},
	}}, nil, nil)
	rsOwner := promBody(resultVector, []promSeries{{
		labels: map[string]string{"namespace": "shop", "replicaset": "orders-5d8f9c7b6d", "owner_kind": "Deployment", "owner_name": "orders"},
		points: sizing.Series{{T: ms(0), V: 1}},
	}}, nil, nil)
	f := &fakeProm{answer: func(_ int, r *http.Request) string {
		switch q := r.Form.Get("query"); {
		case strings.Contains(q, "container_memory_rss"):
			return string(rss)
		case strings.Contains(q, "kube_pod_owner"):
			return string(owner)
		case strings.Contains(q, "kube_replicaset_owner"):
			return string(rsOwner)
		}
		return ""
	}}
	p, _ := newFake(t, f, PrometheusOptions{})
	ns, err := p.Load(context.Background(), "shop", w)
	if err != nil {
		t.Fatal(err)
	}
	wl := ns.Workload("Deployment", "orders")
	if wl == nil || len(wl.Containers) != 1 || len(wl.Containers[0].Pods) != 1 {
		t.Fatalf("workloads = %+v", ns.Workloads)
	}
	want := sizing.Series{{T: ms(-30 * time.Minute), V: 100}, {T: ms(-15 * time.Minute), V: 300}, {T: ms(0), V: 200}}
	if diff := cmp.Diff(want, wl.Containers[0].Pods[0].RSS); diff != "" {
		t.Errorf("RSS (-want +got):\n%s", diff)
	}
}

// TestPrometheusSendsWhatClientGolangSent: the queries go out as client_golang's v1 API sent
// them (a form POST to the same path, with the same parameters).
func TestPrometheusSendsWhatClientGolangSent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.String()+" "+r.Header.Get("Content-Type")+" "+r.PostForm.Encode())
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, epQuery) {
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	}))
	t.Cleanup(srv.Close)
	addr := srv.URL + "/prefix/?tenant=a"
	p, err := NewPrometheus(PrometheusOptions{URL: addr, Timeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	client, err := api.NewClient(api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	old := v1.NewAPI(client)
	ctx := context.Background()
	r := v1.Range{Start: t0.Add(-time.Hour), End: t0.Add(500 * time.Millisecond), Step: 90 * time.Second}
	if _, err := p.query(ctx, epQueryRange, rangeArgs("up", r), resultMatrix, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := old.QueryRange(ctx, "up", r, v1.WithTimeout(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.query(ctx, epQuery, url.Values{"query": {"up"}, "time": {formatTime(t0)}}, resultVector, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := old.Query(ctx, "up", t0, v1.WithTimeout(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0] != got[1] || got[2] != got[3] {
		t.Errorf("requests (new, client_golang, new, client_golang):\n%s", strings.Join(got, "\n"))
	}
}

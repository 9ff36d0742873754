package history

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProm answers range and instant queries with empty results; fail decides per request whether
// to answer with an error status instead.
type fakeProm struct {
	mu       sync.Mutex
	requests []string // path + query
	fail     func(n int, r *http.Request) int
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

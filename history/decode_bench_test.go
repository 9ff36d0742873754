package history

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/sizing"
)

// benchNamespace is one namespace of the scale measurement (hack/recommender-scale): 100 workloads ×
// 2 pods, 7 days at 15 minutes (672 points), as Prometheus answers the 9 range queries of a Load.
func benchNamespace() (bodies [][]byte, points int) {
	const pods, points7d = 200, 672
	start := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC).UnixMilli()
	for q := range rangeQueries {
		series := make([]promSeries, pods)
		for p := range series {
			pts := make(sizing.Series, points7d)
			base := float64((200 + p%10*50) << 20)
			for i := range pts {
				pts[i] = sizing.Point{T: start + int64(i)*15*60*1000, V: base + float64((i*7919+q*104729)%1000*4096)}
			}
			series[p] = promSeries{labels: map[string]string{"namespace": "scale-000", "container": "app",
				"pod": fmt.Sprintf("app-%03d-5d8f9c7b6b-%05d", p/2, p)}, points: pts}
		}
		bodies = append(bodies, promBody(resultMatrix, series, nil, nil))
	}
	return bodies, points7d
}

// bodiesTransport answers the i-th request with bodies[i % len(bodies)], from memory.
type bodiesTransport struct {
	bodies [][]byte
	n      atomic.Int64
}

func (b *bodiesTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	body := b.bodies[int(b.n.Add(1)-1)%len(b.bodies)]
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// BenchmarkDecodeRangeResponses reads the 9 range-query answers of one namespace (1.8 million
// points, 9 × 3.2 MB of JSON) from an in-memory transport: through client_golang's v1 API and
// model.Matrix as history did, through client_golang's api.Client.Do (which buffers the body) and
// the new decoder, and streamed from the body into the new decoder as history does now.
func BenchmarkDecodeRangeResponses(b *testing.B) {
	bodies, points := benchNamespace()
	size := 0
	for _, body := range bodies {
		size += len(body)
	}
	w := Window{Start: time.Unix(0, 0), End: time.Unix(0, 0).Add(time.Duration(points-1) * 15 * time.Minute), Step: 15 * time.Minute}
	r := v1.Range{Start: w.Start, End: w.End, Step: w.Step}
	ctx := context.Background()
	var kept int
	b.Run("client_golang", func(b *testing.B) {
		client, err := api.NewClient(api.Config{Address: "http://prometheus", RoundTripper: &bodiesTransport{bodies: bodies}})
		if err != nil {
			b.Fatal(err)
		}
		a := v1.NewAPI(client)
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			kept = 0
			for range rangeQueries {
				val, _, _, err := a.QueryRange(ctx, "q", r, v1.WithTimeout(time.Minute))
				if err != nil {
					b.Fatal(err)
				}
				for _, ss := range val.(model.Matrix) {
					k := seriesKey{string(ss.Metric["pod"]), string(ss.Metric["container"])}
					pts := make(sizing.Series, len(ss.Values))
					for i, sp := range ss.Values {
						pts[i] = sizing.Point{T: int64(sp.Timestamp), V: float64(sp.Value)}
					}
					_ = k
					kept += len(pts)
				}
			}
		}
	})
	b.Run("jsontext-after-client.Do", func(b *testing.B) {
		client, err := api.NewClient(api.Config{Address: "http://prometheus", RoundTripper: &bodiesTransport{bodies: bodies}})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			kept = 0
			for range rangeQueries {
				req, _ := http.NewRequest(http.MethodPost, client.URL(epQueryRange, nil).String(), strings.NewReader("query=q"))
				_, body, err := client.Do(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				res, err := newDecoder(bytes.NewReader(body), resultMatrix, podContainer, points).decode()
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range res.series {
					kept += len(s.points)
				}
			}
		}
	})
	b.Run("streaming", func(b *testing.B) {
		p, err := NewPrometheus(PrometheusOptions{URL: "http://prometheus", RoundTripper: &bodiesTransport{bodies: bodies}})
		if err != nil {
			b.Fatal(err)
		}
		labels := []string{p.opts.Labels.Pod, p.opts.Labels.Container}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			kept = 0
			for _, c := range chunks(w, p.opts.MaxPoints) {
				for range rangeQueries {
					res, err := p.query(ctx, epQueryRange, rangeArgs("q", c), resultMatrix, labels, points)
					if err != nil {
						b.Fatal(err)
					}
					for _, s := range res.series {
						kept += len(s.points)
					}
				}
			}
		}
	})
	if want := len(rangeQueries) * 200 * points; kept != want {
		b.Fatalf("kept %d points, want %d", kept, want)
	}
}

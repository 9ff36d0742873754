package sizing_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/headroom-dev/headroom/sizing"
)

// BenchmarkRecommend10000Workloads sizes 10,000 workloads from in-memory series: 7 days of history,
// two pods each, a mix of JVMs and other services with bounded or unbounded cache, many of them
// limit-bound. step=15m is the default window (672 points per series); step=5m triples the data.
// 1,000 distinct histories are each sized ten times per iteration to keep the input in memory.
// The scan is bound by memory bandwidth (the input is 16-byte points, ~1 GB at 15m), so workers=2
// shows what the recommender gets from this machine's two cores.
func BenchmarkRecommend10000Workloads(b *testing.B) {
	const distinct, workloads = 1000, 10000
	for _, stepMin := range []int{15, 5} {
		r := rand.New(rand.NewPCG(10000, 1))
		type input struct {
			c   sizing.Container
			cur sizing.Current
		}
		in := make([]input, distinct)
		points := 0
		for i := range in {
			s := randomSynth(r)
			s.Pods, s.Hours, s.StepMin = 2, 7*24, stepMin
			in[i] = input{c: s.container(), cur: s.current()}
			for _, p := range in[i].c.Pods {
				points += len(p.RSS) + len(p.Cache) + len(p.WorkingSet) + len(p.ActiveFile) + len(p.Limit) + len(p.HeapUsed) + len(p.HeapCommitted)
			}
		}
		p := sizing.Default()
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("step=%dm/workers=%d", stepMin, workers), func(b *testing.B) {
				b.ReportMetric(float64(points*workloads/distinct), "points/op")
				for b.Loop() {
					var wg sync.WaitGroup
					for w := 0; w < workers; w++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := w; i < workloads; i += workers {
								x := &in[i%distinct]
								if _, err := sizing.Recommend(p, x.c, x.cur); err != nil {
									b.Error(err)
									return
								}
							}
						}()
					}
					wg.Wait()
				}
			})
		}
	}
}

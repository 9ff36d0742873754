package sizing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/sizing"
)

const Mi = sizing.Mi

func roundUp(n, step int64) int64 { return (n + step - 1) / step * step }

// A steady Go-like service: 300Mi RSS, cache levelling off at 200Mi, 1Gi limit.
var bounded = synth{Seed: 1, Pods: 2, Hours: 72, StepMin: 5, RSS: 300, Noise: 0.01, Initial: 20, Growth: 60, Plateau: 200, Limit: 1024}

// The motivating JVM: -Xmx2000m, heap use ~160Mi, 180Mi non-heap, 100Mi/h of logs, 3000Mi limit.
var seedJVM = synth{Seed: 2, Pods: 2, Hours: 72, StepMin: 5, Initial: 40, Growth: 100, Limit: 3000,
	JVM: true, Xmx: 2000, HeapUsed: 150, NonHeap: 180, HeapMetric: true}

func TestRecommend(t *testing.T) {
	tests := map[string]struct {
		s      synth
		policy func(*sizing.Policy)
		cur    func(*sizing.Current)
		check  func(t *testing.T, r sizing.Recommendation)
		reason []string // substrings the reason must contain
	}{
		"a service with bounded cache gets room for its plateau and its RSS, at 80%": {
			s: bounded,
			check: func(t *testing.T, r sizing.Recommendation) {
				m := r.Model
				if !m.PlateauKnown || m.Plateau != 200*Mi {
					t.Errorf("plateau = %d known=%v, want 200Mi", m.Plateau, m.PlateauKnown)
				}
				if want := roundUp(int64(float64(m.RSSNeed+m.CacheHeadroom)/0.8+0.999), 16*Mi); r.Limit != want {
					t.Errorf("limit = %s, want %s", sizing.FormatBytes(r.Limit), sizing.FormatBytes(want))
				}
				if want := roundUp(m.RSSNeed, 16*Mi); r.Request != want {
					t.Errorf("request = %s, want the anon need rounded up, %s", sizing.FormatBytes(r.Request), sizing.FormatBytes(want))
				}
			},
			reason: []string{"Limit 1024Mi -> ", "levels off at 200Mi", "80% utilization"},
		},
		"a JVM with heap metrics gets -Xmx from heap use and a limit for the new heap, not the old one": {
			s: seedJVM,
			check: func(t *testing.T, r sizing.Recommendation) {
				m, o := r.Model, r.Observed
				if want := roundUp(o.HeapUsedPeakBytes*2, 16*Mi); r.Xmx != want {
					t.Errorf("xmx = %s, want 2 x heap-used peak rounded up = %s", sizing.FormatBytes(r.Xmx), sizing.FormatBytes(want))
				}
				if m.NonHeap < 175*Mi || m.NonHeap > 190*Mi {
					t.Errorf("non-heap = %s, want about 180Mi", sizing.FormatBytes(m.NonHeap))
				}
				if want := int64(float64(m.NonHeap+r.Xmx) * 1.15); m.RSSNeed < want-1 || m.RSSNeed > want+1 {
					t.Errorf("anon need = %d, want (non-heap + new xmx) x 1.15 = %d", m.RSSNeed, want)
				}
				if g := m.CacheGrowthPerHour; g < 95*Mi || g > 105*Mi || !o.LimitBound {
					t.Errorf("growth = %s/h limitBound=%v, want ~100Mi/h, limit-bound", sizing.FormatBytes(g), o.LimitBound)
				}
			},
			reason: []string{"-Xmx 2000m -> ", "RSS follows committed heap", "of growth at 100Mi/h", "the old limit capped the cache"},
		},
		"-Xmx stays when the policy does not allow lowering it": {
			s:      seedJVM,
			policy: func(p *sizing.Policy) { p.LowerXmx = false },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Xmx != 0 || r.Model.Xmx != 2000*Mi {
					t.Errorf("xmx = %d (model %d), want it left at 2000Mi", r.Xmx, r.Model.Xmx)
				}
				if r.Limit < r.Model.Xmx+r.Model.NonHeap {
					t.Errorf("limit %s does not hold -Xmx + non-heap", sizing.FormatBytes(r.Limit))
				}
			},
		},
		"a JVM without heap metrics keeps -Xmx and is sized around -Xmx + the non-heap RSS shows": {
			s: func() synth {
				s := seedJVM
				s.HeapMetric = false
				s.PodAgeH = 48
				s.Growth = 1
				s.Plateau = 100
				return s
			}(),
			check: func(t *testing.T, r sizing.Recommendation) {
				m := r.Model
				if r.Xmx != 0 || m.Xmx != 2000*Mi {
					t.Errorf("xmx = %d, model %d: want -Xmx kept", r.Xmx, m.Xmx)
				}
				if want := r.Observed.RSSPeakBytes - 2000*Mi; m.NonHeap != want {
					t.Errorf("non-heap = %d, want RSS peak - xmx = %d", m.NonHeap, want)
				}
				if r.Observed.NonHeapBytes != m.NonHeap {
					t.Errorf("observed non-heap %d, want the estimate %d", r.Observed.NonHeapBytes, m.NonHeap)
				}
			},
			reason: []string{"-Xmx 2000m + non-heap"},
		},
		"a JVM sized by percentage gets an explicit -Xmx when its heap is measured": {
			s:   seedJVM,
			cur: func(c *sizing.Current) { c.Xmx = 0 },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Xmx == 0 {
					t.Error("no -Xmx added")
				}
			},
			reason: []string{"added as heap use peaks at"},
		},
		"an OOM kill raises the anon need to 1.2x the limit the pod was killed at": {
			s: func() synth { s := bounded; s.OOMKills = 1; return s }(),
			check: func(t *testing.T, r sizing.Recommendation) {
				bump := 1.2
				if want := int64(bump * float64(1024*Mi)); r.Model.OOMBase < want-1 || r.Model.OOMBase > want+2 {
					t.Errorf("OOM base = %d, want 1.2 x 1024Mi = %d", r.Model.OOMBase, want)
				}
				if r.Model.RSSNeed < int64(bump*1.15*float64(1024*Mi))-1 {
					t.Errorf("anon need %d misses the margin on top of the bump", r.Model.RSSNeed)
				}
			},
			reason: []string{"bumped to 1229Mi after 1 OOM kill"},
		},
		"an OOM kill adds at least 100Mi": {
			s: func() synth { s := bounded; s.OOMKills = 2; s.Limit = 0; return s }(),
			check: func(t *testing.T, r sizing.Recommendation) {
				base := r.Model.ProjectedRSS
				if r.Model.OOMBase != base+100*Mi {
					t.Errorf("OOM base = %d, want projected %d + 100Mi", r.Model.OOMBase, base)
				}
			},
			reason: []string{"after 2 OOM kills"},
		},
		"within 10% of the current limit nothing changes": {
			s:   bounded,
			cur: func(c *sizing.Current) { c.Limit = 760 * Mi; c.Request = 384 * Mi },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Changed || r.Limit != 760*Mi || r.Request != 384*Mi {
					t.Errorf("changed=%v limit=%s request=%s, want unchanged", r.Changed, sizing.FormatBytes(r.Limit), sizing.FormatBytes(r.Request))
				}
			},
			reason: []string{"is within 10% of the current 760Mi; left unchanged"},
		},
		"a limit below the anon need changes however close it is": {
			s: bounded,
			cur: func(c *sizing.Current) {
				c.Limit = 352 * Mi // the anon need is ~360Mi: within 10%, but too small
				c.Request = 352 * Mi
			},
			check: func(t *testing.T, r sizing.Recommendation) {
				if !r.Changed || r.Limit < r.Model.RSSNeed {
					t.Errorf("changed=%v limit=%s, want a change to at least the anon need %s", r.Changed, sizing.FormatBytes(r.Limit), sizing.FormatBytes(r.Model.RSSNeed))
				}
			},
		},
		"a Guaranteed pod stays Guaranteed: request follows the limit": {
			s:   bounded,
			cur: func(c *sizing.Current) { c.Guaranteed = true; c.Request = c.Limit },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Request != r.Limit {
					t.Errorf("request %s != limit %s", sizing.FormatBytes(r.Request), sizing.FormatBytes(r.Limit))
				}
			},
		},
		"request: keep leaves the request alone": {
			s:      bounded,
			policy: func(p *sizing.Policy) { p.Request = sizing.RequestKeep },
			cur:    func(c *sizing.Current) { c.Request = 500 * Mi },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Request != 500*Mi {
					t.Errorf("request = %s, want 500Mi", sizing.FormatBytes(r.Request))
				}
			},
		},
		"request: keep still never leaves the request above the new limit": {
			s:      bounded,
			policy: func(p *sizing.Policy) { p.Request = sizing.RequestKeep },
			cur:    func(c *sizing.Current) { c.Request = 1024 * Mi },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Request != r.Limit {
					t.Errorf("request = %s, want the new limit %s", sizing.FormatBytes(r.Request), sizing.FormatBytes(r.Limit))
				}
			},
		},
		"request: limit sets request = limit": {
			s:      bounded,
			policy: func(p *sizing.Policy) { p.Request = sizing.RequestLimit },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Request != r.Limit {
					t.Errorf("request %s != limit %s", sizing.FormatBytes(r.Request), sizing.FormatBytes(r.Limit))
				}
			},
		},
		"a container without a limit gets only a request unless the policy adds limits": {
			s:   func() synth { s := bounded; s.Limit = 0; return s }(),
			cur: func(c *sizing.Current) { c.Request = 100 * Mi },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit != 0 || r.Request == 0 || !r.Changed {
					t.Errorf("limit=%d request=%d changed=%v, want no limit and a request", r.Limit, r.Request, r.Changed)
				}
			},
			reason: []string{"No memory limit is set and the policy adds none"},
		},
		"addMissingLimit gives a container without a limit one": {
			s:      func() synth { s := bounded; s.Limit = 0; return s }(),
			policy: func(p *sizing.Policy) { p.AddMissingLimit = true },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit == 0 || r.Limit != r.Model.Limit {
					t.Errorf("limit = %d, want the computed %d", r.Limit, r.Model.Limit)
				}
			},
			reason: []string{"Limit none -> "},
		},
		"the increase cap bites on cache headroom and the reason says the agent must help": {
			s: func() synth { s := bounded; s.Plateau = 3000; s.Growth = 200; s.Limit = 600; return s }(),
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit != 1200*Mi || r.Model.Clamp != sizing.ClampIncrease {
					t.Errorf("limit = %s clamp=%q, want 2 x 600Mi", sizing.FormatBytes(r.Limit), r.Model.Clamp)
				}
			},
			reason: []string{"capped at 2x the current limit", "agent"},
		},
		"the anon need overrides the increase cap": {
			s: func() synth { s := bounded; s.OOMKills = 3; s.Limit = 200; s.RSS = 300; return s }(),
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit < r.Model.RSSNeed || r.Model.Clamp != sizing.ClampAnonOverCap {
					t.Errorf("limit = %s (need %s), clamp %q", sizing.FormatBytes(r.Limit), sizing.FormatBytes(r.Model.RSSNeed), r.Model.Clamp)
				}
			},
			reason: []string{"because the anon need requires it"},
		},
		"a LimitRange maximum caps the cache headroom": {
			s:   bounded,
			cur: func(c *sizing.Current) { c.LimitRangeMax = 600 * Mi },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit != 592*Mi || r.Model.Clamp != sizing.ClampLimitRange {
					t.Errorf("limit = %s clamp=%q, want 592Mi (600Mi rounded down to the step)", sizing.FormatBytes(r.Limit), r.Model.Clamp)
				}
			},
			reason: []string{"capped at the LimitRange maximum"},
		},
		"a LimitRange maximum below the anon need leaves the pod alone": {
			s:   bounded,
			cur: func(c *sizing.Current) { c.LimitRangeMax = 256 * Mi },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Changed || r.Limit != 1024*Mi || r.Model.Clamp != sizing.ClampNoFit {
					t.Errorf("changed=%v limit=%s clamp=%q, want unchanged", r.Changed, sizing.FormatBytes(r.Limit), r.Model.Clamp)
				}
			},
			reason: []string{"but the LimitRange maximum is 256Mi; left unchanged"},
		},
		"the policy's maxLimit caps too": {
			s:      bounded,
			policy: func(p *sizing.Policy) { p.MaxLimit = sizing.Bytes(512 * Mi) },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit != 512*Mi || r.Model.Clamp != sizing.ClampMaxLimit {
					t.Errorf("limit = %s clamp=%q", sizing.FormatBytes(r.Limit), r.Model.Clamp)
				}
			},
			reason: []string{"capped at the policy's maxLimit 512Mi"},
		},
		"the horizon decides how much growth the limit holds": {
			s:      seedJVM,
			policy: func(p *sizing.Policy) { p.Horizon = sizing.Duration(2 * 3600e9) },
			check: func(t *testing.T, r sizing.Recommendation) {
				if r.Limit > 1200*Mi {
					t.Errorf("limit = %s with a 2h horizon, want about (anon + 2h of growth)/0.8", sizing.FormatBytes(r.Limit))
				}
			},
			reason: []string{"2h of growth at 100Mi/h"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			p := sizing.Default()
			if tt.policy != nil {
				tt.policy(&p)
			}
			cur := tt.s.current()
			cur.Request = cur.Limit
			if tt.cur != nil {
				tt.cur(&cur)
			}
			r, err := sizing.Recommend(p, tt.s.container(), cur)
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
			for _, want := range tt.reason {
				if !strings.Contains(r.Reason, want) {
					t.Errorf("reason %q\ndoes not contain %q", r.Reason, want)
				}
			}
			if strings.Count(r.Reason, ".") != 1 || !strings.HasSuffix(r.Reason, ".") || r.Reason[0] < 'A' || r.Reason[0] > 'Z' {
				t.Errorf("reason is not one sentence: %q", r.Reason)
			}
		})
	}
}

func TestRecommendInsufficientHistory(t *testing.T) {
	tests := map[string]struct {
		c      sizing.Container
		reason string
	}{
		"ten hours of history": {
			c:      func() synth { s := bounded; s.Hours = 10; return s }().container(),
			reason: "Insufficient history: 9h55m of the 24h needed; left unchanged.",
		},
		"no samples at all": {
			c:      sizing.Container{Name: "app"},
			reason: "Insufficient history: no samples in the window; left unchanged.",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cur := sizing.Current{Limit: 1024 * Mi, Request: 512 * Mi}
			r, err := sizing.Recommend(sizing.Default(), tt.c, cur)
			if !errors.Is(err, sizing.ErrInsufficientHistory) {
				t.Fatalf("err = %v, want ErrInsufficientHistory", err)
			}
			if r.Changed || r.Limit != cur.Limit || r.Request != cur.Request || r.Reason != tt.reason {
				t.Errorf("got %+v", r)
			}
		})
	}
}

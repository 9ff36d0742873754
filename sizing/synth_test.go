package sizing_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/headroom-dev/headroom/sizing"
)

const mi = float64(sizing.Mi)

// synth describes a container's history in a few numbers; container() turns it into series with
// the same kernel rules as the scenario generator (cache capped at the limit, RSS = committed heap +
// non-heap for a JVM). It is fast enough for property tests with hundreds of cases.
type synth struct {
	Seed       uint64
	Pods       int
	Hours      int     // history length
	StepMin    int     // sample step in minutes
	PodAgeH    float64 // age of the pods when history starts
	RSS        float64 // MiB, non-JVM
	Noise      float64 // relative RSS noise
	Initial    float64 // MiB of cache at start
	Growth     float64 // MiB/h
	Plateau    float64 // MiB; 0 = unbounded
	Active     float64 // MiB of active file
	Limit      float64 // MiB; 0 = none
	JVM        bool
	Xmx        float64 // MiB
	HeapUsed   float64 // MiB
	NonHeap    float64 // MiB
	HeapMetric bool
	OOMKills   int
}

func (s synth) String() string {
	type plain synth // no String method: no recursion
	return fmt.Sprintf("%+v", plain(s))
}

var t0 = time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC).UnixMilli()

func (s synth) container() sizing.Container {
	c := sizing.Container{Name: "app"}
	step := int64(s.StepMin) * 60_000
	n := int(int64(s.Hours) * 3_600_000 / step)
	for p := 0; p < s.Pods; p++ {
		rng := rand.New(rand.NewPCG(s.Seed, uint64(p)))
		start := t0 - int64(s.PodAgeH*3.6e6) + int64(p)*120_000
		pod := sizing.Pod{Name: fmt.Sprintf("app-%d", p), Start: start, OOMKills: 0}
		if p == 0 {
			pod.OOMKills = s.OOMKills
		}
		for i := 0; i < n; i++ {
			t := t0 + int64(i)*step + 7_000
			if t < start {
				continue
			}
			ageH := float64(t-start) / 3.6e6
			var rss, used, committed float64
			if s.JVM {
				committed = math.Min(s.Xmx, s.Xmx/16+(s.Xmx-s.Xmx/16)*ageH/8) * mi
				rss = committed + s.NonHeap*mi*(1+0.005*rng.NormFloat64())
				used = math.Min(committed, s.HeapUsed*mi*(0.45+0.55*rng.Float64()))
			} else {
				rss = s.RSS * mi * (1 + s.Noise*rng.NormFloat64())
			}
			rss = math.Max(math.Round(rss), 0)
			cache := (s.Initial + s.Growth*ageH) * mi
			if s.Plateau > 0 {
				cache = math.Min(cache, s.Plateau*mi)
			}
			limit := s.Limit * mi
			if limit > 0 {
				cache = math.Max(math.Min(cache, (limit-rss-2*mi)/1.04), 0)
			}
			cache = math.Round(cache)
			active := math.Min(s.Active*mi*math.Min(1, ageH*2), cache)
			kmem := math.Round(2*mi + 0.04*cache)
			pod.RSS = append(pod.RSS, sizing.Point{T: t, V: rss})
			pod.Cache = append(pod.Cache, sizing.Point{T: t, V: cache})
			pod.WorkingSet = append(pod.WorkingSet, sizing.Point{T: t, V: rss + active + kmem})
			pod.ActiveFile = append(pod.ActiveFile, sizing.Point{T: t, V: active})
			if limit > 0 {
				pod.Limit = append(pod.Limit, sizing.Point{T: t, V: limit})
			}
			if s.JVM && s.HeapMetric {
				pod.HeapUsed = append(pod.HeapUsed, sizing.Point{T: t, V: math.Round(used)})
				pod.HeapCommitted = append(pod.HeapCommitted, sizing.Point{T: t, V: math.Round(committed)})
			}
		}
		c.Pods = append(c.Pods, pod)
	}
	return c
}

func (s synth) current() sizing.Current {
	cur := sizing.Current{Limit: int64(s.Limit * mi), JVM: s.JVM}
	if s.JVM {
		cur.Xmx = int64(s.Xmx * mi)
	}
	return cur
}

// randomSynth draws a case from the whole space the model has to handle: JVM or not, bounded or
// unbounded cache, with or without a limit that caps it, young or old pods.
func randomSynth(r *rand.Rand) synth {
	s := synth{
		Seed:    r.Uint64(),
		Pods:    1 + r.IntN(4),
		Hours:   26 + r.IntN(150),
		StepMin: []int{1, 2, 5, 10, 15}[r.IntN(5)],
		PodAgeH: []float64{0, 0, 3, 30, 200}[r.IntN(5)],
		RSS:     50 + r.Float64()*2000,
		Noise:   r.Float64() * 0.05,
		Initial: r.Float64() * 100,
		Growth:  []float64{0, 1, 10, 100, 400}[r.IntN(5)] * r.Float64(),
	}
	if r.IntN(2) == 0 {
		s.Plateau = s.Initial + r.Float64()*2000
	}
	if r.IntN(3) == 0 {
		s.Active = r.Float64() * 1000
	}
	if r.IntN(4) == 0 {
		s.JVM = true
		s.Xmx = 256 + r.Float64()*4000
		s.HeapUsed = s.Xmx * (0.05 + 0.9*r.Float64())
		s.NonHeap = 60 + r.Float64()*400
		s.HeapMetric = r.IntN(3) > 0
	}
	if r.IntN(3) > 0 {
		anon := s.RSS
		if s.JVM {
			anon = s.Xmx + s.NonHeap
		}
		s.Limit = anon*1.1 + r.Float64()*3000
	}
	if r.IntN(8) == 0 {
		s.OOMKills = 1 + r.IntN(3)
	}
	return s
}

// visible says what the history shows: whether cache growth is seen (the noiseless curve never
// comes near the limit, or grows uncensored for at least two hours of the window) and whether a
// plateau is seen (flat and uncensored for six hours). It is ambiguous when RSS noise or a growing
// heap leaves the plateau uncensored for less than that: whether the model sees it is then a
// matter of timing. Where the limit hides these facts the model can only report the level it saw.
type visibility struct{ growth, plateau, ambiguous bool }

func (s synth) visible() visibility {
	end := s.PodAgeH + float64(s.Hours)
	// scan returns when cache reaches its plateau, and when usage first nears the limit with anon
	// at the given noise level (+Inf when never).
	scan := func(sigmas float64) (tPlateau, tCap float64) {
		tPlateau, tCap = math.Inf(1), math.Inf(1)
		for age := s.PodAgeH; age <= end; age += 1.0 / 60 {
			anon := s.RSS * (1 + sigmas*s.Noise)
			if s.JVM {
				anon = math.Min(s.Xmx, s.Xmx/16+(s.Xmx-s.Xmx/16)*age/8) + s.NonHeap*(1+0.005*sigmas)
			}
			cache := s.Initial + s.Growth*age
			if s.Plateau > 0 && cache >= s.Plateau {
				cache = s.Plateau
				tPlateau = math.Min(tPlateau, age)
			}
			if s.Limit > 0 && anon+cache*1.04+2 >= 0.96*s.Limit {
				return tPlateau, age
			}
		}
		return tPlateau, tCap
	}
	pHigh, capHigh := scan(4)
	pNom, capNom := scan(0)
	v := visibility{
		growth:  math.Min(pHigh, capHigh)-s.PodAgeH >= 2 || math.IsInf(capHigh, 1),
		plateau: math.Min(capHigh, end)-pHigh >= 6,
	}
	v.ambiguous = !v.plateau && math.Min(capNom, end)-pNom > 0
	// The limit also caps the active file set (active file is part of the cache).
	anon := s.RSS * (1 + 4*s.Noise)
	if s.JVM {
		anon = s.Xmx + s.NonHeap*1.02
	}
	if s.Active > 0 && s.Limit > 0 && anon+s.Active*1.04+2 >= 0.96*s.Limit {
		v.growth = false
	}
	return v
}

// comparable says whether two variants show the same facts, growth included, so that a
// monotonicity property applies to them.
func comparable(a, b synth) bool {
	va, vb := a.visible(), b.visible()
	return va.growth && vb.growth && va.plateau == vb.plateau && !va.ambiguous && !vb.ambiguous
}

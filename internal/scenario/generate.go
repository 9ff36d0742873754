package scenario

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SampleOffset is how far after each interval boundary samples lie, so that no sample sits on a
// query-step boundary (Prometheus 2 range selectors are closed at the left end, Prometheus 3's open).
const SampleOffset = 7 * time.Second

// Kernel model constants (FACTS.md A.1): memory charged for the cache itself, and a small base.
const (
	kernelPerCache = 0.04
	kernelBase     = 2 << 20
	mi             = 1 << 20
)

// WriteFile writes the specs' history as OpenMetrics to path.
func WriteFile(path string, specs ...*Spec) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := Write(f, specs...); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write simulates the specs and writes their history as OpenMetrics text with timestamps, ending in
// "# EOF": what `promtool tsdb create-blocks-from openmetrics` reads and history's file source reads.
// Output is deterministic: the same specs give the same bytes.
func Write(w io.Writer, specs ...*Spec) error {
	st := &store{series: map[string]*series{}}
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
		for i := range s.Workloads {
			simulateWorkload(st, s, i)
		}
	}
	return st.write(w)
}

// series is one output series on the grid of its spec.
type series struct {
	family, name, labels string
	base, dt             int64 // ms of grid index 0, and the interval
	first                int
	vals                 []float64 // NaN: no sample
}

type store struct {
	series map[string]*series
}

func (st *store) get(family, name, labels string, base, dt int64) *series {
	key := name + "{" + labels
	s := st.series[key]
	if s == nil {
		s = &series{family: family, name: name, labels: labels, base: base, dt: dt}
		st.series[key] = s
	}
	return s
}

// set stores v at grid index i (replacing what was there); add sums into it.
func (s *series) set(i int, v float64) { *s.slot(i) = v }
func (s *series) add(i int, v float64) {
	p := s.slot(i)
	if math.IsNaN(*p) {
		*p = 0
	}
	*p += v
}

func (s *series) slot(i int) *float64 {
	if len(s.vals) == 0 {
		s.first = i
	}
	if i < s.first {
		grow := make([]float64, s.first-i, s.first-i+len(s.vals))
		for k := range grow {
			grow[k] = math.NaN()
		}
		s.vals = append(grow, s.vals...)
		s.first = i
	}
	for i-s.first >= len(s.vals) {
		s.vals = append(s.vals, math.NaN())
	}
	return &s.vals[i-s.first]
}

// families in output order, with their OpenMetrics types.
var familyTypes = map[string]string{"container_oom_events": "counter"}

func (st *store) write(w io.Writer) error {
	byFamily := map[string][]*series{}
	for _, s := range st.series {
		byFamily[s.family] = append(byFamily[s.family], s)
	}
	families := make([]string, 0, len(byFamily))
	for f := range byFamily {
		families = append(families, f)
	}
	sort.Strings(families)
	bw := bufio.NewWriterSize(w, 1<<20)
	var line []byte
	for _, f := range families {
		typ := familyTypes[f]
		if typ == "" {
			typ = "gauge"
		}
		fmt.Fprintf(bw, "# TYPE %s %s\n", f, typ)
		ss := byFamily[f]
		sort.Slice(ss, func(a, b int) bool { return ss[a].name+"{"+ss[a].labels < ss[b].name+"{"+ss[b].labels })
		for _, s := range ss {
			for k, v := range s.vals {
				if math.IsNaN(v) {
					continue
				}
				ts := s.base + int64(s.first+k)*s.dt
				line = append(line[:0], s.name...)
				line = append(line, '{')
				line = append(line, s.labels...)
				line = append(line, "} "...)
				line = strconv.AppendFloat(line, v, 'f', -1, 64)
				line = append(line, ' ')
				line = strconv.AppendInt(line, ts/1000, 10)
				if ms := ts % 1000; ms != 0 {
					line = append(line, '.')
					line = append(line, fmt.Sprintf("%03d", ms)...)
				}
				line = append(line, '\n')
				if _, err := bw.Write(line); err != nil {
					return fmt.Errorf("write openmetrics: %w", err)
				}
			}
		}
	}
	if _, err := bw.WriteString("# EOF\n"); err != nil {
		return fmt.Errorf("write openmetrics: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write openmetrics: %w", err)
	}
	return nil
}

// labels renders name="value" pairs in the given order.
func labels(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		v := kv[i+1]
		if strings.ContainsAny(v, "\\\"\n") {
			v = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
		}
		b.WriteString(v)
		b.WriteByte('"')
	}
	return b.String()
}

// hash64 mixes strings and numbers into a seed.
func hash64(parts ...any) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		fmt.Fprint(h, p, "\x00")
	}
	return h.Sum64()
}

// unit returns a deterministic number in [0, 1) for the key (splitmix64).
func unit(key uint64) float64 {
	z := key + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789" // Kubernetes' SafeEncodeString alphabet

func randName(key uint64, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = nameAlphabet[int(unit(key+uint64(i)*7919)*float64(len(nameAlphabet)))]
	}
	return string(b)
}

// pod is one pod incarnation.
type pod struct {
	name, owner, ownerKind, rs string
	slot                       int
	start, end                 int64 // ms
}

// pods lays out the pod incarnations of a workload: generation 0 from the window start (or PodAge
// before it), then one generation per rollout, replicas replaced two minutes apart.
func pods(s *Spec, w *Workload) []pod {
	start, end := s.Start().UnixMilli(), s.End.UnixMilli()
	hist := s.History.D()
	var times []int64
	for _, r := range w.Rollouts {
		if r > 0 && r.D() < hist {
			times = append(times, start+r.D().Milliseconds())
		}
	}
	if e := w.RolloutEvery.D(); e > 0 {
		for t := e; t < hist; t += e {
			times = append(times, start+t.Milliseconds())
		}
	}
	slices.Sort(times)
	times = slices.Compact(times)
	gens := append([]int64{start - w.PodAge.D().Milliseconds()}, times...)
	stagger := (2 * time.Minute).Milliseconds()
	var out []pod
	for g, gs := range gens {
		key := hash64(s.Seed, w.Namespace, w.Name, g)
		rs := w.Name + "-" + randName(key, 10)
		for r := 0; r < w.Replicas; r++ {
			p := pod{slot: r, start: gs + int64(r)*stagger, end: end}
			if g+1 < len(gens) {
				p.end = min(gens[g+1]+int64(r)*stagger, end)
			}
			if p.start >= end || p.end <= start {
				continue
			}
			switch w.Kind {
			case "Deployment":
				p.name = rs + "-" + randName(hash64(key, r), 5)
				p.ownerKind, p.owner, p.rs = "ReplicaSet", rs, rs
			case "StatefulSet":
				p.name = fmt.Sprintf("%s-%d", w.Name, r)
				p.ownerKind, p.owner = "StatefulSet", w.Name
			case "DaemonSet":
				p.name = w.Name + "-" + randName(hash64(key, r), 5)
				p.ownerKind, p.owner = "DaemonSet", w.Name
			}
			out = append(out, p)
		}
	}
	return out
}

func simulateWorkload(st *store, s *Spec, wi int) {
	w := &s.Workloads[wi]
	dt := s.Interval.D().Milliseconds()
	base := s.Start().UnixMilli() + SampleOffset.Milliseconds()
	end := s.End.UnixMilli()
	ns := w.Namespace
	for _, p := range pods(s, w) {
		i0 := ceilDiv(p.start-base, dt)
		i1 := ceilDiv(min(p.end, end)-base, dt) // exclusive
		startS := st.get("kube_pod_start_time", "kube_pod_start_time", labels("namespace", ns, "pod", p.name), base, dt)
		var ownerS, rsS *series
		if !s.NoOwners {
			ownerS = st.get("kube_pod_owner", "kube_pod_owner", labels("namespace", ns, "pod", p.name, "owner_kind", p.ownerKind,
				"owner_name", p.owner, "owner_is_controller", "true"), base, dt)
			if p.rs != "" {
				rsS = st.get("kube_replicaset_owner", "kube_replicaset_owner", labels("namespace", ns, "replicaset", p.rs,
					"owner_kind", "Deployment", "owner_name", w.Name, "owner_is_controller", "true"), base, dt)
			}
		}
		for i := max(i0, 0); i < i1; i++ {
			startS.set(i, float64(p.start/1000))
			if ownerS != nil {
				ownerS.set(i, 1)
			}
			if rsS != nil {
				rsS.set(i, 1)
			}
		}
		for ci := range w.Containers {
			simulateContainer(st, s, w, &w.Containers[ci], p, i0, i1, base, dt)
		}
	}
}

// simulateContainer runs the kernel and JVM model for one container of one pod over grid indexes
// [i0, i1) and records the samples inside the window (index >= 0).
func simulateContainer(st *store, s *Spec, w *Workload, c *Container, p pod, i0, i1 int, base, dt int64) {
	ns := w.Namespace
	rng := rand.New(rand.NewPCG(s.Seed, hash64(ns, w.Name, p.name, p.start, c.Name)))
	cl := labels("namespace", ns, "pod", p.name, "container", c.Name)
	get := func(name string) *series { return st.get(name, name, cl, base, dt) }
	rssS, cacheS, wsS := get("container_memory_rss"), get("container_memory_cache"), get("container_memory_working_set_bytes")
	var activeS *series
	if !c.NoActiveFileMetric {
		activeS = get("container_memory_total_active_file_bytes")
	}
	oomS := st.get("container_oom_events", "container_oom_events_total", cl, base, dt)
	podRSS := st.get("container_memory_rss", "container_memory_rss", labels("namespace", ns, "pod", p.name, "container", ""), base, dt)
	var limitS, cpuS, termS *series
	if c.Limit > 0 {
		limitS = st.get("kube_pod_container_resource_limits", "kube_pod_container_resource_limits",
			labels("namespace", ns, "pod", p.name, "container", c.Name, "resource", "memory", "unit", "byte"), base, dt)
		cpuS = st.get("kube_pod_container_resource_limits", "kube_pod_container_resource_limits",
			labels("namespace", ns, "pod", p.name, "container", c.Name, "resource", "cpu", "unit", "core"), base, dt)
	}
	var jvmS *jvmSeries
	if c.JVM != nil && c.JVM.Metrics != "none" {
		jvmS = newJVMSeries(st, c, ns, p.name, base, dt)
	}
	noise := 0.02
	if c.RSSNoise != nil {
		noise = *c.RSSNoise
	}
	limit := float64(c.Limit)
	hour := float64(time.Hour.Milliseconds())
	cstart := p.start // container start: the pod's, then each restart's
	cache := -1.0
	terminatedOOM := false
	start := s.Start().UnixMilli()
	burstKey := hash64(s.Seed, ns, w.Name, p.slot, c.Name)
	for i := i0; i < i1; i++ {
		t := base + int64(i)*dt
		age := float64(t - cstart)
		// Anonymous memory.
		var rss, used, committed float64
		if j := c.JVM; j != nil {
			x := float64(j.Xmx)
			initial := x / 16
			committed = min(x, initial+(x-initial)*age/float64(j.CommitRamp.D().Milliseconds()))
			warm := 0.7 + 0.3*min(1, age/float64(30*time.Minute.Milliseconds()))
			rss = committed + float64(j.NonHeap)*warm*(1+0.005*rng.NormFloat64())
			used = min(committed, float64(j.HeapUsed)*(0.45+0.55*rng.Float64()))
		} else {
			rss = float64(c.RSS) * (1 + noise*rng.NormFloat64())
		}
		rss += burst(c.Bursts, burstKey, p.slot, t, start)
		rss = max(math.Round(rss), 0)
		// Page cache: grows by the workload's rate up to its plateau; the kernel caps it at the limit
		// (FACTS A.1) so that rss + cache + kernel memory never exceeds the limit.
		if cache < 0 {
			cache = float64(c.Cache.Initial)
		} else {
			cache += float64(c.Cache.GrowthPerHour) * float64(dt) / hour
		}
		if c.Cache.Plateau > 0 {
			cache = min(cache, float64(c.Cache.Plateau))
		}
		oom := limit > 0 && rss+kernelBase >= limit
		if limit > 0 {
			room := (limit - rss - kernelBase) / (1 + kernelPerCache)
			cache = max(min(cache, room), 0)
		}
		active := min(float64(c.ActiveFile)*min(1, age/float64(30*time.Minute.Milliseconds())), cache)
		if oom {
			// The last scrape before the kill: cache already reclaimed, anon at the limit (FACTS A.3).
			rss, cache, active = math.Round(limit-kernelBase), 0, 0
		}
		cache, active = math.Round(cache), math.Round(active)
		kmem := math.Round(kernelBase + kernelPerCache*cache)
		if i >= 0 {
			rssS.set(i, rss)
			podRSS.add(i, rss)
			cacheS.set(i, cache)
			wsS.set(i, rss+active+kmem)
			if activeS != nil {
				activeS.set(i, active)
			}
			oomS.set(i, b2f(oom))
			if limitS != nil {
				limitS.set(i, limit)
				cpuS.set(i, 1)
			}
			if terminatedOOM {
				if termS == nil {
					termS = st.get("kube_pod_container_status_last_terminated_reason", "kube_pod_container_status_last_terminated_reason",
						labels("namespace", ns, "pod", p.name, "container", c.Name, "reason", "OOMKilled"), base, dt)
				}
				termS.set(i, 1)
			}
			if jvmS != nil {
				jvmS.record(c, i, used, committed)
			}
		}
		if oom {
			// The container restarts in a new cgroup: fresh cache, fresh heap.
			terminatedOOM = true
			cstart = t + 10_000
			cache = -1
		}
	}
}

// ceilDiv divides rounding toward +infinity (b > 0).
func ceilDiv(a, b int64) int {
	q := a / b
	if a%b > 0 {
		q++
	}
	return int(q)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// burst returns the extra anon memory at time t.
func burst(b *Bursts, key uint64, slot int, t, start int64) float64 {
	if b == nil {
		return 0
	}
	var extra float64
	if e := b.Every.D().Milliseconds(); e > 0 {
		q := (t - start) / e
		if t < start {
			q--
		}
		off := int64(unit(key^uint64(q)*2654435761) * float64(e/2))
		if d := t - (start + q*e + off); d >= 0 && d < b.Length.D().Milliseconds() {
			extra += float64(b.Size) * (0.5 + 0.5*unit(key^uint64(q)*40503+1))
		}
	}
	for _, f := range b.At {
		if f.Pod != slot {
			continue
		}
		at := start + f.At.D().Milliseconds()
		length := f.Length.D().Milliseconds()
		if length == 0 {
			length = (10 * time.Minute).Milliseconds()
		}
		if t >= at && t < at+length {
			extra += float64(f.Size)
		}
	}
	return extra
}

// jvmSeries records heap metrics: Micrometer splits them by pool (id); the JMX exporter does not
// and, scraped through a Service, often has no container label.
type jvmSeries struct {
	usedOld, usedEden, usedNonheap, comOld, comEden, comNonheap *series // micrometer
	used, committed, nonheapUsed, nonheapCom                    *series // jmx
}

func newJVMSeries(st *store, c *Container, ns, pod string, base, dt int64) *jvmSeries {
	j := &jvmSeries{}
	if c.JVM.Metrics == "micrometer" {
		get := func(name, area, id string) *series {
			return st.get(name, name, labels("namespace", ns, "pod", pod, "container", c.Name, "area", area, "id", id), base, dt)
		}
		j.usedOld, j.usedEden = get("jvm_memory_used_bytes", "heap", "G1 Old Gen"), get("jvm_memory_used_bytes", "heap", "G1 Eden Space")
		j.usedNonheap = get("jvm_memory_used_bytes", "nonheap", "Metaspace")
		j.comOld, j.comEden = get("jvm_memory_committed_bytes", "heap", "G1 Old Gen"), get("jvm_memory_committed_bytes", "heap", "G1 Eden Space")
		j.comNonheap = get("jvm_memory_committed_bytes", "nonheap", "Metaspace")
		return j
	}
	get := func(name, area string) *series {
		return st.get(name, name, labels("namespace", ns, "pod", pod, "area", area), base, dt)
	}
	j.used, j.nonheapUsed = get("jvm_memory_bytes_used", "heap"), get("jvm_memory_bytes_used", "nonheap")
	j.committed, j.nonheapCom = get("jvm_memory_bytes_committed", "heap"), get("jvm_memory_bytes_committed", "nonheap")
	return j
}

func (j *jvmSeries) record(c *Container, i int, used, committed float64) {
	used, committed = math.Round(used), math.Round(committed)
	live := math.Round(min(used, float64(c.JVM.HeapUsed)*0.45))
	oldC := math.Round(committed * 0.6)
	nonheap := math.Round(float64(c.JVM.NonHeap) * 0.3)
	if j.used == nil {
		j.usedOld.set(i, live)
		j.usedEden.set(i, used-live)
		j.usedNonheap.set(i, nonheap)
		j.comOld.set(i, oldC)
		j.comEden.set(i, committed-oldC)
		j.comNonheap.set(i, nonheap)
		return
	}
	j.used.set(i, used)
	j.nonheapUsed.set(i, nonheap)
	j.committed.set(i, committed)
	j.nonheapCom.set(i, nonheap)
}

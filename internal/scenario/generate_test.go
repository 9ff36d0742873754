package scenario_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/sizing"
)

const mi = float64(sizing.Mi)

func load(t testing.TB, name string) *scenario.Spec {
	t.Helper()
	s, err := scenario.Load(filepath.Join("..", "..", "testdata", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryCommittedScenarioLoads(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/scenarios/*.yaml")
	if len(paths) < 6 {
		t.Fatalf("%d scenarios, want the library of at least 6", len(paths))
	}
	for _, p := range paths {
		s, err := scenario.Load(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if s.Name+".yaml" != filepath.Base(p) || s.Description == "" {
			t.Errorf("%s: name %q must match the file and have a description", p, s.Name)
		}
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	s := load(t, "seed-jvm-logs")
	sum := func() [32]byte {
		h := sha256.New()
		if err := scenario.Write(h, s); err != nil {
			t.Fatal(err)
		}
		var out [32]byte
		copy(out[:], h.Sum(nil))
		return out
	}
	if sum() != sum() {
		t.Error("the same spec gave different bytes")
	}
	other := *s
	other.Seed++
	h := sha256.New()
	_ = scenario.Write(h, &other)
	var b [32]byte
	copy(b[:], h.Sum(nil))
	if b == sum() {
		t.Error("the seed changed nothing")
	}
}

func TestSpecValidation(t *testing.T) {
	for name, spec := range map[string]string{
		"an unknown key":           "name: x\nend: 2026-11-20T00:00:00Z\nhistory: 1d\nnamespace: a\nworkloads: [{name: w, containers: [{name: c}]}]\ncolour: red\n",
		"no end":                   "name: x\nhistory: 1d\n",
		"an unsupported kind":      "name: x\nend: 2026-11-20T00:00:00Z\nhistory: 1d\nnamespace: a\nworkloads: [{name: w, kind: Job, containers: [{name: c}]}]\n",
		"a JVM without -Xmx":       "name: x\nend: 2026-11-20T00:00:00Z\nhistory: 1d\nnamespace: a\nworkloads: [{name: w, containers: [{name: c, jvm: {heapUsed: 1Mi}}]}]\n",
		"a workload without names": "name: x\nend: 2026-11-20T00:00:00Z\nhistory: 1d\nworkloads: [{containers: [{name: c}]}]\n",
	} {
		if _, err := scenario.Decode(strings.NewReader(spec)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// samples reads a generated scenario back at its own interval: one sample per step.
func samples(t *testing.T, s *scenario.Spec) *history.Namespace {
	t.Helper()
	var buf bytes.Buffer
	if err := scenario.Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	f, err := history.ReadFile(&buf, history.FileOptions{})
	if err != nil {
		t.Fatalf("history cannot read the generator's output: %v", err)
	}
	w, err := history.NewWindow(s.End, s.History.D(), s.Interval.D())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := f.Load(context.Background(), s.Namespace, w)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func valueAt(s sizing.Series, t int64) (float64, bool) {
	for _, p := range s {
		if p.T == t {
			return p.V, true
		}
	}
	return 0, false
}

func TestTheKernelModel(t *testing.T) {
	s := load(t, "seed-jvm-logs")
	ns := samples(t, s)
	if len(ns.Workloads) != 1 || ns.Workloads[0].Key != (history.WorkloadKey{Namespace: "shop", Kind: "Deployment", Name: "orders"}) {
		t.Fatalf("workloads = %+v", ns.Workloads)
	}
	c := ns.Workloads[0].Containers[0]
	if len(c.Pods) != 6 {
		t.Errorf("%d pods, want 2 replicas x 3 generations", len(c.Pods))
	}
	pinned := 0
	for _, p := range c.Pods {
		for i, r := range p.RSS {
			cache, _ := valueAt(p.Cache, r.T)
			ws, _ := valueAt(p.WorkingSet, r.T)
			limit, _ := valueAt(p.Limit, r.T)
			committed, _ := valueAt(p.HeapCommitted, r.T)
			used, _ := valueAt(p.HeapUsed, r.T)
			usage := ws + cache // working set + inactive file (no active file here)
			// Usage never exceeds the limit, and once cache has filled the room it stays pinned there (FACTS A.1).
			if usage > limit+1 {
				t.Fatalf("%s sample %d: usage %.0f > limit %.0f", p.Name, i, usage, limit)
			}
			if usage >= limit-2 {
				pinned++
			}
			// RSS is committed heap + non-heap; committed heap climbs toward -Xmx; used stays low (FACTS C.2).
			if nonHeap := r.V - committed; nonHeap < 120*mi || nonHeap > 190*mi {
				t.Fatalf("%s sample %d: rss - committed = %.0fMi", p.Name, i, nonHeap/mi)
			}
			if committed > 2000*mi || used > committed || used > 160e6 {
				t.Fatalf("%s sample %d: committed %.0f used %.0f", p.Name, i, committed, used)
			}
		}
	}
	if pinned < len(c.Pods)*100 {
		t.Errorf("only %d samples pinned at the limit; the logs should fill it within hours", pinned)
	}
}

func TestOOMKillRestartsTheContainer(t *testing.T) {
	ns := samples(t, load(t, "bursty-oom"))
	kills, drops := 0, 0
	for _, p := range ns.Workloads[0].Containers[0].Pods {
		kills += p.OOMKills
		for i := 1; i < len(p.Cache); i++ {
			if p.Cache[i].V < p.Cache[i-1].V/2 {
				drops++ // a new cgroup starts with fresh cache
			}
		}
	}
	if kills != 1 || drops != 1 {
		t.Errorf("%d OOM kills and %d cache resets, want 1 and 1", kills, drops)
	}
}

func TestActiveFileAndIdentityWithoutOwners(t *testing.T) {
	ns := samples(t, load(t, "read-heavy-active-file"))
	p := ns.Workloads[0].Containers[0].Pods[0]
	if peak := maxOf(p.ActiveFile); peak != 1200*mi {
		t.Errorf("active file peak %.0fMi, want 1200Mi", peak/mi)
	}
	ns = samples(t, load(t, "rolling-restarts"))
	if len(ns.Workloads) != 1 || ns.Workloads[0].Key.Name != "frontend" || len(ns.Workloads[0].Containers[0].Pods) != 30 {
		t.Errorf("pod names do not identify the Deployment: %+v", ns.Workloads[0].Key)
	}
}

func maxOf(s sizing.Series) float64 {
	var m float64
	for _, p := range s {
		m = max(m, p.V)
	}
	return m
}

func TestManifestsCarryTheCurrentResourcesAndHeap(t *testing.T) {
	s := load(t, "seed-jvm-logs")
	var buf bytes.Buffer
	if err := scenario.WriteManifests(&buf, s); err != nil {
		t.Fatal(err)
	}
	ws, err := manifest.Decode(&buf, "seed")
	if err != nil || len(ws) != 1 {
		t.Fatalf("decode: %v, %d workloads", err, len(ws))
	}
	cur, ok := manifest.Current(ws[0].PodSpec, "app")
	if !ok || !cur.JVM || cur.Xmx != 2000*sizing.Mi || cur.Limit != 3000*sizing.Mi {
		t.Errorf("current = %+v", cur)
	}
}

// BenchmarkWrite measures the generator on the seed case (7 days at 2m, 166k samples, ~21 MB).
func BenchmarkWrite(b *testing.B) {
	s := load(b, "seed-jvm-logs")
	for b.Loop() {
		if err := scenario.Write(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}

package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/reclaim"
)

const node = "node-a"

// loop is an Agent over a fake v2 tree, a fake client and a fake clock.
type loop struct {
	*Agent
	root   string
	kernel *fakeKernel
	events *recorder
	clock  time.Time
}

func newLoop(t *testing.T, cfg Config, objs ...client.Object) *loop {
	t.Helper()
	return newLoopOn(t, "v2", cfg, objs...)
}

// newLoopOn is newLoop on a fake tree of the given cgroup version. On v1 the procfs has none of the
// pods' processes (an agent without hostPID), so fadvise finds nothing to drop.
func newLoopOn(t *testing.T, version string, cfg Config, objs ...client.Object) *loop {
	t.Helper()
	l := &loop{root: t.TempDir(), events: &recorder{}, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.kernel = &fakeKernel{t: t}
	cfg.NodeName = node
	var m Memcg = V2{Dir: l.root, Proc: fakeProc(t, false), write: l.kernel.write}
	if version == "v1" {
		m = V1{Dir: l.root, Proc: fakeProc(t, false)}
	}
	a, err := New(cfg, fake.NewClientBuilder().WithObjects(objs...).Build(), l.events, m, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return l.clock }
	l.Agent = a
	return l
}

func (l *loop) pass(t *testing.T) []Outcome {
	t.Helper()
	outs, err := l.Pass(context.Background())
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	return outs
}

// summary reduces outcomes to "<pod>/<container> <result>" for comparison.
func summary(outs []Outcome) []string {
	var s []string
	for _, o := range outs {
		s = append(s, o.Pod.Name+"/"+o.Container+" "+o.Result)
	}
	return s
}

var (
	// 1000 MiB limit: threshold 750, target 600.
	overLimit  = reclaim.Stats{Usage: 950 * mi, Limit: 1000 * mi, Anon: 250 * mi, File: 690 * mi, InactiveFile: 680 * mi, ActiveFile: 10 * mi}
	underLimit = reclaim.Stats{Usage: 500 * mi, Limit: 1000 * mi, Anon: 250 * mi, File: 240 * mi, InactiveFile: 240 * mi}
	anonBound  = reclaim.Stats{Usage: 950 * mi, Limit: 1000 * mi, Anon: 900 * mi, File: 40 * mi, InactiveFile: 40 * mi}
	noLimit    = reclaim.Stats{Usage: 9000 * mi, Anon: 250 * mi, File: 8700 * mi, InactiveFile: 8700 * mi}
)

func TestPassReclaimsOnlyWhatItShould(t *testing.T) {
	pods := []client.Object{
		namespace("default", nil),
		namespace("quiet", map[string]string{mode.Key: "off"}),
		namespace("watch", map[string]string{mode.Key: "dry-run"}),
		makePod("default", "logger", podUIDFor(1), node).container("app", hexID(1)).container("shipper", hexID(2)).obj(),
		makePod("default", "calm", podUIDFor(2), node).container("app", hexID(3)).obj(),
		makePod("default", "unbounded", podUIDFor(3), node).container("app", hexID(4)).obj(),
		makePod("default", "heap-heavy", podUIDFor(4), node).container("app", hexID(5)).obj(),
		makePod("default", "opted-out", podUIDFor(5), node).container("app", hexID(6)).annotate(mode.Key, "off").obj(),
		makePod("quiet", "in-off-namespace", podUIDFor(6), node).container("app", hexID(7)).obj(),
		makePod("watch", "in-dry-run-namespace", podUIDFor(7), node).container("app", hexID(8)).obj(),
		makePod("default", "elsewhere", podUIDFor(8), "node-b").container("app", hexID(9)).obj(),
		makePod("default", "finished", podUIDFor(9), node).container("app", hexID(10)).phase(corev1.PodSucceeded).obj(),
	}
	l := newLoop(t, DefaultConfig(), pods...)
	stats := map[int]reclaim.Stats{1: overLimit, 2: underLimit, 3: underLimit, 4: noLimit, 5: anonBound, 6: overLimit, 7: overLimit, 8: overLimit, 9: overLimit, 10: overLimit}
	podOf := map[int]int{1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 7, 9: 8, 10: 9}
	for c, s := range stats {
		writeV2(t, containerDir(l.root, podUIDFor(podOf[c]), hexID(c)), s)
	}
	before := snapshot()

	outs := l.pass(t)

	if diff := cmp.Diff([]string{"logger/app success", "in-dry-run-namespace/app dry-run"}, summary(outs)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{hexID(1) + " 367001600 swappiness=0"}, l.kernel.Writes()); diff != "" {
		t.Errorf("memory.reclaim writes (-want +got):\n%s", diff)
	}
	o := outs[0]
	if o.Method != MethodReclaim || o.After.Usage != 600*mi || o.After.Anon != o.Before.Anon {
		t.Errorf("logger/app: method %s, usage after %s (want 600MiB = target), anon %s -> %s", o.Method, reclaim.MiB(o.After.Usage), reclaim.MiB(o.Before.Anon), reclaim.MiB(o.After.Anon))
	}

	events := l.events.Events()
	if len(events) != 2 {
		t.Fatalf("events = %q, want one reclaim and one dry-run", events)
	}
	inDuration := regexp.MustCompile(` in [0-9.]+[µnm]?s `)
	for i, want := range []string{
		"default/logger Normal PageCacheReclaimed container app: reclaimed 350.0MiB of page cache with memory.reclaim in 0s (success); " +
			"usage 950.0MiB -> 600.0MiB (95.0% -> 60.0% of limit 1000.0MiB), working set 270.0MiB -> 270.0MiB, cache 690.0MiB -> 340.0MiB (active 10.0MiB -> 10.0MiB), rss 250.0MiB -> 250.0MiB; " +
			"usage over the 75% threshold (usage 95.0%, working set 27.0% of 1000.0MiB): reclaim 350.0MiB of page cache to reach 60%",
		"watch/in-dry-run-namespace Normal PageCacheReclaimDryRun container app (dry-run, nothing changed): would reclaim page cache",
	} {
		if got := inDuration.ReplaceAllString(events[i], " in 0s "); !strings.HasPrefix(got, want) {
			t.Errorf("event %d = %q\nwant prefix %q", i, events[i], want)
		}
	}

	after := snapshot()
	if diff := cmp.Diff(metricValues{
		`reclaims{memory.reclaim,success}`: 1,
		`reclaimed_bytes`:                  350 * float64(mi),
		`skipped{dry-run}`:                 1,
		`skipped{not-cache}`:               1,
	}, after.sub(before)); diff != "" {
		t.Errorf("metric deltas (-want +got):\n%s", diff)
	}
}

// A read-heavy pod over the threshold on usage alone keeps its hot (active) cache; a log writer's few
// active pages may go with its log cache. v2 asks memory.reclaim for the inactive list only; v1,
// whose fadvise sees no process without hostPID, may use force_empty for the log writer only and
// reports the reader's reclaim as partial.
func TestPassKeepsHotCache(t *testing.T) {
	// ws = 830-130 = 700, under the 750 line; the amount is the inactive list, 130 MiB.
	hot := reclaim.Stats{Usage: 830 * mi, Limit: 1000 * mi, Anon: 300 * mi, File: 530 * mi, InactiveFile: 130 * mi, ActiveFile: 400 * mi}
	objs := []client.Object{namespace("default", nil),
		makePod("default", "logger", podUIDFor(1), node).container("app", hexID(1)).obj(),
		makePod("default", "search", podUIDFor(2), node).container("app", hexID(2)).obj()}
	tests := map[string]struct {
		version    string
		want       []string // outcomes
		writes     []string // memory.reclaim writes (v2)
		forceEmpty map[string]string
		metrics    metricValues
		event      string // part of the search pod's event
	}{
		"cgroup v2: memory.reclaim of the inactive list only": {
			version: "v2",
			want:    []string{"logger/app success", "search/app success"},
			writes:  []string{hexID(1) + " 367001600 swappiness=0", hexID(2) + " 136314880 swappiness=0"},
			metrics: metricValues{`reclaims{memory.reclaim,success}`: 2, `reclaimed_bytes`: 480 * float64(mi)},
			event:   "cache 530.0MiB -> 400.0MiB (active 400.0MiB -> 400.0MiB)",
		},
		"cgroup v1 without hostPID: force_empty for the log writer, a partial result for the reader": {
			version:    "v1",
			want:       []string{"logger/app success", "search/app partial"},
			forceEmpty: map[string]string{"logger": "0", "search": ""},
			metrics:    metricValues{`reclaims{force_empty,success}`: 1, `reclaims{fadvise,partial}`: 1},
			event: "(partial: kept the active (hot) page cache, which memory.force_empty would drop as well; " +
				"fadvise of 0 written file(s) freed 0.0MiB of the 130.0MiB asked (none of the cgroup's 1 processes is visible in ",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := newLoopOn(t, tc.version, DefaultConfig(), objs...)
			dirs := map[string]string{"logger": containerDir(l.root, podUIDFor(1), hexID(1)), "search": containerDir(l.root, podUIDFor(2), hexID(2))}
			write := writeV2
			if tc.version == "v1" {
				write = writeV1
			}
			write(t, dirs["logger"], overLimit)
			write(t, dirs["search"], hot)
			before := snapshot()
			outs := l.pass(t)
			if diff := cmp.Diff(tc.want, summary(outs)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if len(outs) == 2 && (!outs[0].Action.MayDropActive || outs[1].Action.MayDropActive) {
				t.Errorf("may drop active: logger %v, search %v; want true, false", outs[0].Action.MayDropActive, outs[1].Action.MayDropActive)
			}
			if diff := cmp.Diff(tc.writes, l.kernel.Writes()); diff != "" {
				t.Errorf("memory.reclaim writes (-want +got):\n%s", diff)
			}
			for pod, want := range tc.forceEmpty {
				if b, _ := os.ReadFile(filepath.Join(dirs[pod], "memory.force_empty")); string(b) != want {
					t.Errorf("%s: memory.force_empty = %q, want %q", pod, b, want)
				}
			}
			if diff := cmp.Diff(tc.metrics, snapshot().sub(before)); diff != "" {
				t.Errorf("metric deltas (-want +got):\n%s", diff)
			}
			if ev := l.events.Events(); len(ev) != 2 || !strings.HasPrefix(ev[1], "default/search Normal PageCacheReclaimed") || !strings.Contains(ev[1], tc.event) {
				t.Errorf("events = %q\nwant the search pod's to contain %q", ev, tc.event)
			}
		})
	}
}

func TestPassSkipsExcludedNamespaces(t *testing.T) {
	objs := []client.Object{
		namespace("default", nil),
		// A namespace label cannot bring an excluded namespace back.
		namespace("kube-system", map[string]string{mode.Key: "enforce"}),
		namespace("kube-public", nil),
		namespace("headroom", nil),
		makePod("default", "logger", podUIDFor(1), node).container("app", hexID(1)).obj(),
		makePod("kube-system", "etcd", podUIDFor(2), node).container("etcd", hexID(2)).obj(),
		makePod("kube-public", "logger", podUIDFor(3), node).container("app", hexID(3)).obj(),
		makePod("headroom", "recommender", podUIDFor(4), node).container("recommender", hexID(4)).obj(),
	}
	tests := map[string]struct {
		exclude []string // nil: the default
		want    []string
	}{
		"by default the control-plane namespaces": {
			want: []string{"logger/app success", "recommender/recommender success"},
		},
		"the release namespace when passed, as the chart does": {
			exclude: append(slices.Clone(DefaultExcludeNamespaces), "headroom"),
			want:    []string{"logger/app success"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.exclude != nil {
				cfg.ExcludeNamespaces = tc.exclude
			}
			l := newLoop(t, cfg, objs...)
			for i := 1; i <= 4; i++ {
				writeV2(t, containerDir(l.root, podUIDFor(i), hexID(i)), overLimit)
			}
			if diff := cmp.Diff(tc.want, summary(l.pass(t))); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPassRateLimits(t *testing.T) {
	t.Run("one pod is reclaimed at most once per min-interval", func(t *testing.T) {
		l := newLoop(t, DefaultConfig(), namespace("default", nil),
			makePod("default", "logger", podUIDFor(1), node).container("app", hexID(1)).obj())
		dir := containerDir(l.root, podUIDFor(1), hexID(1))
		writeV2(t, dir, overLimit)
		got := summary(l.pass(t))

		writeV2(t, dir, overLimit) // the log writer refilled its cache
		l.clock = l.clock.Add(4 * time.Minute)
		got = append(got, summary(l.pass(t))...)

		l.clock = l.clock.Add(time.Minute)
		got = append(got, summary(l.pass(t))...)

		if diff := cmp.Diff([]string{"logger/app success", "logger/app pod-min-interval", "logger/app success"}, got); diff != "" {
			t.Errorf("outcomes over three passes (-want +got):\n%s", diff)
		}
		if n := len(l.kernel.Writes()); n != 2 {
			t.Errorf("%d memory.reclaim writes, want 2", n)
		}
	})

	t.Run("the node allows a burst of N reclaims, then N per minute", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.NodeReclaimsPerMinute = 2
		objs := []client.Object{namespace("default", nil)}
		for i := 1; i <= 3; i++ {
			objs = append(objs, makePod("default", "logger-"+string(rune('0'+i)), podUIDFor(i), node).container("app", hexID(i)).obj())
		}
		l := newLoop(t, cfg, objs...)
		for i := 1; i <= 3; i++ {
			writeV2(t, containerDir(l.root, podUIDFor(i), hexID(i)), overLimit)
		}
		got := summary(l.pass(t))
		l.clock = l.clock.Add(10 * time.Second) // 2/min refills one token in 30 s: not yet
		got = append(got, summary(l.pass(t))...)
		l.clock = l.clock.Add(20 * time.Second)
		got = append(got, summary(l.pass(t))...)
		if diff := cmp.Diff([]string{
			"logger-1/app success", "logger-2/app success", "logger-3/app node-rate",
			"logger-3/app node-rate",
			"logger-3/app success",
		}, got); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
	})
}

func TestPassDropCachesIsALastResort(t *testing.T) {
	setup := func(t *testing.T, allow bool) (*loop, string) {
		cfg := DefaultConfig()
		cfg.AllowDropCaches = allow
		cfg.DropCachesPath = filepath.Join(t.TempDir(), "drop_caches")
		if err := os.WriteFile(cfg.DropCachesPath, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		l := newLoop(t, cfg, namespace("default", nil),
			makePod("default", "logger", podUIDFor(1), node).container("app", hexID(1)).obj(),
			makePod("default", "other", podUIDFor(2), node).container("app", hexID(2)).obj())
		writeV2(t, containerDir(l.root, podUIDFor(1), hexID(1)), overLimit)
		writeV2(t, containerDir(l.root, podUIDFor(2), hexID(2)), overLimit)
		l.kernel.fail = errors.New("memory.reclaim: input/output error")
		return l, cfg.DropCachesPath
	}
	dropped := func(t *testing.T, path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("off by default: a failed targeted reclaim is only reported", func(t *testing.T) {
		l, path := setup(t, false)
		if diff := cmp.Diff([]string{"logger/app error", "other/app error"}, summary(l.pass(t))); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if got := dropped(t, path); got != "" {
			t.Errorf("drop_caches = %q, want untouched", got)
		}
		if ev := l.events.Events(); len(ev) != 2 || !strings.Contains(ev[0], "Warning PageCacheReclaimFailed") {
			t.Errorf("events = %q, want two PageCacheReclaimFailed warnings", ev)
		}
	})

	t.Run("when allowed: once after failures, then not again within its interval", func(t *testing.T) {
		l, path := setup(t, true)
		before := snapshot()
		if diff := cmp.Diff([]string{"logger/app error", "other/app error", "/ success"}, summary(l.pass(t))); diff != "" {
			t.Errorf("outcomes (-want +got):\n%s", diff)
		}
		if got := dropped(t, path); got != "1" {
			t.Errorf("drop_caches = %q, want 1 (page cache only)", got)
		}
		if d := snapshot().sub(before); d[`reclaims{drop_caches,success}`] != 1 {
			t.Errorf("metric deltas %v: want one drop_caches success", d)
		}
		if ev := l.events.Events(); len(ev) != 4 || !strings.Contains(ev[3], "Warning NodePageCacheDropped") {
			t.Errorf("events = %q, want a NodePageCacheDropped per failed container", ev)
		}

		l.clock = l.clock.Add(30 * time.Minute) // past min-interval, within the 1 h drop interval
		l.pass(t)
		if got := dropped(t, path); got != "" {
			t.Errorf("second drop within the interval: drop_caches = %q", got)
		}
		l.clock = l.clock.Add(31 * time.Minute)
		l.pass(t)
		if got := dropped(t, path); got != "1" {
			t.Errorf("drop after the interval: drop_caches = %q, want 1", got)
		}
	})
}

func TestPassFindsSidecarsAndSkipsUnknownCgroups(t *testing.T) {
	p := makePod("default", "meshed", podUIDFor(1), node).container("app", hexID(1)).obj()
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "proxy", ContainerID: "containerd://" + hexID(2), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "init", ContainerID: "containerd://" + hexID(3), State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
	}
	l := newLoop(t, DefaultConfig(), namespace("default", nil), p,
		makePod("default", "no-cgroup-yet", podUIDFor(2), node).container("app", hexID(4)).obj())
	writeV2(t, containerDir(l.root, podUIDFor(1), hexID(2)), overLimit)
	writeV2(t, containerDir(l.root, podUIDFor(1), hexID(3)), overLimit)
	before := snapshot()
	if diff := cmp.Diff([]string{"meshed/proxy success"}, summary(l.pass(t))); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	// meshed/app has no cgroup directory; no-cgroup-yet has no pod cgroup at all.
	if d := snapshot().sub(before); d["cgroup_errors"] != 2 {
		t.Errorf("metric deltas %v: want 2 cgroup errors", d)
	}
}

func TestReady(t *testing.T) {
	l := newLoop(t, DefaultConfig(), namespace("default", nil))
	if err := l.Ready(nil); err == nil {
		t.Error("Ready before the first pass: want an error")
	}
	l.pass(t)
	if err := l.Ready(nil); err != nil {
		t.Errorf("Ready after a pass: %v", err)
	}
	l.clock = l.clock.Add(31 * time.Second)
	if err := l.Ready(nil); err == nil {
		t.Error("Ready three intervals after the last pass: want an error")
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "node name") {
		t.Errorf("Validate without a node name = %v", err)
	}
	cfg.NodeName = node
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(defaults + node) = %v", err)
	}
	cfg.NodeReclaimsPerMinute = 0
	cfg.DefaultMode = "sometimes"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "per minute") || !strings.Contains(err.Error(), "sometimes") {
		t.Errorf("Validate = %v, want both problems", err)
	}
}

// metricValues is a flat view of the agent's metrics, keyed like `reclaims{method,result}`.
type metricValues map[string]float64

func snapshot() metricValues {
	m := metricValues{}
	add := func(key string, c prometheus.Collector) {
		ch := make(chan prometheus.Metric, 64)
		c.Collect(ch)
		close(ch)
		for met := range ch {
			var d dto.Metric
			if err := met.Write(&d); err != nil {
				panic(err)
			}
			var labels []string
			for _, lp := range d.GetLabel() {
				labels = append(labels, lp.GetValue())
			}
			k := key
			if len(labels) > 0 {
				k += "{" + strings.Join(labels, ",") + "}"
			}
			m[k] = d.GetCounter().GetValue()
		}
	}
	add("reclaims", reclaimsTotal)
	add("reclaimed_bytes", reclaimedBytesTotal)
	add("skipped", skippedTotal)
	add("cgroup_errors", cgroupErrorsTotal)
	return m
}

// sub returns the non-zero differences m - old.
func (m metricValues) sub(old metricValues) metricValues {
	d := metricValues{}
	for k, v := range m {
		if v != old[k] {
			d[k] = v - old[k]
		}
	}
	return d
}

package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cacheReader serves pods like controller-runtime's informer cache does: List deep-copies every
// object unless asked not to. The fake client would add its own (JSON) cost, which production does
// not pay.
type cacheReader struct {
	pods []corev1.Pod
	ns   map[string]*corev1.Namespace
}

func (r *cacheReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || r.ns[key.Name] == nil {
		return fmt.Errorf("not found: %v", key)
	}
	r.ns[key.Name].DeepCopyInto(ns)
	return nil
}

func (r *cacheReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	items := make([]corev1.Pod, len(r.pods))
	for i := range r.pods {
		if lo.UnsafeDisableDeepCopy != nil && *lo.UnsafeDisableDeepCopy {
			items[i] = r.pods[i]
		} else {
			r.pods[i].DeepCopyInto(&items[i])
		}
	}
	list.(*corev1.PodList).Items = items
	return nil
}

// pass200 is a node with 100 pods of 2 containers each (200 container cgroups) on memcg, all under
// the threshold: the steady state a pass is run in every 10 s. mkContainer creates one container's
// cgroup under the memory root.
func pass200(t testing.TB, m Memcg, mkContainer func(podUID, id string)) *Agent {
	r := &cacheReader{ns: map[string]*corev1.Namespace{"default": namespace("default", nil)}}
	for p := 1; p <= 100; p++ {
		b := makePod("default", "pod-"+strconv.Itoa(p), podUIDFor(p), node)
		for c := 0; c < 2; c++ {
			id := hexID(p*10 + c)
			b.container("c"+strconv.Itoa(c), id)
			mkContainer(podUIDFor(p), id)
		}
		r.pods = append(r.pods, *b.obj())
	}
	cfg := DefaultConfig()
	cfg.NodeName = node
	a, err := New(cfg, r, &recorder{}, m, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fakeV2Pass200(t testing.TB) *Agent {
	root := t.TempDir()
	return pass200(t, V2{Dir: root}, func(podUID, id string) {
		writeV2(t, containerDir(root, podUID, id), underLimit)
	})
}

// BenchmarkPass200 is one pass over 200 container cgroups of a fake cgroup v2 tree. Besides wall
// time per pass it reports CPU (user+sys) per pass and the process's peak RSS: the agent's cost
// on a node, quoted in docs/benchmarks.md.
func BenchmarkPass200(b *testing.B) {
	benchPasses(b, fakeV2Pass200(b))
}

// benchPasses runs passes of a (steady state: nothing to reclaim) and reports their cost.
func benchPasses(b *testing.B, a *Agent) {
	ctx := context.Background()
	outs, err := a.Pass(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(outs) != 0 {
		b.Fatalf("the steady-state node should need no reclaim, got %v", summary(outs))
	}
	c0 := cpuTime(b)
	for b.Loop() {
		if _, err := a.Pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(ms(cpuTime(b)-c0)/float64(b.N), "cpu-ms/pass")
	b.ReportMetric(float64(procStatus(b, "VmHWM"))/(1<<20), "peak-rss-MiB")
}

// cpuTime is the process's user+sys CPU time (getrusage).
func cpuTime(tb testing.TB) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procStatus reads a "kB" line of /proc/self/status, in bytes.
func procStatus(tb testing.TB, key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, ln := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(ln, []byte(key+":")); ok {
			n, _ := strconv.ParseInt(string(bytes.Fields(v)[0]), 10, 64)
			return n << 10
		}
	}
	tb.Fatalf("no %s in /proc/self/status", key)
	return 0
}

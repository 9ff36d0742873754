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

func BenchmarkPass200(b *testing.B) {
	a := fakeV2Pass200(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.Pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// measurePasses runs one pass, then n more, and reports CPU time (user+sys, getrusage) and the
// process's resident memory. It fails when a pass costs more than maxCPU.
func measurePasses(t *testing.T, a *Agent, n int, maxCPU time.Duration) {
	t.Helper()
	ctx := context.Background()
	var sys time.Duration // kernel part of the last cpu() reading
	cpu := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		sys = time.Duration(ru.Stime.Nano())
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0, w0 := cpu(), time.Now()
	outs, err := a.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first, firstWall := cpu()-c0, time.Since(w0)
	if len(outs) != 0 {
		t.Fatalf("the steady-state node should need no reclaim, got %v", summary(outs))
	}
	c0, w0 = cpu(), time.Now()
	sys0 := sys
	for range n {
		if _, err := a.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mean, meanWall := (cpu()-c0)/time.Duration(n), time.Since(w0)/time.Duration(n)
	meanSys := (sys - sys0) / time.Duration(n)
	rss, hwm := procStatus(t, "VmRSS"), procStatus(t, "VmHWM")
	t.Logf("pass over 200 containers: first %.2f ms CPU (%.2f ms wall); mean of %d: %.2f ms CPU of which %.2f ms in the kernel (%.2f ms wall); "+
		"test process VmRSS %.1f MiB, VmHWM %.1f MiB",
		ms(first), ms(firstWall), n, ms(mean), ms(meanSys), ms(meanWall), float64(rss)/(1<<20), float64(hwm)/(1<<20))
	if first > maxCPU || mean > maxCPU {
		t.Errorf("a pass costs %s / %s of CPU, want under %s", first, mean, maxCPU)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// procStatus reads a "kB" line of /proc/self/status, in bytes.
func procStatus(t *testing.T, key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(ln, []byte(key+":")); ok {
			n, _ := strconv.ParseInt(string(bytes.Fields(v)[0]), 10, 64)
			return n << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

func TestPass200CostOnAFakeV2Tree(t *testing.T) {
	// The target is a few ms of CPU per pass; the bound leaves room for a loaded 2-core CI machine.
	measurePasses(t, fakeV2Pass200(t), 20, 50*time.Millisecond)
}

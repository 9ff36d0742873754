package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/headroom-dev/headroom/reclaim"
)

// writeV2 creates (or overwrites) a fake cgroup v2 memory directory with the given stats.
// A zero limit is written as "max".
func writeV2(t testing.TB, dir string, s reclaim.Stats) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	limit := "max"
	if s.Limit > 0 {
		limit = strconv.FormatInt(s.Limit, 10)
	}
	stat := fmt.Sprintf("anon %d\nfile %d\nkernel 1048576\nshmem 0\nfile_mapped 0\nfile_dirty 0\n"+
		"inactive_anon 0\nactive_anon %d\ninactive_file %d\nactive_file %d\nunevictable 0\n",
		s.Anon, s.File, s.Anon, s.InactiveFile, s.ActiveFile)
	files := map[string]string{
		"memory.current": strconv.FormatInt(s.Usage, 10) + "\n",
		"memory.max":     limit + "\n",
		"memory.stat":    stat,
	}
	for _, f := range []string{"memory.reclaim", "cgroup.procs"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			files[f] = ""
		}
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeV1 creates (or overwrites) a fake cgroup v1 memory directory with the given stats. A zero
// limit is written as v1's "unlimited". cgroup.procs holds one process outside the agent's PID
// namespace (it reads 0, as for an agent without hostPID) unless the test wrote it already.
func writeV1(t testing.TB, dir string, s reclaim.Stats) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	limit := int64(9223372036854771712)
	if s.Limit > 0 {
		limit = s.Limit
	}
	files := map[string]string{
		"memory.usage_in_bytes": strconv.FormatInt(s.Usage, 10) + "\n",
		"memory.limit_in_bytes": strconv.FormatInt(limit, 10) + "\n",
		"memory.stat": fmt.Sprintf("cache 0\nrss 0\ntotal_cache %d\ntotal_rss %d\ntotal_inactive_file %d\ntotal_active_file %d\n",
			s.File, s.Anon, s.InactiveFile, s.ActiveFile),
	}
	for f, content := range map[string]string{"memory.force_empty": "", "cgroup.procs": "0\n"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			files[f] = content
		}
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeKernel stands in for memory.reclaim on a fake tree: it records every write and takes the bytes
// asked from inactive_file first, then active_file, like the kernel's LRU order.
type fakeKernel struct {
	t      testing.TB
	mu     sync.Mutex
	writes []string // "<dir> <data>"
	fail   error    // returned by every write when set
}

func (k *fakeKernel) write(path string, data []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	dir := filepath.Dir(path)
	k.writes = append(k.writes, filepath.Base(dir)+" "+string(data))
	if k.fail != nil {
		return k.fail
	}
	n, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
	if err != nil {
		return err
	}
	s, err := V2{}.Stats(dir)
	if err != nil {
		return err
	}
	fromInactive := min(n, s.InactiveFile)
	fromActive := min(n-fromInactive, s.ActiveFile)
	s.InactiveFile -= fromInactive
	s.ActiveFile -= fromActive
	s.File -= fromInactive + fromActive
	s.Usage -= fromInactive + fromActive
	writeV2(k.t, dir, s)
	return nil
}

func (k *fakeKernel) Writes() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.writes...)
}

// recorder is a hand-written fake of Recorder.
type recorder struct {
	mu     sync.Mutex
	events []string // "<namespace>/<name> <type> <reason> <note>"
}

func (r *recorder) Eventf(regarding runtime.Object, _ runtime.Object, eventtype, reason, _ string, note string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := regarding.(metav1.Object)
	r.events = append(r.events, fmt.Sprintf("%s/%s %s %s %s", m.GetNamespace(), m.GetName(), eventtype, reason, fmt.Sprintf(note, args...)))
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// podBuilder makes running pods for the loop tests, in the style of Kueue's MakePod(...).Obj().
type podBuilder struct{ pod corev1.Pod }

func makePod(ns, name, uid, node string) *podBuilder {
	return &podBuilder{pod: corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}}
}

func (b *podBuilder) container(name, id string) *podBuilder {
	b.pod.Spec.Containers = append(b.pod.Spec.Containers, corev1.Container{Name: name})
	b.pod.Status.ContainerStatuses = append(b.pod.Status.ContainerStatuses, corev1.ContainerStatus{
		Name: name, ContainerID: "containerd://" + id,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
	})
	return b
}

func (b *podBuilder) annotate(k, v string) *podBuilder {
	if b.pod.Annotations == nil {
		b.pod.Annotations = map[string]string{}
	}
	b.pod.Annotations[k] = v
	return b
}

func (b *podBuilder) phase(p corev1.PodPhase) *podBuilder { b.pod.Status.Phase = p; return b }

func (b *podBuilder) obj() *corev1.Pod { return b.pod.DeepCopy() }

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// containerDir is where a burstable containerd container lives in a cgroupfs-driver v2 tree.
func containerDir(root, podUID, id string) string {
	return filepath.Join(root, "kubepods", "burstable", "pod"+podUID, id)
}

// hexID makes a 64-hex container ID from a short name, so tests read well.
func hexID(n int) string { return fmt.Sprintf("%064x", n) }

// podUIDFor makes a pod UID from a number.
func podUIDFor(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n) }

const mi = int64(1) << 20

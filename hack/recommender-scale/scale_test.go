//go:build scale

package recommenderscale

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/recommender"
	"github.com/headroom-dev/headroom/sizing"
)

var (
	namespaces   = flag.Int("namespaces", 100, "namespaces")
	perNamespace = flag.Int("per-namespace", 100, "Deployments per namespace")
	replicas     = flag.Int("replicas", 2, "pods per Deployment")
	workers      = flag.Int("workers", 4, "recommender --workers")
	writeWorkers = flag.Int("write-workers", 8, "recommender --write-workers")
	logDir       = flag.String("log-dir", "", "keep the recommender's logs here")
	hold         = flag.Duration("hold", 0, "after setting up, write the kubeconfig path and Prometheus URL to $TMPDIR/recommender-scale.env and wait this long before measuring (for profiling by hand)")
	step         = 15 * time.Minute
)

func mi(n int64) sizing.Bytes { return sizing.Bytes(n * sizing.Mi) }

// specFor is one namespace of synthetic workloads: services with steady RSS whose page cache grows
// at different rates (some level off), one in ten a JVM with Micrometer heap metrics. Owner metrics
// are left out (workloads are recognised from pod names) and so is the active-file metric, to keep
// the OpenMetrics file at 7-8 samples per pod per step.
func specFor(ns int, end time.Time) *scenario.Spec {
	s := &scenario.Spec{Name: fmt.Sprintf("scale-%03d", ns), End: end, History: sizing.Duration(7 * 24 * time.Hour),
		Interval: sizing.Duration(step), Seed: uint64(ns + 1), Namespace: fmt.Sprintf("scale-%03d", ns), NoOwners: true}
	for w := range *perNamespace {
		c := scenario.Container{Name: "app", Limit: mi(1024 + int64(w%4)*512), Request: mi(512), RSS: mi(200 + int64(w%10)*50),
			Cache:              scenario.Cache{Initial: mi(10), GrowthPerHour: mi(int64(w%7+1) * 5), Plateau: mi(int64(w%3) * 200)},
			NoActiveFileMetric: true}
		if w%10 == 0 {
			c.RSS, c.JVM = 0, &scenario.JVM{Xmx: mi(768), HeapUsed: mi(300), NonHeap: mi(150), Metrics: "micrometer"}
		}
		s.Workloads = append(s.Workloads, scenario.Workload{Kind: "Deployment", Name: fmt.Sprintf("app-%03d", w),
			Replicas: *replicas, PodAge: sizing.Duration(24 * time.Hour), Containers: []scenario.Container{c}})
	}
	return s
}

// writeHistory writes every namespace's history into one OpenMetrics file, a namespace at a time
// (promtool accepts a metric family's TYPE line more than once), so the generator never holds more
// than one namespace.
func writeHistory(t *testing.T, path string, specs []*scenario.Spec) int64 {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 4<<20)
	var lines int64
	for _, s := range specs {
		var b bytes.Buffer
		if err := scenario.Write(&b, s); err != nil {
			t.Fatal(err)
		}
		body := bytes.TrimSuffix(b.Bytes(), []byte("# EOF\n"))
		lines += int64(bytes.Count(body, []byte("\n")))
		if _, err := bw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bw.WriteString("# EOF\n"); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// parallel runs f over n items with k goroutines and returns the first error.
func parallel(n, k int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// promQueries reads how many query, query_range and label-values requests Prometheus served.
func promQueries(t *testing.T, url string) int64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^prometheus_http_requests_total\{[^}]*handler="(/api/v1/query|/api/v1/query_range|/api/v1/label/:name/values)"[^}]*\} (\S+)$`)
	var n int64
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		n += int64(v)
	}
	return n
}

// promCPU reads Prometheus' process_cpu_seconds_total.
func promCPU(t *testing.T, url string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^process_cpu_seconds_total (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no process_cpu_seconds_total")
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

type run struct {
	wall        time.Duration
	maxRSSMiB   float64
	cpu         float64 // seconds of CPU the recommender used
	promCPU     float64 // seconds of CPU Prometheus used meanwhile
	cycle       map[string]any
	promQueries int64
}

// runOnce runs the recommender under /usr/bin/time, which reports the peak RSS of the
// recommender alone: the rusage of a child forked from this (large) test process would count the
// test's memory too, because Linux carries the pre-exec high-water mark over into the child.
// env are extra environment variables of the recommender; a failing cycle is expected when fail.
func runOnce(t *testing.T, bin string, args []string, promURL string, env []string, fail bool) run {
	timeBin, err := exec.LookPath("time")
	if _, statErr := os.Stat("/usr/bin/time"); statErr == nil {
		timeBin, err = "/usr/bin/time", nil
	}
	if err != nil {
		t.Fatalf("GNU time is needed to measure peak RSS: %v", err)
	}
	rssFile := filepath.Join(t.TempDir(), "maxrss")
	before := promQueries(t, promURL)
	promCPU0 := promCPU(t, promURL)
	var stderr bytes.Buffer
	cmd := exec.Command(timeBin, append([]string{"-f", "%M %U %S", "-o", rssFile, bin}, args...)...)
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if (err != nil) != fail {
		t.Fatalf("%s %s: %v (want failure: %v)\n%s", bin, strings.Join(args, " "), err, fail, tail(stderr.String(), 20))
	}
	if *logDir != "" {
		_ = os.WriteFile(filepath.Join(*logDir, fmt.Sprintf("recommender-%d.log", time.Now().UnixNano())), stderr.Bytes(), 0o644)
	}
	r := run{wall: wall, promQueries: promQueries(t, promURL) - before}
	b, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatal(err)
	}
	var kib, user, sys float64
	lines := strings.Split(strings.TrimSpace(string(b)), "\n") // "Command exited with non-zero status 1" comes first
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%g %g %g", &kib, &user, &sys); err != nil {
		t.Fatalf("time output %q: %v", b, err)
	}
	r.maxRSSMiB, r.cpu = kib/1024, user+sys
	r.promCPU = promCPU(t, promURL) - promCPU0
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"Cycle done"`) {
			if err := json.Unmarshal([]byte(line), &r.cycle); err != nil {
				t.Fatal(err)
			}
		}
	}
	if r.cycle == nil {
		t.Fatalf("no cycle summary in the log:\n%s", tail(stderr.String(), 20))
	}
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestScale(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "headroom")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "headroom")).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	total := *namespaces * *perNamespace
	end := time.Now().UTC().Add(-step).Truncate(step)
	specs := make([]*scenario.Spec, *namespaces)
	for i := range specs {
		specs[i] = specFor(i, end)
	}

	start := time.Now()
	file := filepath.Join(dir, "history.om")
	samples := writeHistory(t, file, specs)
	st, _ := os.Stat(file)
	t.Logf("generated %d samples (%.1f GiB of OpenMetrics) for %d workloads in %s", samples, float64(st.Size())/(1<<30), total,
		time.Since(start).Round(time.Second))
	prom := testenv.StartPrometheus(t, file) // backfills with promtool, then starts
	_ = os.Remove(file)

	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{CRDPaths: []string{filepath.Join(root, "config", "crd")}})
	cfg := *cp.Config
	cfg.QPS, cfg.Burst = -1, 0
	scheme, err := recommender.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(&cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start = time.Now()
	var deployments []*appsv1.Deployment
	for _, s := range specs {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace}}); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := scenario.WriteManifests(&b, s); err != nil {
			t.Fatal(err)
		}
		ws, err := manifest.Decode(&b, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			deployments = append(deployments, w.Object.(*appsv1.Deployment))
		}
	}
	// The Deployments, and a ReplicaSet of each as the Deployment controller would make: the
	// recommender caches both kinds.
	err = parallel(len(deployments), 16, func(i int) error {
		d := deployments[i]
		if err := c.Create(ctx, d); err != nil {
			return err
		}
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name + "-5d8f9c7b6b", Labels: d.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID,
					Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template},
		}
		return c.Create(ctx, rs)
	})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Since(start)
	t.Logf("created %d namespaces, %d Deployments and %d ReplicaSets in %s (%.1f ms per object with 16 clients)",
		*namespaces, total, total, created.Round(time.Second), float64(created.Milliseconds())/float64(2*total))

	if *hold > 0 {
		env := fmt.Sprintf("KUBECONFIG=%s\nPROM=%s\nBIN=%s\n", cp.Kubeconfig, prom.URL, bin)
		_ = os.WriteFile(filepath.Join(os.TempDir(), "recommender-scale.env"), []byte(env), 0o644)
		t.Logf("holding for %s:\n%s", *hold, env)
		time.Sleep(*hold)
	}
	args := []string{"recommender", "--once", "--kubeconfig", cp.Kubeconfig, "--prometheus-url", prom.URL,
		"--exclude-namespaces", "kube-system,kube-public,kube-node-lease,default",
		"--workers", strconv.Itoa(*workers), "--write-workers", strconv.Itoa(*writeWorkers)}
	first := runOnce(t, bin, args, prom.URL, nil, false)
	var list v1alpha1.MemoryRecommendationList
	if err := c.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != total {
		t.Errorf("%d MemoryRecommendations, want %d", len(list.Items), total)
	}
	ready := 0
	for _, mr := range list.Items {
		for _, cond := range mr.Status.Conditions {
			if cond.Type == v1alpha1.ConditionReady && cond.Status == metav1.ConditionTrue {
				ready++
			}
		}
	}
	if ready != total {
		t.Errorf("%d of %d recommendations are Ready", ready, total)
	}
	second := runOnce(t, bin, args, prom.URL, nil, false)
	limited := runOnce(t, bin, args, prom.URL, []string{"GOMEMLIMIT=256MiB"}, false)
	// Prometheus unreachable: every object says so (one status write each), then nothing more to
	// write; when it is back, every object is recomputed.
	down := make([]string, len(args))
	copy(down, args)
	for i := range down {
		if down[i] == prom.URL {
			down[i] = "http://127.0.0.1:1"
		}
	}
	unreachable := runOnce(t, bin, down, prom.URL, nil, true)
	stillDown := runOnce(t, bin, down, prom.URL, nil, true)
	back := runOnce(t, bin, args, prom.URL, nil, false)

	wantQueries := int64(1 + *namespaces*history.QueriesPerNamespace)
	report := func(name string, r run, counted, served int64) {
		q := int64(r.cycle["queries"].(float64))
		if q != counted || r.promQueries != served {
			t.Errorf("%s: %d queries counted by the recommender, %d served by Prometheus; want %d and %d", name, q, r.promQueries, counted, served)
		}
		t.Logf("%-34s cycle %5.1f s | process %5.1f s | peak RSS %4.0f MiB | CPU %5.1f s (Prometheus %5.1f s) | queries %4d | created %5v updated %5v unchanged %5v",
			name, r.cycle["seconds"], r.wall.Seconds(), r.maxRSSMiB, r.cpu, r.promCPU, q, r.cycle["created"], r.cycle["updated"], r.cycle["unchanged"])
	}
	t.Logf("%d workloads in %d namespaces, %d pods each, 7d of history at %s, --workers %d --write-workers %d; queries: 1 + %d per namespace",
		total, *namespaces, *replicas, step, *workers, *writeWorkers, history.QueriesPerNamespace)
	report("first cycle (creates)", first, wantQueries, wantQueries)
	report("second cycle (no change)", second, wantQueries, wantQueries)
	report("second cycle, GOMEMLIMIT=256MiB", limited, wantQueries, wantQueries)
	// Unreachable: three attempts at listing namespaces with history, then no query at all.
	report("Prometheus unreachable", unreachable, 3, 0)
	report("Prometheus still unreachable", stillDown, 3, 0)
	report("Prometheus back", back, wantQueries, wantQueries)
	for name, r := range map[string]run{"second": second, "limited": limited, "still down": stillDown} {
		if r.cycle["unchanged"].(float64) != float64(total) {
			t.Errorf("%s cycle wrote: %v", name, r.cycle)
		}
	}
	if unreachable.cycle["updated"].(float64) != float64(total) || back.cycle["updated"].(float64) != float64(total) {
		t.Errorf("unreachable %v, back %v: want every object updated", unreachable.cycle, back.cycle)
	}
}

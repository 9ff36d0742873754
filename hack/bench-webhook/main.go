// Command bench-webhook measures `headroom webhook` on loopback, as `make bench` runs it:
//
//  1. HTTPS load straight at the webhook (hack/webhook-load) at concurrency 1 and 8: throughput,
//     p50 and p99 of one admission of a 3-container JVM pod that gets sized;
//  2. pod creation through a real kube-apiserver, interleaved in one run between a namespace whose
//     pods go through the webhook and are sized and one the webhook is not called for: the median
//     latency each way and what the webhook adds.
//
// It starts etcd, kube-apiserver and the webhook itself, and stops them on exit.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/testenv"
)

func main() {
	root := flag.String("root", ".", "repository root (bin/ holds the binaries)")
	loadN := flag.Int("load-n", 20000, "admissions per load run")
	runs := flag.Int("runs", 3, "load runs per concurrency (the median is reported)")
	pods := flag.Int("pods", 500, "pods created through the API server on each side")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *root, *loadN, *runs, *pods); err != nil {
		fmt.Fprintln(os.Stderr, "bench-webhook:", err)
		os.Exit(1)
	}
}

const (
	sizedNS = "shop"     // the review's namespace: pods are sized
	plainNS = "unhooked" // labelled headroom.dev/mode=off: the API server does not call the webhook
)

func run(ctx context.Context, root string, loadN, runs, pods int) error {
	dir, err := os.MkdirTemp("", "headroom-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := func(name string) string { return filepath.Join(root, "bin", name) }

	cp, err := testenv.NewControlPlane(dir, testenv.Binaries{Etcd: bin("etcd"), KubeAPIServer: bin("kube-apiserver")},
		testenv.ControlPlaneOptions{CRDPaths: []string{filepath.Join(root, "config", "crd")}})
	if err != nil {
		return err
	}
	defer cp.Stop()
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	for ns, mode := range map[string]string{sizedNS: "enforce", plainNS: "off"} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"headroom.dev/mode": mode}}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if err := createRecommendation(ctx, cp.Config); err != nil {
		return err
	}

	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o755); err != nil {
		return err
	}
	caPEM, err := testenv.WriteServingCert(certDir)
	if err != nil {
		return err
	}
	caFile := filepath.Join(certDir, "ca.crt")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return err
	}
	port, health := freePort(), freePort()
	webhook := exec.Command(bin("headroom"), "webhook", "--kubeconfig", cp.Kubeconfig, "--cert-dir", certDir,
		"--port", strconv.Itoa(port), "--metrics-bind-address=0", "--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(health))
	webhook.Stderr, _ = os.Create(filepath.Join(dir, "webhook.log"))
	webhook.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := webhook.Start(); err != nil {
		return err
	}
	defer func() { _ = webhook.Process.Signal(syscall.SIGTERM); _ = webhook.Wait() }()
	if err := testenv.Poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", health))
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, errors.New(resp.Status)
	}); err != nil {
		return fmt.Errorf("webhook not ready: %w", err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/mutate-v1-pod", port)
	if _, err := testenv.RegisterWebhook(ctx, cs, filepath.Join(root, "config", "webhook", "manifests.yaml"), url, caPEM); err != nil {
		return err
	}
	fmt.Printf("machine: %d CPUs; kube-apiserver, etcd, the webhook and the load generator share them\n\n", goruntime.NumCPU())

	load := filepath.Join(dir, "webhook-load")
	if out, err := exec.Command("go", "build", "-o", load, "./hack/webhook-load").CombinedOutput(); err != nil {
		return fmt.Errorf("build webhook-load: %w\n%s", err, out)
	}
	fmt.Printf("1. HTTPS load on %s, %d admissions per run (3-container JVM pod, sized), median of %d runs\n", url, loadN, runs)
	for _, c := range []int{1, 8} {
		var results []loadResult
		for range runs {
			out, err := exec.CommandContext(ctx, load, "-url", url, "-n", strconv.Itoa(loadN), "-c", strconv.Itoa(c),
				"-cacert", caFile, "-pid", strconv.Itoa(webhook.Process.Pid), "-expect", `"patch":`).CombinedOutput()
			if err != nil {
				return fmt.Errorf("webhook-load -c %d: %w\n%s", c, err, out)
			}
			r, err := parseLoad(out)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		m := medianLoad(results)
		fmt.Printf("   c=%d: %6.0f admissions/s (runs %s)  p50 %s  p99 %s  webhook CPU %.3f s/1,000  RSS %s\n",
			c, m.throughput, throughputs(results), m.p50, m.p99, m.cpu, m.rss)
	}

	fmt.Printf("\n2. Pod CREATE through kube-apiserver, %d pods each way, interleaved\n", pods)
	pod, err := benchPod(root)
	if err != nil {
		return err
	}
	create := func(ns string) (time.Duration, *corev1.Pod, error) {
		p := pod.DeepCopy()
		p.Namespace = ns
		t0 := time.Now()
		out, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		return time.Since(t0), out, err
	}
	for range 50 { // warm-up: connections, caches, the webhook's memo
		for _, ns := range []string{sizedNS, plainNS} {
			if _, _, err := create(ns); err != nil {
				return err
			}
		}
	}
	var with, without []time.Duration
	for range pods {
		d, out, err := create(sizedNS)
		if err != nil {
			return err
		}
		if out.Annotations["headroom.dev/sized"] == "" {
			return fmt.Errorf("pod %s was not sized: the comparison would be meaningless", out.Name)
		}
		with = append(with, d)
		if d, out, err = create(plainNS); err != nil {
			return err
		}
		if _, ok := out.Annotations["headroom.dev/sized"]; ok {
			return fmt.Errorf("pod %s in %s went through the webhook", out.Name, plainNS)
		}
		without = append(without, d)
	}
	mw, mo := percentile(with, 50), percentile(without, 50)
	fmt.Printf("   through the webhook (sized): p50 %s  p90 %s  p99 %s\n", mw, percentile(with, 90), percentile(with, 99))
	fmt.Printf("   not sent to the webhook:     p50 %s  p90 %s  p99 %s\n", mo, percentile(without, 90), percentile(without, 99))
	fmt.Printf("   the webhook adds %s at the median (ratio %.2f)\n", mw-mo, float64(mw)/float64(mo))
	return nil
}

// createRecommendation is what the recommender would write for the review's Deployment "orders".
func createRecommendation(ctx context.Context, cfg *rest.Config) error {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	limit, request := resource.MustParse("3776Mi"), resource.MustParse("592Mi")
	mr := &v1alpha1.MemoryRecommendation{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.NameFor("Deployment", "orders"), Namespace: sizedNS},
		Spec:       v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders"}},
	}
	if err := c.Create(ctx, mr); err != nil {
		return err
	}
	mr.Status.Containers = []v1alpha1.ContainerRecommendation{{
		Name: "app", Limit: &limit, Request: &request, Xmx: "320m",
		Reason: "benchmark", Observed: v1alpha1.Observed{HistoryHours: 168, NonHeapBytes: 182 << 20},
	}}
	return c.Status().Update(ctx, mr)
}

// benchPod is the pod of hack/webhook-load's review, so both measurements size the same pod.
func benchPod(root string) (*corev1.Pod, error) {
	b, err := os.ReadFile(filepath.Join(root, "hack", "webhook-load", "review.json"))
	if err != nil {
		return nil, err
	}
	var review struct {
		Request struct {
			Object corev1.Pod `json:"object"`
		} `json:"request"`
	}
	if err := json.Unmarshal(b, &review); err != nil {
		return nil, err
	}
	p := &review.Request.Object
	p.Name, p.GenerateName, p.UID, p.ResourceVersion = "", "orders-6d5f9b7c8d-", "", ""
	p.Spec.NodeName = ""
	return p, nil
}

type loadResult struct {
	throughput float64
	p50, p99   time.Duration
	cpu        float64
	rss        string
}

var (
	reThroughput = regexp.MustCompile(`throughput (\d+)/s\s+p50 (\S+)\s+p90 \S+\s+p99 (\S+)`)
	reCPU        = regexp.MustCompile(`webhook CPU ([\d.]+) s per 1,000 admissions\s+RSS (.+)`)
)

func parseLoad(out []byte) (loadResult, error) {
	var r loadResult
	m := reThroughput.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("unexpected webhook-load output:\n%s", out)
	}
	r.throughput, _ = strconv.ParseFloat(string(m[1]), 64)
	r.p50, _ = time.ParseDuration(string(m[2]))
	r.p99, _ = time.ParseDuration(string(m[3]))
	if m := reCPU.FindSubmatch(out); m != nil {
		r.cpu, _ = strconv.ParseFloat(string(m[1]), 64)
		r.rss = string(bytes.TrimSpace(m[2]))
	}
	return r, nil
}

// medianLoad is the run with the median throughput.
func medianLoad(rs []loadResult) loadResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b loadResult) int { return int(a.throughput - b.throughput) })
	return s[len(s)/2]
}

func throughputs(rs []loadResult) string {
	var b bytes.Buffer
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.0f", r.throughput)
	}
	return b.String()
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s) - 1) * p / 100
	return s[i].Round(10 * time.Microsecond)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

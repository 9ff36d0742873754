// Command demo runs headroom end to end on a local embedded cluster (`make demo`): a real etcd,
// kube-apiserver, kube-controller-manager and Prometheus on loopback, a week of generated history,
// the recommender, the webhook in an enforce and a dry-run namespace, and the report.
// Everything runs in a temporary directory and is stopped on exit, also on Ctrl-C; the HTML
// report is kept under out/demo/.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/jvm"
)

const (
	seedNamespace    = "shop"   // enforce
	dryRunNamespace  = "search" // dry-run
	seedWorkload     = "orders"
	dryRunJVM        = "billing"
	optedOutWorkload = "legacy-batch"
	freshWorkload    = "fresh" // no history
)

func main() {
	root := flag.String("root", ".", "repository root")
	out := flag.String("out", "out/demo", "where to keep the HTML report")
	keep := flag.Bool("keep", false, "keep the temporary directory with the servers' logs")
	flag.Parse()
	// `make demo | head` must not kill the demo before it stops its servers: with SIGPIPE ignored
	// a closed stdout only makes writes fail.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	d := &demo{root: *root, out: *out, w: os.Stdout, bin: binIn(*root)}
	err := d.run(ctx, *keep)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nmake demo failed: %v\n", err)
		if d.dir != "" {
			fmt.Fprintf(os.Stderr, "the servers' logs are in %s\n", d.dir)
		}
		os.Exit(1)
	}
}

type demo struct {
	root, out, dir string
	w              io.Writer                // where the demo tells what it does
	bin            func(name string) string // path of a program the demo runs
	cp             *testenv.ControlPlane
	prom           *testenv.Prometheus
	cs             kubernetes.Interface
	rest           *rest.Config
	webhook        *exec.Cmd
	end            time.Time

	before, after podMemory
	warnings      []string
}

func (d *demo) run(ctx context.Context, keep bool) (err error) {
	d.dir, err = os.MkdirTemp("", "headroom-demo-")
	if err != nil {
		return err
	}
	defer func() {
		d.cleanup()
		if err == nil && !keep {
			os.RemoveAll(d.dir)
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Start etcd, kube-apiserver and kube-controller-manager on loopback", d.startCluster},
		{"Generate a week of history and backfill it into Prometheus", d.startPrometheus},
		{"Create namespaces (shop: enforce, search: dry-run) and workloads, before headroom", d.createWorkloads},
		{"Run the recommender once: Prometheus history -> MemoryRecommendations", d.runRecommender},
		{"Start the webhook with locally generated certificates and register it", d.startWebhook},
		{"Roll out the workloads: new pods go through the webhook", d.rollout},
		{"Ask the webhook about a pod in the dry-run namespace", d.dryRunWarnings},
		{"The dry-run report of the search namespace (and an HTML report of both)", d.report},
	}
	total := time.Now()
	for i, s := range steps {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted")
		}
		fmt.Fprintf(d.w, "\n[%d/%d] %s\n", i+1, len(steps), s.name)
		t0 := time.Now()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.name, err)
		}
		fmt.Fprintf(d.w, "      done in %s\n", time.Since(t0).Round(10*time.Millisecond))
	}
	d.summary()
	fmt.Fprintf(d.w, "\nmake demo finished in %s\n", time.Since(total).Round(100*time.Millisecond))
	return nil
}

// binIn finds programs in root/bin (hack/setup.sh and make build put them there), else on PATH.
func binIn(root string) func(string) string {
	return func(name string) string {
		if p := filepath.Join(root, "bin", name); exists(p) {
			return p
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		return filepath.Join(root, "bin", name)
	}
}

func (d *demo) cleanup() {
	if d.webhook != nil {
		_ = d.webhook.Process.Signal(syscall.SIGTERM)
		_ = d.webhook.Wait()
	}
	if d.prom != nil {
		d.prom.Stop()
	}
	if d.cp != nil {
		_ = d.cp.Stop()
	}
}

func (d *demo) startCluster(context.Context) error {
	bins := testenv.Binaries{Etcd: d.bin("etcd"), KubeAPIServer: d.bin("kube-apiserver"), KubeControllerManager: d.bin("kube-controller-manager")}
	cp, err := testenv.NewControlPlane(d.dir, bins, testenv.ControlPlaneOptions{
		CRDPaths:          []string{filepath.Join(d.root, "config", "crd")},
		ControllerManager: true,
	})
	if err != nil {
		return err
	}
	d.cp, d.rest = cp, cp.Config
	d.cs, err = kubernetes.NewForConfig(cp.Config)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.w, "      kube-apiserver %s, kubeconfig %s\n", cp.Config.Host, cp.Kubeconfig)
	return nil
}

// specs loads the demo scenarios with their history ending now.
func (d *demo) specs() ([]*scenario.Spec, error) {
	var specs []*scenario.Spec
	for _, name := range []string{"shop.yaml", "search.yaml"} {
		s, err := scenario.Load(filepath.Join(d.root, "hack", "demo", name))
		if err != nil {
			return nil, err
		}
		s.End = d.end
		specs = append(specs, s)
	}
	return specs, nil
}

func (d *demo) startPrometheus(ctx context.Context) error {
	// History ends a few minutes ago, like a scrape that just happened.
	d.end = time.Now().Add(-2 * time.Minute).Truncate(5 * time.Minute)
	specs, err := d.specs()
	if err != nil {
		return err
	}
	file := filepath.Join(d.dir, "history.om")
	if err := scenario.WriteFile(file, specs...); err != nil {
		return err
	}
	st, _ := os.Stat(file)
	if err := testenv.BackfillFile(d.bin("promtool"), file, filepath.Join(d.dir, "prometheus", "data")); err != nil {
		return err
	}
	p, err := testenv.NewPrometheus(mkdir(filepath.Join(d.dir, "prometheus")), d.bin("prometheus"))
	if err != nil {
		return err
	}
	if err := p.StartServer(ctx); err != nil {
		return err
	}
	d.prom = p
	fmt.Fprintf(d.w, "      %d MiB of OpenMetrics (7 days, 5 min samples) -> Prometheus %s\n", st.Size()>>20, p.URL)
	return nil
}

func (d *demo) createWorkloads(ctx context.Context) error {
	for ns, mode := range map[string]string{seedNamespace: "enforce", dryRunNamespace: "dry-run"} {
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"headroom.dev/mode": mode}}}
		if _, err := d.cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	specs, err := d.specs()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := scenario.WriteManifests(&buf, specs...); err != nil {
		return err
	}
	objs, err := decodeObjects(buf.Bytes())
	if err != nil {
		return err
	}
	objs = append(objs, freshDeployment())
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			switch o.Name {
			case optedOutWorkload:
				o.Spec.Template.Annotations = map[string]string{"headroom.dev/mode": "off"}
			case seedWorkload: // exactly the blog's command line: no exec, $JAVA_OPTS word-split
				o.Spec.Template.Spec.Containers[0].Command = []string{"/bin/sh", "-c", "java $JAVA_OPTS -jar /opt/app.jar"}
			}
			_, err = d.cs.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.StatefulSet:
			_, err = d.cs.AppsV1().StatefulSets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("unexpected object %T in the demo manifests", o)
		}
		if err != nil {
			return fmt.Errorf("create workload: %w", err)
		}
	}
	fmt.Fprintf(d.w, "      %d workloads; waiting for kube-controller-manager to create their pods\n", len(objs))
	pod, err := d.waitPod(ctx, seedNamespace, seedWorkload, func(*corev1.Pod) bool { return true })
	if err != nil {
		return err
	}
	d.before = memoryOf(pod)
	fmt.Fprintf(d.w, "      %s/%s pod %s: limit %s, -Xmx %s (%s)\n", seedNamespace, seedWorkload, pod.Name, d.before.limit, d.before.xmx, d.before.xmxWhere)
	return nil
}

func freshDeployment() *appsv1.Deployment {
	labels := map[string]string{"app": freshWorkload}
	one := int32(1)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: freshWorkload, Namespace: dryRunNamespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.example/fresh:1",
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: mustQuantity("512Mi")}},
				}}},
			},
		},
	}
}

func (d *demo) runRecommender(ctx context.Context) error {
	policy := filepath.Join(d.root, "config", "policy", "policy.yaml")
	out, err := d.headroom(ctx, "recommender", "--once", "--kubeconfig", d.cp.Kubeconfig,
		"--prometheus-url", d.prom.URL, "--policy", policy, "--leader-elect=false",
		"--metrics-bind-address=0", "--health-probe-bind-address=0")
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	list, err := d.recommendations(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(d.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "      NAMESPACE\tNAME\tCONTAINER\tLIMIT\tREQUEST\tXMX\tREASON")
	for _, r := range list.Items {
		for _, c := range r.Status.Containers {
			fmt.Fprintf(tw, "      %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, r.Name, c.Name, qty(c.Limit), qty(c.Request), dash(c.Xmx), shorten(c.Reason, 60))
		}
	}
	tw.Flush()
	return nil
}

func (d *demo) recommendations(ctx context.Context) (*v1alpha1.MemoryRecommendationList, error) {
	var list v1alpha1.MemoryRecommendationList
	raw, err := d.cs.CoreV1().RESTClient().Get().AbsPath("/apis/headroom.dev/v1alpha1/memoryrecommendations").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("list MemoryRecommendations: %w", err)
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("decode MemoryRecommendations: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.MemoryRecommendation) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	if len(list.Items) == 0 {
		return nil, errors.New("the recommender wrote no MemoryRecommendation")
	}
	return &list, nil
}

func (d *demo) startWebhook(ctx context.Context) error {
	certDir := mkdir(filepath.Join(d.dir, "webhook-certs"))
	caPEM, err := testenv.WriteServingCert(certDir)
	if err != nil {
		return err
	}
	port, health := freePort(), freePort()
	cmd := exec.Command(d.bin("headroom"), "webhook", "--kubeconfig", d.cp.Kubeconfig, "--cert-dir", certDir,
		"--port", strconv.Itoa(port), "--metrics-bind-address=0", "--health-probe-bind-address", "127.0.0.1:"+strconv.Itoa(health),
		"--default-mode=dry-run")
	logFile, err := os.Create(filepath.Join(d.dir, "webhook.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start headroom webhook: %w", err)
	}
	d.webhook = cmd
	err = testenv.Poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/readyz", health), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz: %s", resp.Status)
	})
	if err != nil {
		return fmt.Errorf("webhook not ready (log %s): %w", logFile.Name(), err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/mutate-v1-pod", port)
	cfg, err := testenv.RegisterWebhook(ctx, d.cs, filepath.Join(d.root, "config", "webhook", "manifests.yaml"), url, caPEM)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.w, "      headroom webhook on %s (pid %d), MutatingWebhookConfiguration %q from config/webhook\n", url, cmd.Process.Pid, cfg.Name)
	return nil
}

func (d *demo) rollout(ctx context.Context) error {
	patch := []byte(fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"headroom.dev/demo-restart":%q}}}}}`, time.Now().Format(time.RFC3339)))
	deps, err := d.cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, dep := range deps.Items {
		if _, err := d.cs.AppsV1().Deployments(dep.Namespace).Patch(ctx, dep.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("restart %s/%s: %w", dep.Namespace, dep.Name, err)
		}
	}
	pod, err := d.waitPod(ctx, seedNamespace, seedWorkload, func(p *corev1.Pod) bool { return p.Annotations["headroom.dev/sized"] != "" })
	if err != nil {
		return fmt.Errorf("no sized pod of %s/%s: %w (webhook log: %s)", seedNamespace, seedWorkload, err, filepath.Join(d.dir, "webhook.log"))
	}
	d.after = memoryOf(pod)
	fmt.Fprintf(d.w, "      %s/%s pod %s: limit %s, -Xmx %s (%s)\n", seedNamespace, seedWorkload, pod.Name, d.after.limit, d.after.xmx, d.after.xmxWhere)
	fmt.Fprintf(d.w, "      annotation headroom.dev/sized: %s\n", pod.Annotations["headroom.dev/sized"])
	billing, err := d.waitPod(ctx, dryRunNamespace, dryRunJVM, func(p *corev1.Pod) bool { return p.Annotations["headroom.dev/would-size"] != "" })
	if err != nil {
		return fmt.Errorf("no annotated pod of %s/%s in the dry-run namespace: %w", dryRunNamespace, dryRunJVM, err)
	}
	m := memoryOf(billing)
	fmt.Fprintf(d.w, "      %s/%s pod %s (dry-run): unchanged limit %s, -Xmx %s; annotation headroom.dev/would-size: %s\n",
		dryRunNamespace, dryRunJVM, billing.Name, m.limit, m.xmx, billing.Annotations["headroom.dev/would-size"])
	return nil
}

// dryRunWarnings creates a copy of a dry-run namespace pod with a server-side dry run, the way
// `kubectl apply --dry-run=server` would, and shows the warnings the webhook returns.
func (d *demo) dryRunWarnings(ctx context.Context) error {
	pod, err := d.waitPod(ctx, dryRunNamespace, dryRunJVM, func(*corev1.Pod) bool { return true })
	if err != nil {
		return err
	}
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		GenerateName: pod.GenerateName, Namespace: pod.Namespace, Labels: pod.Labels, OwnerReferences: pod.OwnerReferences,
	}, Spec: pod.Spec}
	probe.Spec.NodeName = ""
	delete(probe.Labels, "headroom.dev/demo")
	cfg := rest.CopyConfig(d.rest)
	w := &warnings{}
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Pods(dryRunNamespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		return fmt.Errorf("server-side dry-run create: %w", err)
	}
	d.warnings = w.list()
	if len(d.warnings) == 0 {
		return errors.New("the webhook returned no warning for a pod in the dry-run namespace")
	}
	for _, msg := range d.warnings {
		fmt.Fprintf(d.w, "      Warning: %s\n", msg)
	}
	return nil
}

func (d *demo) report(ctx context.Context) error {
	common := []string{"--kubeconfig", d.cp.Kubeconfig, "--prometheus-url", d.prom.URL,
		"--policy", filepath.Join(d.root, "config", "policy", "policy.yaml")}
	out, err := d.headroom(ctx, append([]string{"report", "-n", dryRunNamespace, "-o", "table"}, common...)...)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	fmt.Fprintln(d.w)
	fmt.Fprint(d.w, indent(out, "      "))
	html, err := filepath.Abs(filepath.Join(d.out, "report.html"))
	if err != nil {
		return err
	}
	mkdir(filepath.Dir(html))
	if out, err := d.headroom(ctx, append([]string{"report", "-A", "-o", "html", "--out", html}, common...)...); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	fmt.Fprintf(d.w, "\n      HTML report: %s\n", html)
	return nil
}

func (d *demo) summary() {
	fmt.Fprintf(d.w, "\nThe seed pod %s/%s (a JVM started by /bin/sh -c 'java $JAVA_OPTS -jar /opt/app.jar'):\n", seedNamespace, seedWorkload)
	fmt.Fprintf(d.w, "  before headroom: limit %-8s request %-8s -Xmx %-6s in %s\n", d.before.limit, d.before.request, d.before.xmx, d.before.xmxWhere)
	fmt.Fprintf(d.w, "  after  headroom: limit %-8s request %-8s -Xmx %-6s in %s\n", d.after.limit, d.after.request, d.after.xmx, d.after.xmxWhere)
	fmt.Fprintf(d.w, "Admission warnings in the dry-run namespace %s: %d\n", dryRunNamespace, len(d.warnings))
}

// headroom runs bin/headroom with args and returns its combined output.
func (d *demo) headroom(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin("headroom"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("headroom %s: %w", args[0], err)
	}
	return out.String(), nil
}

// waitPod waits for a pod of the workload (matched by the app label) that satisfies ok.
func (d *demo) waitPod(ctx context.Context, ns, app string, ok func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var found *corev1.Pod
	err := testenv.Poll(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		pods, err := d.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false, err
		}
		for i := range pods.Items {
			if p := &pods.Items[i]; p.DeletionTimestamp == nil && ok(p) {
				found = p
				return true, nil
			}
		}
		return false, fmt.Errorf("%d pods, none matches", len(pods.Items))
	})
	return found, err
}

type podMemory struct{ limit, request, xmx, xmxWhere string }

func memoryOf(p *corev1.Pod) podMemory {
	c := &p.Spec.Containers[0]
	m := podMemory{limit: "-", request: "-", xmx: "-", xmxWhere: "-"}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		m.limit = q.String()
	}
	if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
		m.request = q.String()
	}
	if h := jvm.Analyze(manifest.JVMContainer(c)); h.MaxHeap > 0 {
		m.xmx, m.xmxWhere = jvm.FormatSize(h.MaxHeap), h.Where.String()
	}
	return m
}

// warnings collects the API server's warning headers.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.msgs)
}

func decodeObjects(stream []byte) ([]any, error) {
	var objs []any
	for _, doc := range bytes.Split(stream, []byte("\n---\n")) {
		if len(bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---")))) == 0 {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode demo manifest: %w", err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mkdir(p string) string {
	_ = os.MkdirAll(p, 0o755)
	return p
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString(prefix + line)
		}
	}
	return b.String()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func qty(q *resource.Quantity) string {
	if q == nil {
		return "-"
	}
	return q.String()
}

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

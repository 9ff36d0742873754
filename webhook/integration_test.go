package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mathrand "math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/mode"
)

// webhookConfig reads the MutatingWebhookConfiguration of config/webhook, so the tests exercise
// the settings that ship. envtest points its clientConfig at the local server and writes
// "https://host:port/" + service.path, so the path's leading slash is dropped here.
func webhookConfig(t *testing.T) *admissionregv1.MutatingWebhookConfiguration {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var cfg admissionregv1.MutatingWebhookConfiguration
	decodeYAML(t, readFile(t, filepath.Join(root, "config", "webhook", "manifests.yaml")), &cfg)
	for i := range cfg.Webhooks {
		if s := cfg.Webhooks[i].ClientConfig.Service; s != nil && s.Path != nil {
			p := strings.TrimPrefix(*s.Path, "/")
			s.Path = &p
		}
	}
	return &cfg
}

func startControlPlane(t *testing.T, withKCM bool) (*testenv.ControlPlane, client.Client) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{
		CRDPaths:          []string{filepath.Join(root, "config", "crd")},
		Webhooks:          envtest.WebhookInstallOptions{MutatingWebhooks: []*admissionregv1.MutatingWebhookConfiguration{webhookConfig(t)}},
		ControllerManager: withKCM,
	})
	return cp, newClient(t, cp.Config)
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	s := testScheme(t)
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runningWebhook is `headroom webhook` running in the test process against the control plane.
type runningWebhook struct {
	mgr    manager.Manager
	cancel context.CancelFunc
	done   chan error
	health string
}

// startWebhook runs the webhook as a user that holds only the ClusterRole of config/rbac/webhook.yaml
// (the chart's, charts/test checks), so a kind the webhook's caches watch without RBAC fails here.
func startWebhook(t *testing.T, cp *testenv.ControlPlane, policy Policy) *runningWebhook {
	t.Helper()
	wo := cp.Env.WebhookInstallOptions
	health := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	mgr, err := NewManager(webhookUser(t, cp), Options{Policy: policy, Host: wo.LocalServingHost, Port: wo.LocalServingPort,
		CertDir: wo.LocalServingCertDir, MetricsBindAddress: "0", HealthProbeBindAddress: health})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &runningWebhook{mgr: mgr, cancel: cancel, done: make(chan error, 1), health: health}
	go func() { w.done <- mgr.Start(ctx) }()
	t.Cleanup(func() { w.stop(t) })
	testenv.WaitFor(t, 30*time.Second, "webhook /readyz", func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+health+"/readyz?verbose", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz %s: %s", resp.Status, body)
	})
	return w
}

// webhookUser binds a new user to the webhook's ClusterRole from config/rbac/webhook.yaml and returns
// its client configuration.
func webhookUser(t *testing.T, cp *testenv.ControlPlane) *rest.Config {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.ClusterRole
	for _, doc := range splitYAML(t, readFile(t, filepath.Join(root, "config", "rbac", "webhook.yaml"))) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind == "ClusterRole" {
			role = &rbacv1.ClusterRole{}
			decodeYAML(t, doc, role)
		}
	}
	if role == nil {
		t.Fatal("config/rbac/webhook.yaml has no ClusterRole")
	}
	const user = "headroom-webhook-test"
	admin := newClient(t, cp.Config)
	ctx := context.Background()
	role.Name = user
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}
	for _, o := range []client.Object{role, binding} {
		if err := admin.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	u, err := cp.Env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u.Config()
}

func (w *runningWebhook) stop(t *testing.T) {
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	select {
	case err := <-w.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("webhook manager: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("webhook manager did not stop")
	}
}

// waitForRecommendation waits until the webhook's cache holds the recommendation's status.
func (w *runningWebhook) waitForRecommendation(t *testing.T, ns, name string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "recommendation in the webhook's cache", func(ctx context.Context) (bool, error) {
		var rec v1alpha1.MemoryRecommendation
		if err := w.mgr.GetCache().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &rec); err != nil {
			return false, err
		}
		return len(rec.Status.Containers) > 0, nil
	})
}

func (w *runningWebhook) waitForLimitRange(t *testing.T, ns string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "limit range in the webhook's cache", func(ctx context.Context) (bool, error) {
		var list corev1.LimitRangeList
		err := w.mgr.GetCache().List(ctx, &list, client.InNamespace(ns))
		return err == nil && len(list.Items) > 0, err
	})
}

func createNamespace(t *testing.T, c client.Client, name string, labels map[string]string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}); err != nil {
		t.Fatal(err)
	}
}

// createRecommendation creates a MemoryRecommendation and sets its status (a subresource).
func createRecommendation(t *testing.T, c client.Client, rec v1alpha1.MemoryRecommendation) {
	t.Helper()
	ctx := context.Background()
	status := rec.Status
	if err := c.Create(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Status = status
	if err := c.Status().Update(ctx, &rec); err != nil {
		t.Fatal(err)
	}
}

func seedRecommendation(ns string) v1alpha1.MemoryRecommendation {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	return v1alpha1.MemoryRecommendation{
		ObjectMeta: metav1.ObjectMeta{Name: "deployment-orders", Namespace: ns},
		Spec:       v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders"}},
		Status: v1alpha1.MemoryRecommendationStatus{Containers: []v1alpha1.ContainerRecommendation{{
			Name: "app", Limit: q("3712Mi"), Request: q("672Mi"), Xmx: "320m", Reason: "Heap use peaks at 160 MB.",
			Observed: v1alpha1.Observed{NonHeapBytes: 180 << 20},
		}}},
	}
}

func seedContainer() corev1.Container {
	return corev1.Container{
		Name: "app", Image: "registry.example/orders:1",
		Command: []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /opt/app.jar"},
		Env:     []corev1.EnvVar{{Name: "JAVA_OPTS", Value: "-Xmx2000m -XX:+UseG1GC"}},
		Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3000Mi")},
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3000Mi")},
		},
	}
}

// ownedPod is a pod as a ReplicaSet of Deployment "orders" would create it (created directly,
// so the test sees the response and its warnings; nothing else manages it).
func ownedPod(ns string) *corev1.Pod {
	tru := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "orders-6d5f9b7c8d-", Namespace: ns,
			Labels: map[string]string{"app": "orders", "pod-template-hash": "6d5f9b7c8d"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "orders-6d5f9b7c8d",
				UID: "5b0a1c2e-1111-4e0b-9c55-2b9a1a0f0001", Controller: &tru}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{seedContainer()}},
	}
}

// warnings collects the admission warnings the API server returns.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

func memoryOf(c corev1.Container) (limit, request string) {
	l := c.Resources.Limits[corev1.ResourceMemory]
	r := c.Resources.Requests[corev1.ResourceMemory]
	return l.String(), r.String()
}

// TestIntegration: the real kube-apiserver calls the webhook over TLS with the shipped
// MutatingWebhookConfiguration; kube-controller-manager creates the Deployments' pods.
func TestIntegration(t *testing.T) {
	cp, c := startControlPlane(t, true)
	w := startWebhook(t, cp, Policy{DefaultMode: mode.Enforce})
	ctx := context.Background()
	warn := &warnings{}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WarningHandler = warn
	cs := kubernetes.NewForConfigOrDie(cfg)

	createNamespace(t, c, "shop", nil)
	createRecommendation(t, c, seedRecommendation("shop"))
	w.waitForRecommendation(t, "shop", "deployment-orders")

	t.Run("a Deployment's pods are sized: limit, request, -Xmx and the annotation", func(t *testing.T) {
		replicas := int32(2)
		labels := map[string]string{"app": "orders"}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{seedContainer()}}}},
		}
		if err := c.Create(ctx, dep); err != nil {
			t.Fatal(err)
		}
		var pods corev1.PodList
		testenv.WaitFor(t, 60*time.Second, "two pods of deployment orders", func(ctx context.Context) (bool, error) {
			err := c.List(ctx, &pods, client.InNamespace("shop"), client.MatchingLabels(labels))
			return err == nil && len(pods.Items) == 2, err
		})
		for _, p := range pods.Items {
			ct := p.Spec.Containers[0]
			if l, r := memoryOf(ct); l != "3712Mi" || r != "672Mi" {
				t.Errorf("pod %s: limit %s request %s, want 3712Mi 672Mi", p.Name, l, r)
			}
			if ct.Env[0].Value != "-Xmx320m -XX:+UseG1GC" {
				t.Errorf("pod %s: JAVA_OPTS %q", p.Name, ct.Env[0].Value)
			}
			rec, err := ParseRecord(p.Annotations[SizedKey])
			if err != nil || rec.Recommendation != "deployment-orders" || len(rec.Containers) != 1 || rec.Containers[0].OldXmx != "2000m" ||
				rec.Containers[0].XmxAt != "env JAVA_OPTS via sh -c" {
				t.Errorf("pod %s: annotation %q (%v)", p.Name, p.Annotations[SizedKey], err)
			}
		}
	})

	t.Run("a dry-run namespace gets warnings and an unchanged pod", func(t *testing.T) {
		createNamespace(t, c, "staging", map[string]string{mode.Key: "dry-run"})
		createRecommendation(t, c, seedRecommendation("staging"))
		w.waitForRecommendation(t, "staging", "deployment-orders")
		warn.take()
		pod, err := cs.CoreV1().Pods("staging").Create(ctx, ownedPod("staging"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l, r := memoryOf(pod.Spec.Containers[0]); l != "3000Mi" || r != "3000Mi" || pod.Spec.Containers[0].Env[0].Value != "-Xmx2000m -XX:+UseG1GC" {
			t.Errorf("dry-run changed the pod: %s %s %q", l, r, pod.Spec.Containers[0].Env[0].Value)
		}
		if _, ok := pod.Annotations[WouldSizeKey]; !ok {
			t.Errorf("no %s annotation: %v", WouldSizeKey, pod.Annotations)
		}
		got := warn.take()
		want := "headroom dry-run: app: limit 3000Mi -> 3712Mi, request 3000Mi -> 672Mi, -Xmx 2000m -> 320m"
		if len(got) != 1 || got[0] != want {
			t.Errorf("warnings %q, want [%q]", got, want)
		}
	})

	t.Run("a server-side dry-run create is sized like a real one and creates nothing", func(t *testing.T) {
		pod, err := cs.CoreV1().Pods("shop").Create(ctx, ownedPod("shop"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := memoryOf(pod.Spec.Containers[0]); l != "3712Mi" {
			t.Errorf("dry-run create: limit %s, want 3712Mi", l)
		}
	})

	t.Run("opted-out namespaces and pods are left alone", func(t *testing.T) {
		createNamespace(t, c, "quiet", map[string]string{mode.Key: "off"})
		createRecommendation(t, c, seedRecommendation("quiet"))
		w.waitForRecommendation(t, "quiet", "deployment-orders")
		optedOut := ownedPod("shop")
		optedOut.Annotations = map[string]string{mode.Key: "off"}
		for _, p := range []*corev1.Pod{ownedPod("quiet"), optedOut} {
			got, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if l, _ := memoryOf(got.Spec.Containers[0]); l != "3000Mi" || got.Annotations[SizedKey] != "" || got.Annotations[WouldSizeKey] != "" {
				t.Errorf("%s/%s was touched: limit %s, annotations %v", got.Namespace, got.Name, l, got.Annotations)
			}
		}
	})

	t.Run("LimitRange defaults apply first, then the sizing stays inside the LimitRange", func(t *testing.T) {
		createNamespace(t, c, "limited", nil)
		lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "limited"},
			Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
				Default: mem("512Mi"), DefaultRequest: mem("256Mi"), Max: mem("1Gi"), Min: mem("64Mi"),
				MaxLimitRequestRatio: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2")}}}}}
		if err := c.Create(ctx, lr); err != nil {
			t.Fatal(err)
		}
		rec := seedRecommendation("limited")
		rec.Status.Containers[0].Limit = ptrTo(resource.MustParse("1536Mi"))  // above the max
		rec.Status.Containers[0].Request = ptrTo(resource.MustParse("256Mi")) // below limit/ratio
		rec.Status.Containers[0].Xmx = "384m"
		rec.Status.Containers[0].Observed.NonHeapBytes = 100 << 20
		createRecommendation(t, c, rec)
		w.waitForRecommendation(t, "limited", "deployment-orders")
		w.waitForLimitRange(t, "limited")
		pod := ownedPod("limited")
		pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{} // LimitRanger sets 512Mi / 256Mi
		pod.Spec.Containers[0].Env[0].Value = "-Xmx256m"
		got, err := cs.CoreV1().Pods("limited").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("the pod was rejected: %v", err)
		}
		if l, r := memoryOf(got.Spec.Containers[0]); l != "1Gi" || r != "512Mi" {
			t.Errorf("limit %s request %s, want 1Gi (LimitRange max) and 512Mi (max ratio 2)", l, r)
		}
		if got.Spec.Containers[0].Env[0].Value != "-Xmx384m" {
			t.Errorf("JAVA_OPTS %q", got.Spec.Containers[0].Env[0].Value)
		}
	})

	t.Run("rotated certificates are served without a restart", func(t *testing.T) {
		rotateCertificates(t, cp, c, w)
		// And the API server, trusting the new CA, still gets pods sized.
		got, err := cs.CoreV1().Pods("shop").Create(ctx, ownedPod("shop"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := memoryOf(got.Spec.Containers[0]); l != "3712Mi" {
			t.Errorf("after rotation: limit %s, want 3712Mi", l)
		}
	})

	t.Run("a hung webhook delays a pod by the 3 s timeout, not more, and the pod is created", func(t *testing.T) {
		w.stop(t)
		addr := net.JoinHostPort(cp.Env.WebhookInstallOptions.LocalServingHost, fmt.Sprint(cp.Env.WebhookInstallOptions.LocalServingPort))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				conn, err := l.Accept() // and never answer
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
		}()
		defer func() {
			l.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		}()
		start := time.Now()
		got, err := cs.CoreV1().Pods("shop").Create(ctx, ownedPod("shop"), metav1.CreateOptions{})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("pod not created with a hung webhook: %v", err)
		}
		if l, _ := memoryOf(got.Spec.Containers[0]); l != "3000Mi" {
			t.Errorf("limit %s, want the pod's own 3000Mi", l)
		}
		if took < 2500*time.Millisecond || took > 8*time.Second {
			t.Errorf("create took %s, want about the 3 s timeout", took)
		}
		t.Logf("create with a hung webhook took %s", took.Round(time.Millisecond))
	})

	t.Run("with the webhook stopped, pods are created at once and unchanged", func(t *testing.T) {
		w.stop(t)
		start := time.Now()
		got, err := cs.CoreV1().Pods("shop").Create(ctx, ownedPod("shop"), metav1.CreateOptions{})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("pod not created with the webhook down: %v", err)
		}
		if l, _ := memoryOf(got.Spec.Containers[0]); l != "3000Mi" || got.Annotations[SizedKey] != "" {
			t.Errorf("limit %s, annotations %v: want the pod unchanged", l, got.Annotations)
		}
		if took > 3*time.Second {
			t.Errorf("create took %s with the webhook down", took)
		}
	})
}

// rotateCertificates makes a new CA and serving certificate, lets the API server trust both CAs
// (as cert-manager's CA injector would), writes the new files into the cert dir and waits until
// the running webhook serves the new certificate.
func rotateCertificates(t *testing.T, cp *testenv.ControlPlane, c client.Client, w *runningWebhook) {
	t.Helper()
	ctx := context.Background()
	wo := cp.Env.WebhookInstallOptions
	addr := net.JoinHostPort(wo.LocalServingHost, fmt.Sprint(wo.LocalServingPort))
	serial := func() *big.Int {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("dial webhook: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	old := serial()

	caPEM, certPEM, keyPEM, leafSerial := newServingCertificate(t, wo.LocalServingHost)
	var cfg admissionregv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, client.ObjectKey{Name: "headroom"}, &cfg); err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Webhooks {
		cfg.Webhooks[i].ClientConfig.CABundle = append(append([]byte{}, wo.LocalServingCAData...), caPEM...)
	}
	if err := c.Update(ctx, &cfg); err != nil {
		t.Fatal(err)
	}
	// Replace each file atomically, as the kubelet does for a Secret volume.
	for name, data := range map[string][]byte{"tls.key": keyPEM, "tls.crt": certPEM} {
		tmp := filepath.Join(wo.LocalServingCertDir, "."+name+".new")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(wo.LocalServingCertDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	testenv.WaitFor(t, 30*time.Second, "the webhook to serve the new certificate", func(context.Context) (bool, error) {
		s := serial()
		return s.Cmp(leafSerial) == 0, fmt.Errorf("still serving serial %v (old %v)", s, old)
	})
	t.Logf("new certificate served %s after the files changed, same process", time.Since(start).Round(time.Millisecond))
	select {
	case err := <-w.done:
		t.Fatalf("the webhook restarted or stopped: %v", err)
	default:
	}
}

func newServingCertificate(t *testing.T, host string) (caPEM, certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "headroom-test-ca-2"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial = big.NewInt(now.UnixNano() + 1)
	leaf := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "headroom-webhook"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(host); ip != nil {
		leaf.IPAddresses = []net.IP{ip}
	} else {
		leaf.DNSNames = append(leaf.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), serial
}

// TestGeneratedPodsPassAPIServerValidation replays FuzzAdmission's generator (its corpus under
// testdata/fuzz and fixed seeds until 150 sized pods were checked) against a real API server: every pod the webhook
// patched must pass a server-side dry-run create (validation, LimitRanger) whenever the pod as it
// came did.
func TestGeneratedPodsPassAPIServerValidation(t *testing.T) {
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{})
	cs := kubernetes.NewForConfigOrDie(cp.Config)
	ctx := context.Background()
	for i, items := range fuzzLimitRanges {
		ns := fmt.Sprintf("fuzz-%d", i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if items != nil {
			lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits"}, Spec: corev1.LimitRangeSpec{Limits: items}}
			if _, err := cs.CoreV1().LimitRanges(ns).Create(ctx, lr, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(time.Second) // LimitRanger reads LimitRanges through an informer

	// The saved corpus first, then fixed seeds until 150 sized pods were checked.
	inputs := fuzzCorpus(t, "FuzzAdmission")
	rng := newSeededBytes(1)
	var checked, skipped, changed int
	for i := 0; i < 6000 && (i < len(inputs) || changed < 150); i++ {
		in := rng(96)
		if i < len(inputs) {
			in = inputs[i]
		}
		c := generate(in)
		c.pod.Namespace = c.ns.Name
		before, after, outcome := admitGenerated(t, c)
		dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
		if _, err := cs.CoreV1().Pods(c.ns.Name).Create(ctx, before.DeepCopy(), dryRun); err != nil {
			skipped++ // the pod as generated is not valid; nothing to compare against
			if testing.Verbose() && skipped <= 5 {
				t.Logf("skipped: %v", err)
			}
			continue
		}
		checked++
		if outcome == OutcomeSized {
			changed++
		}
		if _, err := cs.CoreV1().Pods(c.ns.Name).Create(ctx, after, dryRun); err != nil {
			var status apierrors.APIStatus
			errors.As(err, &status)
			y, _ := yaml.Marshal(after.Spec)
			t.Errorf("outcome %s: the patched pod is rejected: %v\nbefore: %s\nafter:\n%s", outcome, err, mustJSON(t, before.Spec), y)
		}
	}
	t.Logf("%d generated pods checked (%d sized), %d skipped as invalid before sizing", checked, changed, skipped)
	if changed < 150 {
		t.Errorf("too few pods checked (%d) or sized (%d) to mean anything", checked, changed)
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), v1alpha1.AddToScheme(s)); err != nil {
		t.Fatal(err)
	}
	return s
}

// fuzzCorpus reads the inputs of a fuzz target saved under testdata/fuzz (go test fuzz v1).
func fuzzCorpus(t *testing.T, target string) [][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		lines := strings.Split(string(readFile(t, filepath.Join(dir, e.Name()))), "\n")
		if len(lines) < 2 || lines[0] != "go test fuzz v1" {
			continue
		}
		lit, ok := strings.CutPrefix(strings.TrimSpace(lines[1]), "[]byte(")
		if !ok {
			continue
		}
		if s, err := strconv.Unquote(strings.TrimSuffix(lit, ")")); err == nil {
			out = append(out, []byte(s))
		}
	}
	return out
}

// newSeededBytes returns a deterministic source of random byte strings.
func newSeededBytes(seed int64) func(n int) []byte {
	rng := mathrand.New(mathrand.NewSource(seed))
	return func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
}

package testenv_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/headroom-dev/headroom/internal/testenv"
)

// TestSmokeControlPlane creates a Namespace and a Pod through a real kube-apiserver.
func TestSmokeControlPlane(t *testing.T) {
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{})
	cs := kubernetes.NewForConfigOrDie(cp.Config)
	ctx := context.Background()

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "smoke"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "smoke"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "example/app:1",
			Command: []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /opt/app.jar"},
		}}},
	}
	if _, err := cs.CoreV1().Pods("smoke").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	got, err := cs.CoreV1().Pods("smoke").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod: %v", err)
	}
	if got.UID == "" || got.Spec.Containers[0].Command[2] != pod.Spec.Containers[0].Command[2] {
		t.Fatalf("pod read back from the API server differs: %+v", got.Spec.Containers[0])
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if !strings.HasPrefix(v.GitVersion, "v1.37.") {
		t.Errorf("kube-apiserver version %s, want v1.37.x", v.GitVersion)
	}
}

// TestSmokePrometheus backfills a few samples into a real Prometheus and reads them back with client_golang.
func TestSmokePrometheus(t *testing.T) {
	end := time.Now().Add(-time.Hour).Truncate(time.Minute)
	var b strings.Builder
	b.WriteString("# HELP container_memory_rss rss\n# TYPE container_memory_rss gauge\n")
	for i := 0; i < 120; i++ { // two hours at one sample per minute, value = 1 MiB * minute index
		ts := end.Add(time.Duration(i-119) * time.Minute)
		fmt.Fprintf(&b, "container_memory_rss{namespace=\"demo\",pod=\"web-0\",container=\"app\"} %d %d\n", (i+1)<<20, ts.Unix())
	}
	b.WriteString("# EOF\n")
	file := filepath.Join(t.TempDir(), "history.om")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	prom := testenv.StartPrometheus(t, file)
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	val, _, _, err := api.QueryRange(ctx, `container_memory_rss{namespace="demo"}`,
		promv1.Range{Start: end.Add(-119 * time.Minute), End: end, Step: time.Minute})
	if err != nil {
		t.Fatalf("query range: %v", err)
	}
	m, ok := val.(model.Matrix)
	if !ok || len(m) != 1 {
		t.Fatalf("want one series, got %v", val)
	}
	if n := len(m[0].Values); n != 120 {
		t.Fatalf("want 120 samples, got %d", n)
	}
	if first, last := m[0].Values[0].Value, m[0].Values[119].Value; first != 1<<20 || last != 120<<20 {
		t.Errorf("values: first %v last %v, want %d and %d", first, last, 1<<20, 120<<20)
	}
	if pod := m[0].Metric["pod"]; pod != "web-0" {
		t.Errorf("pod label %q, want web-0", pod)
	}
}

// TestSmokeControllerManager proves kube-controller-manager runs: a Deployment gets its Pods.
func TestSmokeControllerManager(t *testing.T) {
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{ControllerManager: true})
	cs := kubernetes.NewForConfigOrDie(cp.Config)
	ctx := context.Background()
	replicas := int32(2)
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/web:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	testenv.WaitFor(t, 60*time.Second, "two pods of deployment web", func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 2, fmt.Errorf("%d pods", len(pods.Items))
	})
}

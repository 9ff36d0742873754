package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/mode"
)

// benchPod is a 3-container JVM pod as the API server sends it at CREATE (defaults filled in,
// service account token volume, default tolerations): an app JVM with -Xmx in JAVA_TOOL_OPTIONS,
// a JMX exporter JVM with -Xmx on its command line and a log shipper.
func benchPod() *corev1.Pod {
	tru, grace, prio := true, int64(30), int32(0)
	policy := corev1.PreemptLowerPriority
	mem := func(l, r string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(l), corev1.ResourceCPU: resource.MustParse("2")},
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(r), corev1.ResourceCPU: resource.MustParse("500m")},
		}
	}
	mounts := []corev1.VolumeMount{
		{Name: "logs", MountPath: "/var/log/app"},
		{Name: "kube-api-access-7x2kq", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true},
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/actuator/health",
		Port: intstr.FromInt32(8080), Scheme: corev1.URISchemeHTTP}}, TimeoutSeconds: 1, PeriodSeconds: 10,
		SuccessThreshold: 1, FailureThreshold: 3}
	base := func(name, image string) corev1.Container {
		no, yes, uid := false, true, int64(10001)
		return corev1.Container{Name: name, Image: image, VolumeMounts: mounts,
			TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy: corev1.PullIfNotPresent,
			SecurityContext: &corev1.SecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, ReadOnlyRootFilesystem: &yes,
				AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}}
	}
	app := base("app", "registry.example/orders:1.42.0")
	app.Command = []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /opt/app.jar"}
	app.Env = []corev1.EnvVar{
		{Name: "SPRING_PROFILES_ACTIVE", Value: "prod"},
		{Name: "JAVA_TOOL_OPTIONS", Value: "-XX:+UseG1GC -Xmx2000m -XX:+ExitOnOutOfMemoryError"},
		{Name: "JAVA_OPTS", Value: "-Dfile.encoding=UTF-8 -Duser.timezone=UTC"},
		{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Value: "http://otel-collector.observability.svc:4317"},
		{Name: "OTEL_SERVICE_NAME", Value: "orders"},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "orders-db"}, Key: "password"}}},
	}
	app.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
	app.Resources = mem("3000Mi", "3000Mi")
	app.ReadinessProbe, app.LivenessProbe, app.StartupProbe = probe, probe, probe
	exporter := base("jmx-exporter", "registry.example/jmx-exporter:1.0.1")
	exporter.Command = []string{"java", "-Xmx96m", "-XX:+UseSerialGC", "-jar", "/opt/jmx_prometheus_httpserver.jar", "9404", "/etc/jmx/config.yaml"}
	exporter.Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9404, Protocol: corev1.ProtocolTCP}}
	exporter.Resources = mem("192Mi", "192Mi")
	shipper := base("log-shipper", "registry.example/fluent-bit:3.2.1")
	shipper.Args = []string{"--config=/fluent-bit/etc/fluent-bit.yaml"}
	shipper.Resources = mem("256Mi", "128Mi")

	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "orders-6d5f9b7c8d-", Namespace: "shop",
			Labels: map[string]string{"app.kubernetes.io/name": "orders", "app.kubernetes.io/part-of": "shop",
				"app.kubernetes.io/instance": "orders-prod", "app.kubernetes.io/version": "1.42.0",
				"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "orders-3.7.1", "pod-template-hash": "6d5f9b7c8d"},
			Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9404", "kubectl.kubernetes.io/restartedAt": "2026-11-18T09:12:44Z"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "orders-6d5f9b7c8d",
				UID: "5b0a1c2e-1111-4e0b-9c55-2b9a1a0f0001", Controller: &tru, BlockOwnerDeletion: &tru}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{app, exporter, shipper},
			Volumes: []corev1.Volume{
				{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "kube-api-access-7x2kq", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptrTo(int64(3607))}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
						Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
				}, DefaultMode: ptrTo(int32(420))}}},
			},
			RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: &grace, DNSPolicy: corev1.DNSClusterFirst,
			ServiceAccountName: "orders", DeprecatedServiceAccount: "orders", SecurityContext: &corev1.PodSecurityContext{},
			SchedulerName: "default-scheduler", Priority: &prio, EnableServiceLinks: &tru, PreemptionPolicy: &policy,
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptrTo(int64(300))},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptrTo(int64(300))},
			},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

func benchRecommendation() v1alpha1.MemoryRecommendation {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	return v1alpha1.MemoryRecommendation{
		ObjectMeta: metav1.ObjectMeta{Name: "deployment-orders", Namespace: "shop"},
		Spec:       v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders"}},
		Status: v1alpha1.MemoryRecommendationStatus{Containers: []v1alpha1.ContainerRecommendation{
			{Name: "app", Limit: q("3712Mi"), Request: q("672Mi"), Xmx: "320m", Observed: v1alpha1.Observed{NonHeapBytes: 180 << 20}},
			{Name: "jmx-exporter", Limit: q("256Mi"), Request: q("224Mi"), Xmx: "128m", Observed: v1alpha1.Observed{NonHeapBytes: 60 << 20}},
			{Name: "log-shipper", Limit: q("384Mi"), Request: q("160Mi")},
		}},
	}
}

// BenchReview returns the AdmissionReview body of the benchmark pod and a store that sizes it:
// shared with hack/webhook-load through the testdata it writes (see TestWriteLoadFixture).
func benchReview(tb testing.TB) ([]byte, *StaticStore) {
	tb.Helper()
	podJSON, err := json.Marshal(benchPod())
	if err != nil {
		tb.Fatal(err)
	}
	store := &StaticStore{
		Namespaces:      []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}},
		Recommendations: []v1alpha1.MemoryRecommendation{benchRecommendation()},
	}
	return admissionReview("705ab4f5-6393-11e8-b7cc-42010a800002", "shop", podJSON, false), store
}

// BenchmarkAdmission is one admission of a 3-container JVM pod through the whole handler:
// decode the AdmissionReview, look up, size (3 limits, 3 requests, 2 -Xmx), patch, encode.
//
//   - sized: the usual case, a pod of a ReplicaSet whose JVM options were seen before;
//   - sized-cold-jvm: package jvm's analysis memo is emptied before every admission;
//   - no-recommendation: a pod of a workload without a recommendation (annotated, not sized);
//   - controller-runtime: the same sizing through controller-runtime's admission.WithDefaulter
//     (typed decode, diff-based patch), for comparison.
func BenchmarkAdmission(b *testing.B) {
	body, store := benchReview(b)
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: store}
	ctx := context.Background()
	run := func(b *testing.B, want Outcome, before func(), body []byte) {
		buf := make([]byte, 0, 8192)
		resp, outcome, err := h.Review(ctx, body, buf)
		if err != nil || outcome != want {
			b.Fatalf("%v %s %s", err, outcome, resp)
		}
		measure(b, len(body), func() {
			before()
			if _, _, err := h.Review(ctx, body, buf[:0]); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("sized", func(b *testing.B) { run(b, OutcomeSized, func() {}, body) })
	b.Run("sized-cold-jvm", func(b *testing.B) {
		run(b, OutcomeSized, func() {
			memo.mu.Lock()
			clear(memo.m)
			memo.mu.Unlock()
		}, body)
	})
	b.Run("no-recommendation", func(b *testing.B) {
		other := &StaticStore{Namespaces: store.Namespaces}
		h := &Handler{Sizer: h.Sizer, Store: other}
		buf := make([]byte, 0, 8192)
		measure(b, len(body), func() {
			if _, o, err := h.Review(ctx, body, buf[:0]); err != nil || o != OutcomeNoRecommendation {
				b.Fatal(err, o)
			}
		})
	})
	b.Run("controller-runtime", func(b *testing.B) {
		wh := controllerRuntimeWebhook(h)
		measure(b, len(body), func() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			wh.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"patch"`)) {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	})
}

func measure(b *testing.B, bodyLen int, op func()) {
	b.SetBytes(int64(bodyLen))
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		op()
	}
	b.StopTimer()
	// CPU time of the process (GC included) per admission: unlike ns/op it does not grow when
	// other processes compete for the cores.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// crDefaulter runs the same sizing as a controller-runtime typed Defaulter.
type crDefaulter struct{ h *Handler }

func (d crDefaulter) Default(ctx context.Context, pod *corev1.Pod) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return err
	}
	pod.Namespace = req.Namespace
	in, ok, err := d.h.lookup(ctx, pod)
	if err != nil || !ok {
		return err
	}
	d.h.Sizer.Size(pod, in)
	return nil
}

func controllerRuntimeWebhook(h *Handler) http.Handler {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	return admission.WithDefaulter[*corev1.Pod](scheme, crDefaulter{h})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestBenchPodIsSized(t *testing.T) {
	body, store := benchReview(t)
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: store}
	resp, outcome, err := h.Review(context.Background(), body, nil)
	if err != nil || outcome != OutcomeSized {
		t.Fatalf("%v %s %s", err, outcome, resp)
	}
	pod, ops, _ := checkResponse(t, resp, "705ab4f5-6393-11e8-b7cc-42010a800002", mustJSON(t, benchPod()))
	if len(ops) != 9 {
		t.Errorf("want 9 patch operations (3 limits, 3 requests, 2 heaps, 1 annotation), got %d: %v", len(ops), ops)
	}
	var sized corev1.Pod
	if err := json.Unmarshal(mustJSON(t, pod), &sized); err != nil {
		t.Fatal(err)
	}
	if err := validatePod(&sized, nil); err != nil {
		t.Error(err)
	}
	if len(body) < 5000 || len(body) > 7000 {
		t.Errorf("AdmissionReview is %d bytes; the benchmark wants one like VPA's measurement (5.8 KB)", len(body))
	}
}

// TestLoadFixture keeps hack/webhook-load/review.json, the load generator's default body, the
// AdmissionReview of BenchmarkAdmission (-update rewrites it).
func TestLoadFixture(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "hack", "webhook-load", "review.json")
	body, _ := benchReview(t)
	if *update {
		if err := os.WriteFile(file, body, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := readFile(t, file); !bytes.Equal(got, body) {
		t.Errorf("%s is not the benchmark's AdmissionReview; rerun with -update", file)
	}
}

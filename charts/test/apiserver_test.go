package charttest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestAPIServer installs the chart into a real kube-apiserver that has cert-manager's CRDs (from the
// cert-manager module) and a ServiceMonitor CRD (from the Prometheus Operator's types), so every
// rendered object, Certificates and Issuers included, is validated by the API server itself.
//
// No Pod is ever created here: the MutatingWebhookConfigurations point at Services without a
// webhook behind them, and the API server would try to reach their cluster IPs.
func TestAPIServer(t *testing.T) {
	requireTool(t, "helm")
	cp := startControlPlane(t, append(certManagerCRDs(t), serviceMonitorCRD(t)))
	c, err := client.New(cp.config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	a := newApplier(t, cp)

	// First, because Helm must create the CRD: later subtests take it over with server-side apply.
	t.Run("helm install, upgrade and uninstall", func(t *testing.T) { helmLifecycle(t, cp, c) })

	for _, set := range valueSets(t) {
		t.Run("apply "+set.name, func(t *testing.T) {
			release := "hr-" + set.name
			ns := release
			// The API server's Pod Security admission warns about workloads whose pods would break
			// the restricted standard: only the agent may.
			psa := map[string]string{"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}
			if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: psa}}); err != nil {
				t.Fatal(err)
			}
			rendered := decode(t, render(t, release, ns, "-f", set.file))
			for _, u := range rendered {
				warnings := a.apply(t, u)
				restricted := u.GetKind() != "DaemonSet"
				if restricted && len(warnings) > 0 {
					t.Errorf("%s %s: the API server warns %q", u.GetKind(), u.GetName(), warnings)
				}
				if !restricted && !slices.ContainsFunc(warnings, func(w string) bool { return strings.Contains(w, "privileged") }) {
					t.Errorf("the privileged agent DaemonSet drew no restricted-policy warning (%q): is Pod Security admission checking?", warnings)
				}
			}
			// Read every object back as the API server stored it, into the Go types (cert-manager's
			// for Certificate and Issuer), and hold the stored objects to the same promises.
			var live []*unstructured.Unstructured
			for _, u := range rendered {
				live = append(live, a.get(t, u))
			}
			stored := typed(t, live)
			checkRender(t, values(t, set), release, ns, stored)
			for _, want := range ofType[*cmapi.Certificate](typed(t, rendered)) {
				got := one[*cmapi.Certificate](t, stored, want.Name)
				if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
					t.Errorf("Certificate %s as stored differs from the render (-render +stored):\n%s", want.Name, diff)
				}
			}
			for _, want := range ofType[*cmapi.Issuer](typed(t, rendered)) {
				got := one[*cmapi.Issuer](t, stored, want.Name)
				if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
					t.Errorf("Issuer %s as stored differs from the render (-render +stored):\n%s", want.Name, diff)
				}
			}
			for _, want := range ofType[*monitoringv1.ServiceMonitor](typed(t, rendered)) {
				got := one[*monitoringv1.ServiceMonitor](t, stored, want.Name)
				if diff := cmp.Diff(want.Spec, got.Spec); diff != "" {
					t.Errorf("ServiceMonitor %s as stored differs from the render (-render +stored):\n%s", want.Name, diff)
				}
			}
		})
	}

	t.Run("the API server rejects what the CRDs forbid", func(t *testing.T) {
		// Proof that validation is real: a Certificate without an issuerRef, and one with a field
		// cert-manager does not know, are refused.
		if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "validation"}}); err != nil {
			t.Fatal(err)
		}
		bad := map[string]string{
			"missing issuerRef": `{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"bad1","namespace":"validation"},"spec":{"secretName":"s","dnsNames":["a"]}}`,
			"unknown field":     `{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"bad2","namespace":"validation"},"spec":{"secretName":"s","dnsNames":["a"],"issuerRef":{"name":"x"},"isCa":true}}`,
			"bad interval":      `{"apiVersion":"monitoring.coreos.com/v1","kind":"ServiceMonitor","metadata":{"name":"bad3","namespace":"validation"},"spec":{"selector":{},"endpoints":[{"port":"metrics","interval":"1 minute"}]}}`,
		}
		for name, doc := range bad {
			u := &unstructured.Unstructured{}
			if err := json.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatal(err)
			}
			err := a.tryCreate(u)
			if err == nil {
				t.Errorf("%s: the API server accepted %s", name, doc)
			} else if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Errorf("%s: rejected for another reason than validation (%s, %d): %v", name, apierrors.ReasonForError(err), errCode(err), err)
			}
		}
	})

	t.Run("the sample MemoryRecommendation validates against the CRD", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "samples", "headroom.dev_v1alpha1_memoryrecommendation.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		sample := decode(t, string(b))[0]
		// The CRD as controller-gen writes it (the chart's copy is identical, see TestChartCRDIsConfigCRD).
		crd, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "crd", "headroom.dev_memoryrecommendations.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		a.apply(t, decode(t, string(crd))[0])
		if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sample.GetNamespace()}}); err != nil {
			t.Fatal(err)
		}
		status := sample.Object["status"]
		a.apply(t, sample) // the status is dropped on the main resource
		a.applyStatus(t, sample, status)
		got := a.get(t, sample)
		if diff := cmp.Diff(viaJSON(t, status), viaJSON(t, got.Object["status"])); diff != "" {
			t.Errorf("status as stored differs from the sample (-sample +stored):\n%s", diff)
		}
	})
}

// helmLifecycle is the real install path: helm install with cert-manager, an upgrade to Helm-made
// certificates that must survive further upgrades unchanged, the agent and ServiceMonitors turned on,
// and an uninstall that keeps the CRD.
func helmLifecycle(t *testing.T, cp *controlPlane, c client.Client) {
	ctx := context.Background()
	n := namesOf(goldenRelease)
	ns := goldenNamespace
	run := func(args ...string) string {
		t.Helper()
		out, err := helm(t, append(args, "--kubeconfig", cp.kubeconfig, "--namespace", ns)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	chart := chartDir(t)
	out := run("install", goldenRelease, chart, "--create-namespace")
	// NOTES.txt tells the user what to do next.
	for _, want := range []string{
		"DRY-RUN mode",
		"kubectl get mrec -A",
		"kubectl -n " + ns + " port-forward deploy/" + n.recommender + " 8080",
		"http://localhost:8080/report?namespace=NAMESPACE",
		"headroom report -n NAMESPACE",
		"headroom.dev/mode=enforce",
		"headroom.dev/mode=off",
		`headroom.dev/mode: "off"`,
		"fails open",
		"kubectl -n " + ns + " get certificate " + n.webhook,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("helm install notes lack %q:\n%s", want, out)
		}
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: n.webhook}, mwc); err != nil {
		t.Fatal(err)
	}
	if got := mwc.Annotations["cert-manager.io/inject-ca-from"]; got != ns+"/"+n.webhook {
		t.Errorf("installed inject-ca-from %q", got)
	}
	var certs cmapi.CertificateList
	if err := c.List(ctx, &certs, client.InNamespace(ns)); err != nil || len(certs.Items) != 2 {
		t.Fatalf("installed Certificates: %d (%v), want 2", len(certs.Items), err)
	}

	// Without cert-manager: Helm generates the pair, and later upgrades reuse it (lookup).
	generatedTLS := func() (*corev1.Secret, []byte) {
		t.Helper()
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: n.webhook + "-tls-generated"}, s); err != nil {
			t.Fatal(err)
		}
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := c.Get(ctx, client.ObjectKey{Name: n.webhook}, m); err != nil {
			t.Fatal(err)
		}
		return s, m.Webhooks[0].ClientConfig.CABundle
	}
	run("upgrade", goldenRelease, chart, "--set", "certManager.enabled=false")
	first, bundle := generatedTLS()
	if string(bundle) != string(first.Data["ca.crt"]) || len(bundle) == 0 {
		t.Fatal("after the upgrade the caBundle is not the generated Secret's ca.crt")
	}
	if err := c.List(ctx, &certs, client.InNamespace(ns)); err != nil || len(certs.Items) != 0 {
		t.Errorf("Certificates left after turning cert-manager off: %d (%v)", len(certs.Items), err)
	}
	run("upgrade", goldenRelease, chart, "--set", "certManager.enabled=false", "--set", "webhook.replicaCount=3")
	out = run("upgrade", goldenRelease, chart, "--reuse-values", "--set", "agent.enabled=true", "--set", "serviceMonitor.enabled=true")
	// The notes give the threshold the agent runs with: policy.targetUtilization - 0.05.
	if want := "reclaims a container's page cache above 0.75 of its limit"; !strings.Contains(out, want) {
		t.Errorf("helm upgrade notes lack %q:\n%s", want, out)
	}
	again, bundleAgain := generatedTLS()
	if diff := cmp.Diff(first.Data, again.Data); diff != "" {
		t.Error("helm upgrade regenerated the webhook certificate; it must reuse the existing Secret")
	}
	if string(bundleAgain) != string(bundle) {
		t.Error("helm upgrade changed the caBundle")
	}
	ds := &appsv1.DaemonSet{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: n.agent}, ds); err != nil {
		t.Errorf("agent DaemonSet after enabling it: %v", err)
	}
	var sms monitoringv1.ServiceMonitorList
	if err := c.List(ctx, &sms, client.InNamespace(ns)); err != nil || len(sms.Items) != 3 {
		t.Errorf("ServiceMonitors: %d (%v), want 3", len(sms.Items), err)
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: n.recommender + "-policy"}, cm); err != nil || !strings.Contains(cm.Data["policy.yaml"], "horizon: 2h") {
		t.Errorf("policy with the agent on: %q (%v), want horizon 2h", cm.Data["policy.yaml"], err)
	}

	run("uninstall", goldenRelease)
	if err := c.Get(ctx, client.ObjectKey{Name: n.webhook}, &admissionregistrationv1.MutatingWebhookConfiguration{}); !apierrors.IsNotFound(err) {
		t.Errorf("MutatingWebhookConfiguration after uninstall: %v, want not found", err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := c.Get(ctx, client.ObjectKey{Name: "memoryrecommendations.headroom.dev"}, crd); err != nil {
		t.Errorf("the CRD must survive uninstall (helm.sh/resource-policy: keep): %v", err)
	}
}

// applier creates objects with server-side apply and strict field validation, so the API server
// rejects unknown fields instead of dropping them (server-side apply refuses fields a CRD schema does
// not declare in any case).
type applier struct {
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	warnings *warnings
}

// warnings collects the Warning headers of the API server's answers.
type warnings struct {
	mu   sync.Mutex
	seen []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

func newApplier(t *testing.T, cp *controlPlane) *applier {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cp.config)
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	cfg := rest.CopyConfig(cp.config)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), warnings: w}
}

func (a *applier) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.Reset() // a CRD applied since the last discovery
		m, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), nil
	}
	return a.dyn.Resource(m.Resource), nil
}

func (a *applier) tryApply(u *unstructured.Unstructured, subresources ...string) error {
	r, err := a.resource(u)
	if err != nil {
		return err
	}
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	force := true
	_, err = r.Patch(context.Background(), u.GetName(), types.ApplyPatchType, b,
		metav1.PatchOptions{FieldManager: "chart-test", Force: &force, FieldValidation: metav1.FieldValidationStrict}, subresources...)
	return err
}

// tryCreate creates an object the way kubectl create does, with strict field validation.
func (a *applier) tryCreate(u *unstructured.Unstructured) error {
	r, err := a.resource(u)
	if err != nil {
		return err
	}
	_, err = r.Create(context.Background(), u, metav1.CreateOptions{FieldManager: "chart-test", FieldValidation: metav1.FieldValidationStrict})
	return err
}

// apply applies u and returns the API server's warnings about it.
func (a *applier) apply(t *testing.T, u *unstructured.Unstructured) []string {
	t.Helper()
	a.warnings.take()
	if err := a.tryApply(u); err != nil {
		t.Fatalf("the API server rejected %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	w := a.warnings.take()
	if u.GetKind() == "CustomResourceDefinition" {
		a.waitEstablished(t, u.GetName())
	}
	return w
}

func (a *applier) applyStatus(t *testing.T, u *unstructured.Unstructured, status any) {
	t.Helper()
	s := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{"name": u.GetName(), "namespace": u.GetNamespace()},
		"status":   status,
	}}
	if err := a.tryApply(s, "status"); err != nil {
		t.Fatalf("the API server rejected the status of %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

func (a *applier) get(t *testing.T, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	r, err := a.resource(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(context.Background(), u.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return got
}

func (a *applier) waitEstablished(t *testing.T, name string) {
	t.Helper()
	r := a.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		u, err := r.Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					a.mapper.Reset()
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s not established after 30s", name)
}

// viaJSON round-trips a value through JSON, so numbers compare alike whichever decoder made them.
func viaJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func errCode(err error) int32 {
	if s, ok := err.(apierrors.APIStatus); ok {
		return s.Status().Code
	}
	return 0
}

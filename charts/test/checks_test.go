package charttest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// names are the object names of a release (the chart's fullname: release names containing
// "headroom" are used as they are).
type names struct{ full, webhook, recommender, agent string }

func namesOf(release string) names {
	full := release
	if !strings.Contains(release, "headroom") {
		full = release + "-headroom"
	}
	return names{full: full, webhook: full + "-webhook", recommender: full + "-recommender", agent: full + "-agent"}
}

func recommenderDeployment(t testing.TB, objs objects, release string) *appsv1.Deployment {
	t.Helper()
	return one[*appsv1.Deployment](t, objs, namesOf(release).recommender)
}

// checkRender asserts what every install must keep, for the effective values v.
func checkRender(t *testing.T, v map[string]any, release, ns string, objs objects) {
	n := namesOf(release)
	certManager := valBool(t, v, "certManager.enabled")
	agent := valBool(t, v, "agent.enabled")

	t.Run("metadata", func(t *testing.T) { checkMetadata(t, release, ns, objs) })
	t.Run("mutating webhook configuration", func(t *testing.T) { checkWebhookConfiguration(t, v, n, ns, objs) })
	t.Run("namespace selector", func(t *testing.T) { checkNamespaceSelector(t, v, n, ns, objs) })
	t.Run("certificates", func(t *testing.T) {
		if certManager {
			checkCertManager(t, v, n, ns, objs)
		} else {
			checkGeneratedCertificate(t, n, ns, objs)
		}
	})
	t.Run("containers", func(t *testing.T) { checkContainers(t, v, n, objs) })
	t.Run("webhook deployment", func(t *testing.T) { checkWebhookDeployment(t, v, n, objs) })
	t.Run("recommender", func(t *testing.T) { checkRecommender(t, v, n, ns, objs) })
	t.Run("agent", func(t *testing.T) {
		if agent {
			checkAgent(t, v, n, ns, objs)
		} else if len(ofType[*appsv1.DaemonSet](objs)) != 0 {
			t.Error("agent.enabled is false but a DaemonSet is rendered")
		}
	})
	t.Run("services", func(t *testing.T) { checkServices(t, objs) })
	t.Run("rbac", func(t *testing.T) { checkRBAC(t, agent, n, ns, objs) })
	t.Run("service monitors", func(t *testing.T) { checkServiceMonitors(t, v, n, objs) })
	t.Run("crd", func(t *testing.T) {
		crds := ofType[*apiextensionsv1.CustomResourceDefinition](objs)
		if want := valBool(t, v, "crds.enabled"); want != (len(crds) == 1) {
			t.Errorf("crds.enabled=%v but %d CRDs are rendered", want, len(crds))
		}
	})
}

func checkMetadata(t *testing.T, release, ns string, objs objects) {
	for _, o := range objs.all {
		l := o.GetLabels()
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if l[k] == "" {
				t.Errorf("%s has no %s label", kindName(o), k)
			}
		}
		if l["app.kubernetes.io/instance"] != release {
			t.Errorf("%s: app.kubernetes.io/instance=%q, want %q", kindName(o), l["app.kubernetes.io/instance"], release)
		}
		if namespaced(o) && o.GetNamespace() != ns {
			t.Errorf("%s is in namespace %q, want the release namespace %q", kindName(o), o.GetNamespace(), ns)
		}
		if !namespaced(o) && o.GetNamespace() != "" {
			t.Errorf("cluster-scoped %s has namespace %q", kindName(o), o.GetNamespace())
		}
	}
}

func namespaced(o client.Object) bool {
	switch o.(type) {
	case *apiextensionsv1.CustomResourceDefinition, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding,
		*admissionregistrationv1.MutatingWebhookConfiguration:
		return false
	}
	return true
}

func checkWebhookConfiguration(t *testing.T, v map[string]any, n names, ns string, objs objects) {
	mwcs := ofType[*admissionregistrationv1.MutatingWebhookConfiguration](objs)
	if len(mwcs) != 1 || len(mwcs[0].Webhooks) != 1 {
		t.Fatalf("want one MutatingWebhookConfiguration with one webhook, got %d", len(mwcs))
	}
	if n := len(ofType[*admissionregistrationv1.ValidatingWebhookConfiguration](objs)); n != 0 {
		t.Errorf("%d ValidatingWebhookConfigurations rendered; headroom only mutates", n)
	}
	w := mwcs[0].Webhooks[0]
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Ignore {
		t.Errorf("failurePolicy %v, want Ignore: the webhook must fail open", deref(w.FailurePolicy))
	}
	if w.TimeoutSeconds == nil || *w.TimeoutSeconds > 5 || *w.TimeoutSeconds < 1 {
		t.Errorf("timeoutSeconds %v, want 1..5", deref(w.TimeoutSeconds))
	} else if want := val(t, v, "webhook.timeoutSeconds"); float64(*w.TimeoutSeconds) != toFloat(want) {
		t.Errorf("timeoutSeconds %d, want webhook.timeoutSeconds %v", *w.TimeoutSeconds, want)
	}
	if w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone {
		t.Errorf("sideEffects %v, want None", deref(w.SideEffects))
	}
	if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("reinvocationPolicy %v, want IfNeeded", deref(w.ReinvocationPolicy))
	}
	if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("admissionReviewVersions %v, want [v1]", w.AdmissionReviewVersions)
	}
	wantRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: ptr(admissionregistrationv1.NamespacedScope),
		},
	}}
	if diff := cmp.Diff(wantRules, w.Rules); diff != "" {
		t.Errorf("rules: want pods CREATE only (-want +got):\n%s", diff)
	}
	svc := w.ClientConfig.Service
	if svc == nil || svc.Name != n.webhook || svc.Namespace != ns || deref(svc.Path) != "/mutate-v1-pod" || deref(svc.Port) != 443 {
		t.Errorf("clientConfig.service %+v, want %s/%s:443/mutate-v1-pod", svc, ns, n.webhook)
	}
	if w.ObjectSelector != nil && (len(w.ObjectSelector.MatchLabels) > 0 || len(w.ObjectSelector.MatchExpressions) > 0) {
		t.Errorf("objectSelector %v: opting out is per namespace label and pod annotation, not pod labels", w.ObjectSelector)
	}
}

// checkNamespaceSelector evaluates the selector against namespaces as the API server labels them.
func checkNamespaceSelector(t *testing.T, v map[string]any, n names, ns string, objs objects) {
	mwcs := ofType[*admissionregistrationv1.MutatingWebhookConfiguration](objs)
	if len(mwcs) != 1 || len(mwcs[0].Webhooks) != 1 {
		t.Fatal("no webhook")
	}
	sel, err := metav1.LabelSelectorAsSelector(mwcs[0].Webhooks[0].NamespaceSelector)
	if err != nil {
		t.Fatalf("namespaceSelector: %v", err)
	}
	optIn := valString(t, v, "defaultMode") == "off"
	cases := []struct {
		name, mode string
		sent       bool
	}{
		{"kube-system", "", false},
		{"kube-system", "enforce", false},
		{"kube-node-lease", "", false},
		{"kube-public", "", false},
		{ns, "", false},
		{ns, "enforce", false},
		{"team-a", "off", false},
		{"team-a", "", !optIn},
		{"team-a", "enforce", true},
		{"team-a", "dry-run", true},
		{"default", "", !optIn},
	}
	for _, c := range cases {
		l := labels.Set{"kubernetes.io/metadata.name": c.name}
		if c.mode != "" {
			l["headroom.dev/mode"] = c.mode
		}
		if got := sel.Matches(l); got != c.sent {
			t.Errorf("namespace %s with headroom.dev/mode=%q: sent to the webhook %v, want %v (selector %s)", c.name, c.mode, got, c.sent, sel)
		}
	}
	for _, ex := range val(t, v, "webhook.namespaceSelector.excludeNamespaces").([]any) {
		if sel.Matches(labels.Set{"kubernetes.io/metadata.name": ex.(string), "headroom.dev/mode": "enforce"}) {
			t.Errorf("excluded namespace %s is sent to the webhook", ex)
		}
	}
}

func checkCertManager(t *testing.T, v map[string]any, n names, ns string, objs objects) {
	mwc := one[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs, n.webhook)
	ref := mwc.Annotations["cert-manager.io/inject-ca-from"]
	certName, ok := strings.CutPrefix(ref, ns+"/")
	if !ok {
		t.Fatalf("cert-manager.io/inject-ca-from %q, want %s/<Certificate>", ref, ns)
	}
	if len(mwc.Webhooks[0].ClientConfig.CABundle) != 0 {
		t.Error("caBundle is set although cert-manager's cainjector owns it")
	}
	serving := one[*cmapi.Certificate](t, objs, certName)
	deploy := one[*appsv1.Deployment](t, objs, n.webhook)
	if got := tlsSecretOf(t, deploy); got != serving.Spec.SecretName {
		t.Errorf("webhook mounts Secret %q, but the serving Certificate writes %q", got, serving.Spec.SecretName)
	}
	for _, dns := range []string{n.webhook + "." + ns + ".svc", n.webhook + "." + ns} {
		if !slices.Contains(serving.Spec.DNSNames, dns) {
			t.Errorf("serving Certificate dnsNames %v lack %s", serving.Spec.DNSNames, dns)
		}
	}
	if serving.Spec.IsCA || !slices.Contains(serving.Spec.Usages, cmapi.UsageServerAuth) {
		t.Errorf("serving Certificate isCA=%v usages=%v, want a leaf with server auth", serving.Spec.IsCA, serving.Spec.Usages)
	}
	if serving.Spec.Duration == nil || serving.Spec.RenewBefore == nil || serving.Spec.RenewBefore.Duration >= serving.Spec.Duration.Duration {
		t.Errorf("serving Certificate duration %v renewBefore %v: renewBefore must be shorter", serving.Spec.Duration, serving.Spec.RenewBefore)
	}
	// serving Certificate -> CA Issuer -> CA Certificate -> self-signed Issuer.
	caIssuer := issuer(t, objs, serving.Spec.IssuerRef.Name, serving.Spec.IssuerRef.Kind, serving.Spec.IssuerRef.Group)
	if caIssuer.Spec.CA == nil {
		t.Fatalf("the serving Certificate's Issuer %s is not a CA Issuer", caIssuer.Name)
	}
	var ca *cmapi.Certificate
	for _, c := range ofType[*cmapi.Certificate](objs) {
		if c.Spec.SecretName == caIssuer.Spec.CA.SecretName {
			ca = c
		}
	}
	if ca == nil {
		t.Fatalf("no Certificate writes the CA Issuer's Secret %s", caIssuer.Spec.CA.SecretName)
	}
	if !ca.Spec.IsCA {
		t.Errorf("CA Certificate %s has isCA false", ca.Name)
	}
	root := issuer(t, objs, ca.Spec.IssuerRef.Name, ca.Spec.IssuerRef.Kind, ca.Spec.IssuerRef.Group)
	if root.Spec.SelfSigned == nil {
		t.Errorf("the CA Certificate's Issuer %s is not self-signed", root.Name)
	}
	if got := len(ofType[*cmapi.Certificate](objs)); got != 2 {
		t.Errorf("%d Certificates rendered, want 2 (CA and serving)", got)
	}
	if has[*corev1.Secret](objs, n.webhook+"-tls-generated") {
		t.Error("a Helm-generated certificate Secret is rendered although cert-manager issues it")
	}
}

func issuer(t *testing.T, objs objects, name, kind, group string) *cmapi.Issuer {
	t.Helper()
	if kind != "Issuer" || group != "cert-manager.io" {
		t.Fatalf("issuerRef %s kind %q group %q: want a namespaced cert-manager.io Issuer of the chart", name, kind, group)
	}
	return one[*cmapi.Issuer](t, objs, name)
}

// checkGeneratedCertificate checks the Helm-generated pair: valid PEM, signed by the CA in the
// caBundle, for the Service's DNS names, and the key matches.
func checkGeneratedCertificate(t *testing.T, n names, ns string, objs objects) {
	if c := len(ofType[*cmapi.Certificate](objs)) + len(ofType[*cmapi.Issuer](objs)); c != 0 {
		t.Errorf("certManager.enabled=false but %d cert-manager objects are rendered", c)
	}
	mwc := one[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs, n.webhook)
	if _, ok := mwc.Annotations["cert-manager.io/inject-ca-from"]; ok {
		t.Error("inject-ca-from annotation set without cert-manager")
	}
	deploy := one[*appsv1.Deployment](t, objs, n.webhook)
	sec := one[*corev1.Secret](t, objs, tlsSecretOf(t, deploy))
	if sec.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %q, want kubernetes.io/tls", sec.Type)
	}
	if string(sec.Data["ca.crt"]) != string(mwc.Webhooks[0].ClientConfig.CABundle) {
		t.Fatal("caBundle differs from the Secret's ca.crt: the Secret and the configuration were generated separately")
	}
	ca := parseCert(t, "ca.crt", sec.Data["ca.crt"])
	if !ca.IsCA {
		t.Error("ca.crt is not a CA certificate")
	}
	leaf := parseCert(t, "tls.crt", sec.Data["tls.crt"])
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, dns := range []string{n.webhook + "." + ns + ".svc", n.webhook + "." + ns, n.webhook} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: dns, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("tls.crt does not verify for %s against ca.crt: %v", dns, err)
		}
	}
	if _, err := tls.X509KeyPair(sec.Data["tls.crt"], sec.Data["tls.key"]); err != nil {
		t.Errorf("tls.key does not match tls.crt: %v", err)
	}
}

func parseCert(t *testing.T, what string, b []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("%s is not one PEM certificate", what)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return c
}

func tlsSecretOf(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	for _, vol := range d.Spec.Template.Spec.Volumes {
		if vol.Name == "tls" && vol.Secret != nil {
			return vol.Secret.SecretName
		}
	}
	t.Fatalf("Deployment %s mounts no tls Secret", d.Name)
	return ""
}

// podSpecs are the pod templates of every workload in the render.
func podSpecs(objs objects) map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, d := range ofType[*appsv1.Deployment](objs) {
		out[kindName(d)] = &d.Spec.Template
	}
	for _, d := range ofType[*appsv1.DaemonSet](objs) {
		out[kindName(d)] = &d.Spec.Template
	}
	return out
}

// checkContainers: every container has requests and a memory limit and probes; every container
// but the agent's runs restricted (non-root, no privilege, no capabilities, read-only root, seccomp).
func checkContainers(t *testing.T, v map[string]any, n names, objs objects) {
	for name, pt := range podSpecs(objs) {
		spec := pt.Spec
		if !has[*corev1.ServiceAccount](objs, spec.ServiceAccountName) {
			t.Errorf("%s runs as ServiceAccount %q, which the chart does not create", name, spec.ServiceAccountName)
		}
		if len(spec.InitContainers) != 0 {
			t.Errorf("%s has init containers", name)
		}
		for _, c := range spec.Containers {
			where := name + " container " + c.Name
			r := c.Resources
			if r.Requests.Memory().IsZero() || r.Requests.Cpu().IsZero() || r.Limits.Memory().IsZero() {
				t.Errorf("%s: resources %v, want cpu and memory requests and a memory limit", where, r)
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("%s lacks a readiness or liveness probe", where)
			}
			if !strings.HasPrefix(c.Image, valString(t, v, "image.repository")) {
				t.Errorf("%s image %q is not image.repository", where, c.Image)
			}
			// headroom sets the Go runtime's soft memory limit from this (cmd/headroom/memlimit.go).
			if !memoryLimitFromDownwardAPI(c.Env) {
				t.Errorf("%s: env lacks HEADROOM_MEMORY_LIMIT from resourceFieldRef limits.memory: %v", where, c.Env)
			}
			if name == "DaemonSet/"+n.agent {
				continue // checkAgent: the one privileged container
			}
			checkRestricted(t, where, spec.SecurityContext, c.SecurityContext)
			if spec.HostPID || spec.HostNetwork || spec.HostIPC {
				t.Errorf("%s shares a host namespace", name)
			}
			for _, vol := range spec.Volumes {
				if vol.HostPath != nil {
					t.Errorf("%s mounts the host path %s", name, vol.HostPath.Path)
				}
			}
		}
	}
}

func memoryLimitFromDownwardAPI(env []corev1.EnvVar) bool {
	for _, e := range env {
		if e.Name == "HEADROOM_MEMORY_LIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
			e.ValueFrom.ResourceFieldRef.Resource == "limits.memory" {
			return true
		}
	}
	return false
}

// checkRestricted is the restricted Pod Security Standard plus a read-only root filesystem.
func checkRestricted(t *testing.T, where string, pod *corev1.PodSecurityContext, c *corev1.SecurityContext) {
	t.Helper()
	if pod == nil || c == nil {
		t.Errorf("%s: pod or container securityContext missing", where)
		return
	}
	nonRoot := deref(pod.RunAsNonRoot) || deref(c.RunAsNonRoot)
	user := pod.RunAsUser
	if c.RunAsUser != nil {
		user = c.RunAsUser
	}
	if !nonRoot || user == nil || *user == 0 {
		t.Errorf("%s: runAsNonRoot %v runAsUser %v, want non-root", where, nonRoot, deref(user))
	}
	seccomp := pod.SeccompProfile
	if c.SeccompProfile != nil {
		seccomp = c.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile %v, want RuntimeDefault", where, seccomp)
	}
	if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation must be false", where)
	}
	if deref(c.Privileged) {
		t.Errorf("%s is privileged", where)
	}
	if !deref(c.ReadOnlyRootFilesystem) {
		t.Errorf("%s: readOnlyRootFilesystem must be true", where)
	}
	if c.Capabilities == nil || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(c.Capabilities.Add) != 0 {
		t.Errorf("%s: capabilities %v, want drop [ALL] and nothing added", where, c.Capabilities)
	}
}

func checkWebhookDeployment(t *testing.T, v map[string]any, n names, objs objects) {
	d := one[*appsv1.Deployment](t, objs, n.webhook)
	if got, want := deref(d.Spec.Replicas), int32(toFloat(val(t, v, "webhook.replicaCount"))); got != want {
		t.Errorf("webhook replicas %d, want %d", got, want)
	}
	mode := valString(t, v, "defaultMode")
	args := d.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"webhook", "--cert-dir=/tls", "--default-mode=" + mode, "--health-probe-bind-address=:8081", "--metrics-bind-address=:8080"} {
		if !slices.Contains(args, want) {
			t.Errorf("webhook args %v lack %s", args, want)
		}
	}
	requests := "--requests=recommendation"
	if valString(t, v, "policy.request") == "keep" {
		requests = "--requests=keep"
	}
	if !slices.Contains(args, requests) {
		t.Errorf("webhook args %v lack %s (policy.request %s)", args, requests, valString(t, v, "policy.request"))
	}
	if got := slices.Contains(args, "--set-missing-limits"); got != valBool(t, v, "policy.addMissingLimit") {
		t.Errorf("--set-missing-limits present=%v, want policy.addMissingLimit", got)
	}
	aff := d.Spec.Template.Spec.Affinity
	switch valString(t, v, "webhook.podAntiAffinity") {
	case "soft":
		if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("webhook affinity %v, want preferred pod anti-affinity", aff)
		}
	case "hard":
		if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("webhook affinity %v, want required pod anti-affinity", aff)
		}
	}
	pdbs := ofType[*policyv1.PodDisruptionBudget](objs)
	if !valBool(t, v, "webhook.podDisruptionBudget.enabled") {
		if len(pdbs) != 0 {
			t.Error("PodDisruptionBudget rendered although disabled")
		}
		return
	}
	if len(pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(pdbs))
	}
	sel, err := metav1.LabelSelectorAsSelector(pdbs[0].Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("PodDisruptionBudget selector %v does not select the webhook pods (%v)", pdbs[0].Spec.Selector, err)
	}
	if pdbs[0].Spec.MaxUnavailable == nil || *pdbs[0].Spec.MaxUnavailable == intstr.FromInt32(0) {
		t.Errorf("PodDisruptionBudget maxUnavailable %v", pdbs[0].Spec.MaxUnavailable)
	}
}

func checkRecommender(t *testing.T, v map[string]any, n names, ns string, objs objects) {
	d := one[*appsv1.Deployment](t, objs, n.recommender)
	c := d.Spec.Template.Spec.Containers[0]
	prom := valString(t, v, "recommender.prometheus.url")
	// The release namespace is never sized, merged with the user's exclusions.
	exclude := "--exclude-namespaces=" + strings.Join(excluded(t, v, "recommender.excludeNamespaces", ns), ",")
	for _, want := range []string{"recommender", "--prometheus-url=" + prom, "--policy=/etc/headroom/policy.yaml", "--leader-elect",
		"--interval=" + valString(t, v, "recommender.interval"), exclude} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("recommender args %v lack %s", c.Args, want)
		}
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	vols := map[string]corev1.Volume{}
	for _, vol := range d.Spec.Template.Spec.Volumes {
		vols[vol.Name] = vol
	}
	cm := one[*corev1.ConfigMap](t, objs, n.recommender+"-policy")
	if vols["policy"].ConfigMap == nil || vols["policy"].ConfigMap.Name != cm.Name || mounts["policy"] != "/etc/headroom" {
		t.Errorf("policy ConfigMap %s is not mounted at /etc/headroom", cm.Name)
	}
	if tok := valString(t, v, "recommender.prometheus.bearerToken.secretName"); tok != "" {
		key := valString(t, v, "recommender.prometheus.bearerToken.key")
		if vols["prometheus-token"].Secret == nil || vols["prometheus-token"].Secret.SecretName != tok {
			t.Errorf("bearer token Secret %s is not mounted", tok)
		}
		if want := "--prometheus-bearer-token-file=" + mounts["prometheus-token"] + "/" + key; !slices.Contains(c.Args, want) {
			t.Errorf("recommender args %v lack %s", c.Args, want)
		}
	}
	if ca := valString(t, v, "recommender.prometheus.tls.caConfigMapName"); ca != "" {
		key := valString(t, v, "recommender.prometheus.tls.caKey")
		if vols["prometheus-ca"].ConfigMap == nil || vols["prometheus-ca"].ConfigMap.Name != ca {
			t.Errorf("Prometheus CA ConfigMap %s is not mounted", ca)
		}
		if want := "--prometheus-ca-file=" + mounts["prometheus-ca"] + "/" + key; !slices.Contains(c.Args, want) {
			t.Errorf("recommender args %v lack %s", c.Args, want)
		}
	}
	// The policy: values.policy, with the horizon the chart derives.
	var policy map[string]any
	if err := yaml.UnmarshalStrict([]byte(cm.Data["policy.yaml"]), &policy); err != nil {
		t.Fatalf("policy.yaml: %v", err)
	}
	want := map[string]any{}
	for k, x := range val(t, v, "policy").(map[string]any) {
		want[k] = x
	}
	if want["horizon"] == "" {
		want["horizon"] = "24h"
		if valBool(t, v, "agent.enabled") {
			want["horizon"] = "2h"
		}
	}
	if diff := cmp.Diff(want, policy); diff != "" {
		t.Errorf("policy.yaml differs from values.policy (-want +got):\n%s", diff)
	}
}

// checkAgent: privileged, but with nothing of the host except the cgroup fs (and the host PID
// namespace when asked for).
func checkAgent(t *testing.T, v map[string]any, n names, ns string, objs objects) {
	ds := one[*appsv1.DaemonSet](t, objs, n.agent)
	spec := ds.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("agent has %d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.SecurityContext == nil || !deref(c.SecurityContext.Privileged) || !deref(c.SecurityContext.ReadOnlyRootFilesystem) {
		t.Errorf("agent securityContext %+v, want privileged with a read-only root filesystem", c.SecurityContext)
	}
	if spec.HostNetwork || spec.HostIPC {
		t.Error("agent shares the host network or IPC namespace")
	}
	if spec.HostPID != valBool(t, v, "agent.hostPID") {
		t.Errorf("agent hostPID %v, want agent.hostPID", spec.HostPID)
	}
	wantHost := map[string]string{valString(t, v, "agent.cgroupHostPath"): "/host/sys/fs/cgroup"}
	mountOf := map[string]string{}
	for _, m := range c.VolumeMounts {
		mountOf[m.Name] = m.MountPath
	}
	gotHost := map[string]string{}
	for _, vol := range spec.Volumes {
		if vol.HostPath == nil {
			t.Errorf("agent volume %s is not a host path; the agent needs nothing else", vol.Name)
			continue
		}
		gotHost[vol.HostPath.Path] = mountOf[vol.Name]
	}
	if diff := cmp.Diff(wantHost, gotHost); diff != "" {
		t.Errorf("agent host mounts (host path -> container path) (-want +got):\n%s", diff)
	}
	var nodeName bool
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			nodeName = true
		}
	}
	if !nodeName || !slices.Contains(c.Args, "--node-name=$(NODE_NAME)") {
		t.Errorf("agent does not get its node name from spec.nodeName: env %v args %v", c.Env, c.Args)
	}
	// The agent acts nowhere the webhook is never called: the webhook's excluded namespaces and the
	// release namespace.
	exclude := "--exclude-namespaces=" + strings.Join(excluded(t, v, "webhook.namespaceSelector.excludeNamespaces", ns), ",")
	for _, want := range []string{"agent", "--cgroup-root=/host/sys/fs/cgroup", "--threshold=" + agentFraction(t, v, "agent.threshold", 0.05),
		"--target=" + agentFraction(t, v, "agent.target", 0.20), "--default-mode=" + valString(t, v, "defaultMode"), exclude} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("agent args %v lack %s", c.Args, want)
		}
	}
	if !slices.Contains(excluded(t, v, "webhook.namespaceSelector.excludeNamespaces", ns), ns) {
		t.Errorf("the agent's excluded namespaces lack the release namespace %s", ns)
	}
	if got := slices.Contains(c.Args, "--allow-drop-caches"); got != valBool(t, v, "agent.allowDropCaches") {
		t.Errorf("--allow-drop-caches present=%v, want agent.allowDropCaches", got)
	}
}

// agentFraction is the value of an agent flag the chart derives from the policy: the value at key,
// or when it is null policy.targetUtilization minus below (threshold 0.05, target 0.20; DESIGN.md 1.6).
func agentFraction(t testing.TB, v map[string]any, key string, below float64) string {
	t.Helper()
	f := val(t, v, key)
	if f == nil {
		f = math.Round((toFloat(val(t, v, "policy.targetUtilization"))-below)*1e4) / 1e4
	}
	return fmt.Sprint(f)
}

// excluded is the namespace list at path with the release namespace added, in order, once.
func excluded(t testing.TB, v map[string]any, path, ns string) []string {
	t.Helper()
	var out []string
	list, _ := val(t, v, path).([]any)
	for _, x := range append(list, ns) {
		if s := x.(string); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// checkServices: each Service selects exactly one workload's pods and targets its named ports.
func checkServices(t *testing.T, objs objects) {
	for _, svc := range ofType[*corev1.Service](objs) {
		var matched []string
		for name, pt := range podSpecs(objs) {
			if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pt.Labels)) {
				matched = append(matched, name)
				for _, p := range svc.Spec.Ports {
					if !hasPort(pt.Spec, p.TargetPort.StrVal) {
						t.Errorf("Service %s port %s targets %q, which %s does not name", svc.Name, p.Name, p.TargetPort.StrVal, name)
					}
				}
			}
		}
		if len(matched) != 1 {
			t.Errorf("Service %s selects %v, want exactly one workload", svc.Name, matched)
		}
	}
}

func hasPort(spec corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

// rule is one (API group, resource, verb) a role grants.
type rule struct{ group, resource, verb string }

func (r rule) String() string { return r.group + "/" + r.resource + ":" + r.verb }

func rules(group string, resources, verbs []string) []rule {
	var out []rule
	for _, res := range resources {
		for _, v := range verbs {
			out = append(out, rule{group, res, v})
		}
	}
	return out
}

func flatten(prs []rbacv1.PolicyRule) []rule {
	var out []rule
	for _, pr := range prs {
		if len(pr.ResourceNames) > 0 || len(pr.NonResourceURLs) > 0 {
			out = append(out, rule{"?", "resourceNames or nonResourceURLs", "?"})
		}
		for _, g := range pr.APIGroups {
			out = append(out, rules(g, pr.Resources, pr.Verbs)...)
		}
	}
	return out
}

func sortedRules(rs []rule) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.String())
	}
	sort.Strings(s)
	return slices.Compact(s)
}

var (
	read   = []string{"get", "list", "watch"}
	cached = []string{"list", "watch"} // what an informer cache needs
	record = []string{"create", "patch"}
)

// leastPrivilege is every role the chart may create and exactly what it grants.
func leastPrivilege(n names, agent bool) map[string][]rule {
	events := rules("events.k8s.io", []string{"events"}, record)
	want := map[string][]rule{
		"ClusterRole/" + n.webhook: append(rules("headroom.dev", []string{"memoryrecommendations"}, cached),
			rules("", []string{"namespaces", "limitranges", "resourcequotas"}, cached)...),
		// The exact set `headroom recommender --once` needs, checked by running it as a user that
		// holds only this (cmd/headroom/recommender_test.go): informer caches, server-side apply.
		"ClusterRole/" + n.recommender: slices.Concat(
			rules("apps", []string{"deployments", "statefulsets", "daemonsets", "replicasets"}, cached),
			rules("batch", []string{"jobs", "cronjobs"}, cached),
			rules("", []string{"namespaces", "limitranges"}, cached),
			rules("headroom.dev", []string{"memoryrecommendations"}, []string{"list", "watch", "create", "patch"}),
			rules("headroom.dev", []string{"memoryrecommendations/status"}, []string{"patch"})),
		// Leader election: the Lease, and the core Events the elector records, in the release namespace.
		"Role/" + n.recommender + "-leader-election": slices.Concat(
			rules("coordination.k8s.io", []string{"leases"}, []string{"get", "create", "update"}),
			rules("", []string{"events"}, record)),
	}
	if agent {
		want["ClusterRole/"+n.agent] = append(rules("", []string{"pods", "namespaces"}, cached), events...)
	}
	return want
}

// checkRBAC: the roles grant exactly the least-privilege sets, and each is bound to its own
// component's ServiceAccount only.
func checkRBAC(t *testing.T, agent bool, n names, ns string, objs objects) {
	want := leastPrivilege(n, agent)
	got := map[string][]rule{}
	for _, r := range ofType[*rbacv1.ClusterRole](objs) {
		got[kindName(r)] = flatten(r.Rules)
		if r.AggregationRule != nil {
			t.Errorf("%s aggregates other roles", kindName(r))
		}
	}
	for _, r := range ofType[*rbacv1.Role](objs) {
		got[kindName(r)] = flatten(r.Rules)
	}
	for _, k := range sortedKeys(want) {
		if diff := cmp.Diff(sortedRules(want[k]), sortedRules(got[k])); diff != "" {
			t.Errorf("%s grants other than least privilege (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected role %s", k)
		}
	}
	bindings := map[string]struct {
		ref      rbacv1.RoleRef
		subjects []rbacv1.Subject
	}{}
	for _, b := range ofType[*rbacv1.ClusterRoleBinding](objs) {
		bindings[kindName(b)] = struct {
			ref      rbacv1.RoleRef
			subjects []rbacv1.Subject
		}{b.RoleRef, b.Subjects}
	}
	for _, b := range ofType[*rbacv1.RoleBinding](objs) {
		bindings[kindName(b)] = struct {
			ref      rbacv1.RoleRef
			subjects []rbacv1.Subject
		}{b.RoleRef, b.Subjects}
	}
	for role := range want {
		kind, name, _ := strings.Cut(role, "/")
		sa := strings.TrimSuffix(name, "-leader-election")
		b, ok := bindings[kind+"Binding/"+name]
		if !ok {
			t.Errorf("%s is not bound", role)
			continue
		}
		if b.ref != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: name}) {
			t.Errorf("%sBinding/%s refers to %v", kind, name, b.ref)
		}
		wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}
		if diff := cmp.Diff(wantSubjects, b.subjects); diff != "" {
			t.Errorf("%sBinding/%s subjects (-want +got):\n%s", kind, name, diff)
		}
	}
	if len(bindings) != len(want) {
		t.Errorf("%d bindings for %d roles", len(bindings), len(want))
	}
}

// checkServiceMonitors: one per component when enabled, each selecting its component's Service.
func checkServiceMonitors(t *testing.T, v map[string]any, n names, objs objects) {
	sms := ofType[*monitoringv1.ServiceMonitor](objs)
	if !valBool(t, v, "serviceMonitor.enabled") {
		if len(sms) != 0 {
			t.Errorf("%d ServiceMonitors rendered although serviceMonitor.enabled is false", len(sms))
		}
		return
	}
	want := []string{n.recommender, n.webhook}
	if valBool(t, v, "agent.enabled") {
		want = append(want, n.agent)
	}
	var got []string
	for _, sm := range sms {
		got = append(got, sm.Name)
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil {
			t.Fatal(err)
		}
		var selected []string
		for _, svc := range ofType[*corev1.Service](objs) {
			if sel.Matches(labels.Set(svc.Labels)) {
				selected = append(selected, svc.Name)
				if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "metrics" }) {
					t.Errorf("Service %s has no metrics port for ServiceMonitor %s", svc.Name, sm.Name)
				}
			}
		}
		if !slices.Equal(selected, []string{sm.Name}) {
			t.Errorf("ServiceMonitor %s selects Services %v, want its own", sm.Name, selected)
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" {
			t.Errorf("ServiceMonitor %s endpoints %+v, want the metrics port", sm.Name, sm.Spec.Endpoints)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		t.Errorf("ServiceMonitors %v, want %v", got, want)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func toFloat(x any) float64 {
	switch n := x.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	}
	return -1
}

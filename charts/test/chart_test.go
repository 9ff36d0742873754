package charttest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yamlv3 "go.yaml.in/yaml/v3"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current chart")

func TestHelmLintIsClean(t *testing.T) {
	for _, set := range valueSets(t) {
		t.Run(set.name, func(t *testing.T) {
			out, err := helm(t, "lint", chartDir(t), "--strict", "--kube-version", kubeVersion, "--namespace", goldenNamespace, "-f", set.file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Fatalf("helm lint did not pass:\n%s", out)
			}
			for _, line := range strings.Split(out, "\n") {
				// Chart.yaml's icon is only "recommended": headroom has no icon to point at.
				if strings.HasPrefix(line, "[") && !strings.HasPrefix(line, "[INFO] Chart.yaml: icon is recommended") {
					t.Errorf("helm lint reported: %s", line)
				}
			}
		})
	}
}

// The schema is strict: a typo or an out-of-range value fails the install instead of being ignored.
func TestSchemaRejectsInvalidValues(t *testing.T) {
	cases := map[string]struct {
		set  []string
		want string
	}{
		"an unknown top-level key":               {[]string{"replicas=3"}, "additional properties 'replicas' not allowed"},
		"an unknown nested key":                  {[]string{"webhook.failurePolicy=Fail"}, "additional properties 'failurePolicy' not allowed"},
		"a webhook timeout above 5 seconds":      {[]string{"webhook.timeoutSeconds=10"}, "/webhook/timeoutSeconds"},
		"an unknown default mode":                {[]string{"defaultMode=audit"}, "/defaultMode"},
		"a target utilization above 1":           {[]string{"policy.targetUtilization=1.5"}, "/policy/targetUtilization"},
		"a memory step that is not a quantity":   {[]string{"policy.step=16MB"}, "/policy/step"},
		"an interval Go cannot parse":            {[]string{"recommender.interval=1 hour"}, "/recommender/interval"},
		"a Prometheus URL without a scheme":      {[]string{"recommender.prometheus.url=prometheus:9090"}, "/recommender/prometheus/url"},
		"an excluded namespace that is no name":  {[]string{"webhook.namespaceSelector.excludeNamespaces[0]=Kube_System"}, "/webhook/namespaceSelector/excludeNamespaces/0"},
		"a ServiceMonitor interval in hh:mm":     {[]string{"serviceMonitor.interval=00:30"}, "/serviceMonitor/interval"},
		"a string where a boolean belongs":       {[]string{"agent.enabled=yes-please"}, "/agent/enabled"},
		"a pod disruption budget of zero pods":   {[]string{"webhook.podDisruptionBudget.maxUnavailable=0"}, "/webhook/podDisruptionBudget/maxUnavailable"},
		"an image digest that is not sha256 hex": {[]string{"image.digest=latest"}, "/image/digest"},
		"an agent threshold that is no number":   {[]string{"agent.threshold=high"}, "/agent/threshold"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "x", chartDir(t), "--kube-version", kubeVersion}
			for _, s := range c.set {
				args = append(args, "--set", s)
			}
			_, err := helm(t, args...)
			if err == nil {
				t.Fatalf("helm template accepted --set %v", c.set)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not mention %q:\n%v", c.want, err)
			}
		})
	}
}

// Every key of values.yaml that the schema lists carries a comment, and values.yaml and the schema list
// the same keys (Kubernetes fragments such as resources are left to the API server).
func TestValuesAreDocumentedAndMatchTheSchema(t *testing.T) {
	var schema map[string]any
	b, err := os.ReadFile(filepath.Join(chartDir(t), "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	defs, _ := schema["$defs"].(map[string]any)
	resolve := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			d, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			return d
		}
		return s
	}
	schemaKeys := map[string]bool{}
	var walkSchema func(s map[string]any, path string)
	walkSchema = func(s map[string]any, path string) {
		s = resolve(s)
		props, ok := s["properties"].(map[string]any)
		if !ok {
			return
		}
		if s["additionalProperties"] != false {
			t.Errorf("values.schema.json: %q allows additional properties", path)
		}
		for k, sub := range props {
			p := strings.TrimPrefix(path+"."+k, ".")
			// Kubernetes fragments (resources) are checked by the API server, not listed in values.yaml.
			if strings.HasSuffix(path, ".resources") {
				continue
			}
			schemaKeys[p] = true
			walkSchema(sub.(map[string]any), p)
		}
	}
	walkSchema(schema, "")
	root := yamlNode(t, filepath.Join(chartDir(t), "values.yaml"))
	valueKeys := map[string]bool{}
	var walk func(n *yamlv3.Node, path string)
	walk = func(n *yamlv3.Node, path string) {
		if n.Kind != yamlv3.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			valueKeys[p] = true
			if schemaKeys[p] && strings.TrimSpace(k.HeadComment) == "" {
				t.Errorf("values.yaml: %s has no comment", p)
			}
			walk(v, p)
		}
	}
	walk(root.Content[0], "")

	for _, k := range sortedKeys(valueKeys) {
		if !schemaKeys[k] && !underFreeForm(k, schemaKeys) {
			t.Errorf("values.yaml key %s is not in values.schema.json", k)
		}
	}
	for _, k := range sortedKeys(schemaKeys) {
		if !valueKeys[k] {
			t.Errorf("values.schema.json key %s is not in values.yaml (so it has no documentation)", k)
		}
	}
}

// underFreeForm reports whether a values key sits inside a map the schema leaves open (labels,
// resources, security contexts), whose parent the schema does list.
func underFreeForm(key string, schemaKeys map[string]bool) bool {
	for p := key; strings.Contains(p, "."); {
		p = p[:strings.LastIndex(p, ".")]
		if schemaKeys[p] {
			return true
		}
	}
	return false
}

// The chart carries controller-gen's CRD byte for byte (make verify checks the same).
func TestChartCRDIsConfigCRD(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "crd", "headroom.dev_memoryrecommendations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(chartDir(t), "files", "headroom.dev_memoryrecommendations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Fatal("charts/headroom/files/headroom.dev_memoryrecommendations.yaml differs from config/crd: run make generate")
	}
	// The template adds labels and the keep annotation and must not change anything else.
	objs := typed(t, decode(t, render(t, goldenRelease, goldenNamespace)))
	rendered := one[*apiextensionsv1.CustomResourceDefinition](t, objs, "memoryrecommendations.headroom.dev")
	var source apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(want, &source); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(source.Spec, rendered.Spec); diff != "" {
		t.Errorf("rendered CRD spec differs from config/crd (-want +got):\n%s", diff)
	}
	if rendered.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Errorf("CRD annotations %v: want helm.sh/resource-policy: keep by default", rendered.Annotations)
	}
}

// generated matches the values Helm generates anew on every render (certificates and keys).
var generated = regexp.MustCompile(`(?m)^(\s*(?:ca\.crt|tls\.crt|tls\.key|caBundle):\s*)\S+$`)

func TestGolden(t *testing.T) {
	for _, set := range valueSets(t) {
		t.Run(set.name, func(t *testing.T) {
			got := generated.ReplaceAllString(render(t, goldenRelease, goldenNamespace, "-f", set.file), "${1}<generated>")
			path := filepath.Join("testdata", "golden", set.name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("render differs from %s (-want +got); run go test -run TestGolden -update if the change is intended:\n%s", path, diff)
			}
		})
	}
	// A golden file without its values set is a leftover.
	ents, err := os.ReadDir(filepath.Join("testdata", "golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		if !slices.ContainsFunc(valueSets(t), func(s valueSet) bool { return s.name == name }) {
			t.Errorf("testdata/golden/%s has no testdata/values/%s.yaml", e.Name(), e.Name())
		}
	}
}

// Every values set renders objects that keep the product's promises (see checkRender).
func TestRenderedObjects(t *testing.T) {
	for _, set := range valueSets(t) {
		t.Run(set.name, func(t *testing.T) {
			v := values(t, set)
			objs := typed(t, decode(t, render(t, goldenRelease, goldenNamespace, "-f", set.file)))
			checkRender(t, v, goldenRelease, goldenNamespace, objs)
		})
	}
}

// The agent acts 5 points below the policy's alert line and reclaims down to 20 points below it unless
// agent.threshold and agent.target say otherwise, and a threshold at or above the alert line, or a
// target at or above the threshold, fails the render.
func TestAgentThresholdFollowsThePolicy(t *testing.T) {
	agentArgs := func(t *testing.T, args ...string) []string {
		objs := typed(t, decode(t, render(t, goldenRelease, goldenNamespace, append([]string{"--set", "agent.enabled=true"}, args...)...)))
		return one[*appsv1.DaemonSet](t, objs, namesOf(goldenRelease).agent).Spec.Template.Spec.Containers[0].Args
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"the default policy (0.8)":                   {nil, "--threshold=0.75"},
		"a policy with targetUtilization 0.9":        {[]string{"--set-json", "policy.targetUtilization=0.9"}, "--threshold=0.85"},
		"an explicit agent.threshold wins":           {[]string{"--set-json", "policy.targetUtilization=0.9", "--set-json", "agent.threshold=0.8"}, "--threshold=0.8"},
		"agent.threshold null is the policy's again": {[]string{"--set-json", "policy.targetUtilization=0.9", "--set-json", "agent.threshold=null"}, "--threshold=0.85"},
		"a lower policy with a lower target":         {[]string{"--set-json", "policy.targetUtilization=0.7", "--set-json", "agent.target=0.5"}, "--threshold=0.65"},
		"the target follows the policy too":          {nil, "--target=0.6"},
		"a lower policy lowers the target":           {[]string{"--set-json", "policy.targetUtilization=0.6"}, "--target=0.4"},
		"an explicit agent.target wins":              {[]string{"--set-json", "agent.target=0.5"}, "--target=0.5"},
	} {
		t.Run(name, func(t *testing.T) {
			if args := agentArgs(t, c.args...); !slices.Contains(args, c.want) {
				t.Errorf("agent args %v lack %s", args, c.want)
			}
		})
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"a threshold at the alert line": {[]string{"--set-json", "agent.threshold=0.8"},
			"agent.threshold 0.8 must be below policy.targetUtilization 0.8"},
		"a threshold above the alert line": {[]string{"--set-json", "policy.targetUtilization=0.7", "--set-json", "agent.threshold=0.75"},
			"agent.threshold 0.75 must be below policy.targetUtilization 0.7"},
		"a target above the threshold the policy gives": {[]string{"--set-json", "policy.targetUtilization=0.6", "--set-json", "agent.target=0.6"},
			"agent.target 0.6 must be below the agent's threshold 0.55"},
		"a target at an explicit threshold": {[]string{"--set-json", "agent.threshold=0.6"},
			"agent.target 0.6 must be below the agent's threshold 0.6"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"template", "x", chartDir(t), "--kube-version", kubeVersion, "--set", "agent.enabled=true"}, c.args...)
			_, err := helm(t, args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template %v = %v, want an error saying %q", c.args, err, c.want)
			}
		})
	}
}

// The agent and the recommender leave the release namespace alone, whatever it is called, on top of
// the namespaces the values exclude (the agent shares the webhook's list, so it acts nowhere the
// webhook is not called).
func TestAgentAndRecommenderExcludeTheReleaseNamespace(t *testing.T) {
	for name, c := range map[string]struct {
		args               []string
		agent, recommender string
	}{
		"the default lists": {nil,
			"--exclude-namespaces=kube-system,kube-node-lease,kube-public,platform",
			"--exclude-namespaces=kube-system,kube-node-lease,kube-public,platform"},
		"the user's lists, merged": {[]string{"--set-json", `webhook.namespaceSelector.excludeNamespaces=["kube-system","monitoring"]`, "--set-json", `recommender.excludeNamespaces=[]`},
			"--exclude-namespaces=kube-system,monitoring,platform",
			"--exclude-namespaces=platform"},
		"a list that names the release namespace already": {[]string{"--set-json", `webhook.namespaceSelector.excludeNamespaces=["platform","kube-system"]`},
			"--exclude-namespaces=platform,kube-system",
			"--exclude-namespaces=kube-system,kube-node-lease,kube-public,platform"},
	} {
		t.Run(name, func(t *testing.T) {
			n := namesOf(goldenRelease)
			objs := typed(t, decode(t, render(t, goldenRelease, "platform", append([]string{"--set", "agent.enabled=true"}, c.args...)...)))
			agent := one[*appsv1.DaemonSet](t, objs, n.agent).Spec.Template.Spec.Containers[0].Args
			if !slices.Contains(agent, c.agent) {
				t.Errorf("agent args %v lack %s", agent, c.agent)
			}
			rec := one[*appsv1.Deployment](t, objs, n.recommender).Spec.Template.Spec.Containers[0].Args
			if !slices.Contains(rec, c.recommender) {
				t.Errorf("recommender args %v lack %s", rec, c.recommender)
			}
		})
	}
}

// A policy change must roll the recommender: the pod template carries the ConfigMap's checksum.
func TestPolicyChangeRollsTheRecommender(t *testing.T) {
	checksum := func(args ...string) string {
		objs := typed(t, decode(t, render(t, goldenRelease, goldenNamespace, args...)))
		d := recommenderDeployment(t, objs, goldenRelease)
		sum := d.Spec.Template.Annotations["checksum/policy"]
		if len(sum) != 64 {
			t.Fatalf("checksum/policy annotation %q is not a sha256", sum)
		}
		return sum
	}
	base := checksum()
	if got := checksum("--set-json", "policy.targetUtilization=0.7"); got == base {
		t.Error("changing policy.targetUtilization did not change the recommender's checksum/policy")
	}
	if got := checksum("--set", "agent.enabled=true"); got == base {
		t.Error("enabling the agent (horizon 2h) did not change the recommender's checksum/policy")
	}
	if got := checksum("--set", "webhook.replicaCount=3"); got != base {
		t.Error("a change unrelated to the policy changed the recommender's checksum/policy")
	}
}

// config/rbac holds the same RBAC as the chart (release "headroom" in namespace "headroom"), for
// installs without Helm.
func TestConfigRBACMatchesTheChart(t *testing.T) {
	// config/ stands for the release namespace with headroom-system.
	const configNamespace = "headroom-system"
	chart := typed(t, decode(t, render(t, goldenRelease, configNamespace, "--set", "agent.enabled=true")))
	dir := filepath.Join(repoRoot(t), "config", "rbac")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var raw []*unstructured.Unstructured
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".yaml") || e.Name() == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, decode(t, string(b))...)
	}
	config := typed(t, raw)
	type view struct {
		Namespace string
		Rules     []rbacv1.PolicyRule
		RoleRef   rbacv1.RoleRef
		Subjects  []rbacv1.Subject
	}
	viewsOf := func(o objects) map[string]view {
		out := map[string]view{}
		for _, obj := range o.all {
			switch x := obj.(type) {
			case *corev1.ServiceAccount:
				out[kindName(x)] = view{Namespace: x.Namespace}
			case *rbacv1.ClusterRole:
				out[kindName(x)] = view{Rules: x.Rules}
			case *rbacv1.Role:
				out[kindName(x)] = view{Namespace: x.Namespace, Rules: x.Rules}
			case *rbacv1.ClusterRoleBinding:
				out[kindName(x)] = view{RoleRef: x.RoleRef, Subjects: x.Subjects}
			case *rbacv1.RoleBinding:
				out[kindName(x)] = view{Namespace: x.Namespace, RoleRef: x.RoleRef, Subjects: x.Subjects}
			}
		}
		return out
	}
	if diff := cmp.Diff(viewsOf(chart), viewsOf(config)); diff != "" {
		t.Errorf("config/rbac differs from the chart's RBAC (-chart +config):\n%s", diff)
	}
	checkRBAC(t, true, namesOf(goldenRelease), configNamespace, config)
}

// The chart's policy is the product's: values.policy has exactly the keys of config/policy/policy.yaml
// (the sizing package's test keeps that file equal to sizing.Default()) with the same defaults, and
// the default render writes that file's policy (horizon 24h; 2h with the agent).
func TestPolicyDefaultsAreTheProducts(t *testing.T) {
	sample := readYAMLMap(t, filepath.Join(repoRoot(t), "config", "policy", "policy.yaml"))
	chart := readYAMLMap(t, filepath.Join(chartDir(t), "values.yaml"))["policy"].(map[string]any)
	if chart["horizon"] != "" {
		t.Errorf("values.yaml policy.horizon %q: want empty, so the chart derives it from agent.enabled", chart["horizon"])
	}
	chart["horizon"] = sample["horizon"]
	if diff := cmp.Diff(sample, chart); diff != "" {
		t.Errorf("values.yaml policy differs from config/policy/policy.yaml (-config +chart):\n%s", diff)
	}
	for _, c := range []struct {
		args    []string
		horizon string
	}{{nil, "24h"}, {[]string{"--set", "agent.enabled=true"}, "2h"}, {[]string{"--set", "agent.enabled=true", "--set", "policy.horizon=4h"}, "4h"}} {
		objs := typed(t, decode(t, render(t, goldenRelease, goldenNamespace, c.args...)))
		cm := one[*corev1.ConfigMap](t, objs, namesOf(goldenRelease).recommender+"-policy")
		var got map[string]any
		if err := yaml.UnmarshalStrict([]byte(cm.Data["policy.yaml"]), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{}
		for k, v := range sample {
			want[k] = v
		}
		want["horizon"] = c.horizon
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: rendered policy.yaml (-want +got):\n%s", c.args, diff)
		}
	}
}

// config/webhook/manifests.yaml (the webhook's raw configuration) and the chart configure the same
// webhook: name, path, rules, failure policy, timeout, side effects, reinvocation and which
// namespaces are sent.
func TestConfigWebhookMatchesTheChart(t *testing.T) {
	path := filepath.Join(repoRoot(t), "config", "webhook", "manifests.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw := ofType[*admissionregistrationv1.MutatingWebhookConfiguration](typed(t, decode(t, string(b))))
	chart := ofType[*admissionregistrationv1.MutatingWebhookConfiguration](typed(t, decode(t, render(t, goldenRelease, goldenNamespace))))
	if len(raw) != 1 || len(raw[0].Webhooks) != 1 || len(chart) != 1 {
		t.Fatalf("want one MutatingWebhookConfiguration with one webhook in %s", path)
	}
	cw, hw := raw[0].Webhooks[0], chart[0].Webhooks[0]
	type settings struct {
		Name, Path, FailurePolicy, SideEffects, Reinvocation, MatchPolicy string
		Timeout                                                           int32
		Versions                                                          []string
		Rules                                                             []admissionregistrationv1.RuleWithOperations
		MatchConditions                                                   []admissionregistrationv1.MatchCondition
	}
	of := func(w admissionregistrationv1.MutatingWebhook) settings {
		s := settings{Name: w.Name, Timeout: deref(w.TimeoutSeconds), Versions: w.AdmissionReviewVersions,
			FailurePolicy: string(deref(w.FailurePolicy)), SideEffects: string(deref(w.SideEffects)),
			Reinvocation: string(deref(w.ReinvocationPolicy)), MatchPolicy: string(deref(w.MatchPolicy)),
			MatchConditions: w.MatchConditions}
		if s.MatchPolicy == "" {
			s.MatchPolicy = string(admissionregistrationv1.Equivalent) // the API server's default
		}
		if w.ClientConfig.Service != nil {
			s.Path = deref(w.ClientConfig.Service.Path)
		}
		for _, r := range w.Rules {
			r.Scope = nil // pods are namespaced whatever the scope says
			s.Rules = append(s.Rules, r)
		}
		return s
	}
	if diff := cmp.Diff(of(cw), of(hw)); diff != "" {
		t.Errorf("config/webhook and the chart configure different webhooks (-config +chart):\n%s", diff)
	}
	// Each excludes its own namespace (the one its Service is in) and the same others.
	sent := func(w admissionregistrationv1.MutatingWebhook, name, mode string) bool {
		sel, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
		if err != nil {
			t.Fatal(err)
		}
		l := labels.Set{"kubernetes.io/metadata.name": name}
		if mode != "" {
			l["headroom.dev/mode"] = mode
		}
		return sel.Matches(l)
	}
	for _, ns := range []string{"kube-system", "kube-node-lease", "kube-public", "team-a", "default", "<own>"} {
		for _, mode := range []string{"", "enforce", "dry-run", "off"} {
			cns, hns := ns, ns
			if ns == "<own>" {
				cns, hns = cw.ClientConfig.Service.Namespace, hw.ClientConfig.Service.Namespace
			}
			if c, h := sent(cw, cns, mode), sent(hw, hns, mode); c != h {
				t.Errorf("namespace %s with headroom.dev/mode=%q: config/webhook sends it %v, the chart %v", ns, mode, c, h)
			}
		}
	}
}

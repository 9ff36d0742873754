package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/recommender"
	"github.com/headroom-dev/headroom/report"
)

func TestRecommenderFlags(t *testing.T) {
	if _, err := run(t, "recommender", "--help"); err != nil {
		t.Fatalf("--help: %v", err)
	}
	badPolicy := filepath.Join(t.TempDir(), "policy.yaml")
	_ = os.WriteFile(badPolicy, []byte("horizn: 2h\n"), 0o644)
	tests := map[string]struct {
		args []string
		want string
	}{
		"no source":            {nil, "give exactly one of --prometheus-url URL and --history FILE"},
		"two sources":          {[]string{"--prometheus-url", "http://x", "--history", "h.om"}, "exactly one"},
		"a bad policy":         {[]string{"--prometheus-url", "http://x", "--policy", badPolicy}, "field horizn not found"},
		"a missing token file": {[]string{"--prometheus-url", "http://x", "--prometheus-bearer-token-file", badPolicy + ".missing"}, "prometheus bearer token"},
		"a bad log level":      {[]string{"--prometheus-url", "http://x", "--log-level", "loud"}, "--log-level"},
		"a bad interval":       {[]string{"--prometheus-url", "http://x", "--interval", "hourly"}, "invalid argument"},
		"a bad lookback":       {[]string{"--prometheus-url", "http://x", "--lookback", "a week"}, "invalid duration"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, append([]string{"recommender"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// recommenderRBAC is every permission the recommender needs (the report lists it for the chart):
// reads come from informers (list, watch), writes are server-side applies (patch; create for the
// first apply of an object). The namespaced rules are for leader election in the release namespace.
var recommenderRBAC = struct {
	cluster, namespaced []rbacv1.PolicyRule
}{
	cluster: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces", "limitranges"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets", "replicasets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"headroom.dev"}, Resources: []string{"memoryrecommendations"}, Verbs: []string{"list", "watch", "create", "patch"}},
		{APIGroups: []string{"headroom.dev"}, Resources: []string{"memoryrecommendations/status"}, Verbs: []string{"patch"}},
	},
	namespaced: []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	},
}

// TestRecommenderOnce runs `headroom recommender --once` as the chart does (leader election, a
// policy file) against a real kube-apiserver and Prometheus, as a user with only recommenderRBAC;
// with Prometheus stopped it fails and the recommendation stays.
func TestRecommenderOnce(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := scenario.Load(filepath.Join(root, "testdata", "scenarios", "service-bounded-cache.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec.End = time.Now().UTC().Add(-5 * time.Minute) // the recommender reads up to now
	dir := t.TempDir()
	hist := filepath.Join(dir, "history.om")
	if err := scenario.WriteFile(hist, spec); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, hist)
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{CRDPaths: []string{filepath.Join(root, "config", "crd")}})

	scheme, err := recommender.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": spec.Namespace}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := scenario.WriteManifests(&b, spec); err != nil {
		t.Fatal(err)
	}
	ws, err := manifest.Decode(&b, "manifests")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if err := c.Create(ctx, w.Object.(client.Object)); err != nil {
			t.Fatal(err)
		}
	}
	kubeconfig := restrictedUser(t, cp, "headroom-recommender")
	args := []string{"recommender", "--once", "--kubeconfig", kubeconfig, "--prometheus-url", prom.URL,
		"--policy", filepath.Join(root, "config", "policy", "policy.yaml"), "--leader-elect", "--leader-election-namespace", "default",
		"--exclude-namespaces", "kube-system,kube-public,kube-node-lease", "--prometheus-timeout", "5s"}
	if _, err := run(t, args...); err != nil {
		t.Fatalf("recommender --once: %v", err)
	}
	mr := &v1alpha1.MemoryRecommendation{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: spec.Namespace, Name: "deployment-catalog-api"}, mr); err != nil {
		t.Fatal(err)
	}
	if len(mr.Status.Containers) != 1 || mr.Status.Containers[0].Limit == nil ||
		!meta.IsStatusConditionTrue(mr.Status.Conditions, v1alpha1.ConditionReady) {
		t.Fatalf("recommendation %+v", mr.Status)
	}
	limit := mr.Status.Containers[0].Limit.String()

	prom.Stop()
	_, err = run(t, args...)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("with Prometheus down: err = %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: spec.Namespace, Name: "deployment-catalog-api"}, mr); err != nil {
		t.Fatal(err)
	}
	if mr.Status.Containers[0].Limit.String() != limit || !meta.IsStatusConditionTrue(mr.Status.Conditions, v1alpha1.ConditionPrometheusUnavailable) {
		t.Errorf("after a failed cycle: %+v", mr.Status)
	}

	// The same history from the OpenMetrics file gives the same recommendation.
	fileArgs := append([]string{"recommender", "--once", "--kubeconfig", kubeconfig, "--history", hist}, args[6:]...)
	if _, err := run(t, fileArgs...); err != nil {
		t.Fatalf("recommender --once --history: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: spec.Namespace, Name: "deployment-catalog-api"}, mr); err != nil {
		t.Fatal(err)
	}
	if mr.Status.Containers[0].Limit.String() != limit || meta.IsStatusConditionTrue(mr.Status.Conditions, v1alpha1.ConditionPrometheusUnavailable) {
		t.Errorf("from the history file: %+v", mr.Status)
	}

	// Without --once it serves the report of its last cycle on the metrics port.
	prom.Start()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	serveArgs := append([]string{"recommender", "--kubeconfig", kubeconfig, "--prometheus-url", prom.URL,
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", "0"}, args[6:]...)
	serveCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetArgs(serveArgs)
		done <- root.ExecuteContext(serveCtx)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("recommender: %v", err)
		}
	}()
	var body []byte
	testenv.WaitFor(t, time.Minute, "the report of the first cycle", func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + metricsAddr + "/report?format=json&namespace=" + spec.Namespace)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			return false, err
		}
		return resp.StatusCode == http.StatusOK, fmt.Errorf("%s: %s", resp.Status, body)
	})
	var r report.Report
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Namespaces) != 1 || len(r.Namespaces[0].Rows) != 1 || r.Namespaces[0].Rows[0].Workload != "catalog-api" ||
		r.Namespaces[0].Rows[0].RecommendedLimitBytes != mr.Status.Containers[0].Limit.Value() {
		t.Errorf("report %s, want catalog-api's row with the recommended limit %s", body, limit)
	}
	resp, err := http.Get("http://" + metricsAddr + "/report?namespace=kube-system")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an excluded namespace: %s, want 404", resp.Status)
	}
}

// restrictedUser adds a user bound to recommenderRBAC (Lease and events in "default") and returns
// its kubeconfig.
func restrictedUser(t *testing.T, cp *testenv.ControlPlane, name string) string {
	t.Helper()
	admin, err := client.New(cp.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}}
	objs := []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: recommenderRBAC.cluster},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Rules: recommenderRBAC.namespaced},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Subjects: subject,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}},
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	user, err := cp.Env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

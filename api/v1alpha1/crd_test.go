package v1alpha1_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// TestCRDRoundTrip installs the generated CRD into a real API server and writes spec and status.
func TestCRDRoundTrip(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{CRDPaths: []string{filepath.Join(root, "config", "crd")}})
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	mr := &v1alpha1.MemoryRecommendation{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.NameFor("Deployment", "queryserver"), Namespace: "default"},
		Spec:       v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "queryserver"}},
	}
	if err := c.Create(ctx, mr); err != nil {
		t.Fatalf("create: %v", err)
	}
	limit := resource.MustParse("3584Mi")
	status := v1alpha1.MemoryRecommendationStatus{
		Containers: []v1alpha1.ContainerRecommendation{{
			Name: "app", Limit: &limit, Xmx: "1200m", Reason: "cache grows 2.5 GiB/day",
			Observed: v1alpha1.Observed{RSSPeakBytes: 2280 << 20, OOMKills: 1, Pods: 3, Samples: 30240, HistoryHours: 168, LimitBound: true},
		}},
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Computed", LastTransitionTime: metav1.Now()}},
	}
	mr.Status = status
	if err := c.Status().Update(ctx, mr); err != nil {
		t.Fatalf("update status: %v", err)
	}
	var got v1alpha1.MemoryRecommendation
	if err := c.Get(ctx, client.ObjectKeyFromObject(mr), &got); err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(status.Containers, got.Status.Containers, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("status containers after a round trip (-want +got):\n%s", diff)
	}
	if got.Name != "deployment-queryserver" {
		t.Errorf("name %q", got.Name)
	}

	bad := &v1alpha1.MemoryRecommendation{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-x", Namespace: "default"},
		Spec:       v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "v1", Kind: "Pod", Name: "x"}},
	}
	if err := c.Create(ctx, bad); err == nil {
		t.Error("the CRD must reject a targetRef kind that is not a workload")
	}
}

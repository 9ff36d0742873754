package inventory_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/sizing"
)

func TestSpecsNamespaceMode(t *testing.T) {
	cluster := func(labels map[string]string) *inventory.Specs {
		return inventory.ClusterSpecs(&inventory.Namespace{Name: "shop", Labels: labels})
	}
	tests := map[string]struct {
		specs *inventory.Specs
		want  mode.Mode
	}{
		"no specs: the default mode":                        {nil, mode.Enforce},
		"manifests: the default mode":                       {inventory.ManifestSpecs(nil), mode.Enforce},
		"a namespace without the label: the default mode":   {cluster(map[string]string{}), mode.Enforce},
		"a namespace that does not exist: the default mode": {cluster(nil), mode.Enforce},
		"the label": {cluster(map[string]string{mode.Key: string(mode.Off)}), mode.Off},
		"a label the webhook cannot read counts as dry-run": {cluster(map[string]string{mode.Key: "audit"}), mode.DryRun},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := tt.specs.NamespaceInput("shop", &history.Namespace{Name: "shop"}, mode.Enforce)
			if got.Mode != tt.want {
				t.Errorf("mode = %s, want %s", got.Mode, tt.want)
			}
		})
	}
}

// TestSpecsNamespaceInput joins history with a namespace read from the cluster: history's
// workloads first (bare pods left out), the template's containers history lacks, the workloads
// only the cluster knows, and what goes with each.
func TestSpecsNamespaceInput(t *testing.T) {
	three := int32(3)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Replicas: &three, Template: template(map[string]string{
			mode.Key: "dry-run", inventory.ExcludeKey: " proxy, ,sidecar"})}}
	dep.Spec.Template.Spec.Containers = append(dep.Spec.Template.Spec.Containers, dep.Spec.Template.Spec.Containers[0])
	dep.Spec.Template.Spec.Containers[1].Name = "proxy"
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: appsv1.StatefulSetSpec{Template: template(nil)}}
	limit := resource.MustParse("3584Mi")
	updated := metav1.NewTime(time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC))
	ns := &inventory.Namespace{
		Name:   "shop",
		Labels: map[string]string{mode.Key: "enforce"},
		Workloads: []manifest.Workload{
			{Kind: "Deployment", Name: "orders", Object: dep, PodMeta: &dep.Spec.Template.ObjectMeta, PodSpec: &dep.Spec.Template.Spec},
			{Kind: "StatefulSet", Name: "db", Object: db, PodMeta: &db.Spec.Template.ObjectMeta, PodSpec: &db.Spec.Template.Spec},
		},
		Replicas: map[string]int{"Deployment/orders": 3},
		LimitRanges: []corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}}}}}},
		Recommendations: []v1alpha1.MemoryRecommendation{{
			Spec: v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{Kind: "Deployment", Name: "orders"}},
			Status: v1alpha1.MemoryRecommendationStatus{LastUpdateTime: &updated,
				Containers: []v1alpha1.ContainerRecommendation{{Name: "app", Limit: &limit, Xmx: "384m"}}},
		}},
	}
	h := &history.Namespace{Name: "shop", Workloads: []history.Workload{
		{Key: history.WorkloadKey{Namespace: "shop", Kind: "Deployment", Name: "orders"}, Containers: []sizing.Container{{Name: "app"}}},
		{Key: history.WorkloadKey{Namespace: "shop", Kind: "Pod", Name: "debug"}, Containers: []sizing.Container{{Name: "sh"}}},
	}}

	got := inventory.ClusterSpecs(ns).NamespaceInput("shop", h, mode.DryRun)

	type container struct {
		Name, Source        string
		Limit, LimitRange   int64
		JVM                 bool
		Published, PubXmx   int64
		PublishedUpdateTime time.Time
	}
	type workload struct {
		Kind, Name, Mode string
		Exclude          []string
		Replicas         int
		Containers       []container
	}
	var gotW []workload
	for _, w := range got.Workloads {
		gw := workload{Kind: w.Kind, Name: w.Name, Mode: w.Mode, Exclude: w.Exclude, Replicas: w.Replicas}
		for _, c := range w.Containers {
			gc := container{Name: c.Name, Source: c.Source, JVM: c.JVM != nil}
			if c.Current != nil {
				gc.Limit, gc.LimitRange = c.Current.Limit, c.Current.LimitRangeMax
			}
			if c.Published != nil {
				gc.Published, gc.PubXmx, gc.PublishedUpdateTime = c.Published.Limit, c.Published.Xmx, c.Published.Updated
			}
			gw.Containers = append(gw.Containers, gc)
		}
		gotW = append(gotW, gw)
	}
	want := []workload{
		{Kind: "Deployment", Name: "orders", Mode: "dry-run", Exclude: []string{"proxy", "sidecar"}, Replicas: 3, Containers: []container{
			{Name: "app", Source: report.SourceCluster, Limit: 3000 << 20, LimitRange: 8 << 30, JVM: true,
				Published: 3584 << 20, PubXmx: 384 << 20, PublishedUpdateTime: updated.Time},
			{Name: "proxy", Source: report.SourceCluster, Limit: 3000 << 20, LimitRange: 8 << 30, JVM: true}, // history lacks it
		}},
		// Only the cluster knows it; the API server's default of one replica.
		{Kind: "StatefulSet", Name: "db", Replicas: 1, Containers: []container{
			{Name: "app", Source: report.SourceCluster, Limit: 3000 << 20, LimitRange: 8 << 30, JVM: true},
		}},
	}
	if got.Name != "shop" || got.Mode != mode.Enforce {
		t.Errorf("namespace %s in %s", got.Name, got.Mode)
	}
	if diff := cmp.Diff(want, gotW); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"shop"}, inventory.ClusterSpecs(ns).Namespaces()); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}
}

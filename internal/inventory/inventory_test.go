package inventory_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/internal/manifest"
)

func template(annotations map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:    "app",
			Command: []string{"sh", "-c", "exec java $JAVA_OPTS -jar app.jar"},
			Env:     []corev1.EnvVar{{Name: "JAVA_OPTS", Value: "-Xmx2000m"}},
			Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3000Mi")},
			},
		}}},
	}
}

func TestLoad(t *testing.T) {
	yes := true
	three := int32(3)
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"headroom.dev/mode": "enforce"}}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop"},
			Spec: appsv1.DeploymentSpec{Replicas: &three, Template: template(map[string]string{"headroom.dev/mode": "off"})}},
		// Owned by the Deployment: sized through it, not listed on its own.
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "orders-5d9f", Namespace: "shop",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders", UID: "u1", Controller: &yes}}},
			Spec: appsv1.ReplicaSetSpec{Template: template(nil)}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: appsv1.StatefulSetSpec{Template: template(nil)}},
		&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "shop"},
			Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template(nil)}}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", Namespace: "shop",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: "u2", Controller: &yes}}},
			Spec: batchv1.JobSpec{Template: template(nil)}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "other"}, Spec: appsv1.DeploymentSpec{Template: template(nil)}},
		&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "lr", Namespace: "shop"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("8Gi")}},
			{Type: corev1.LimitTypePod, Max: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}},
		}}},
		&v1alpha1.MemoryRecommendation{ObjectMeta: metav1.ObjectMeta{Name: "deployment-orders", Namespace: "shop"},
			Spec: v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders"}}},
	}
	c := fake.NewClientBuilder().WithScheme(inventory.Scheme()).WithObjects(objs...).Build()
	ctx := context.Background()

	n, err := inventory.Load(ctx, c, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range n.Workloads {
		got = append(got, w.Kind+"/"+w.Name)
	}
	if diff := cmp.Diff([]string{"CronJob/nightly", "Deployment/orders", "StatefulSet/db"}, got); diff != "" {
		t.Errorf("workloads (-want +got):\n%s", diff)
	}
	if n.Labels["headroom.dev/mode"] != "enforce" || manifest.MaxContainerMemory(n.LimitRanges) != 8<<30 {
		t.Errorf("labels %v, LimitRange max %d", n.Labels, manifest.MaxContainerMemory(n.LimitRanges))
	}
	if n.Replicas["Deployment/orders"] != 3 || n.Replicas["StatefulSet/db"] != 1 {
		t.Errorf("replicas = %v", n.Replicas)
	}
	orders := n.Workloads[1]
	if orders.PodMeta.Annotations["headroom.dev/mode"] != "off" {
		t.Errorf("pod template annotations = %v", orders.PodMeta.Annotations)
	}
	cur, ok := manifest.Current(orders.PodSpec, "app")
	if !ok || cur.Limit != 3000<<20 || cur.Xmx != 2000<<20 || !cur.JVM {
		t.Errorf("current = %+v", cur)
	}
	if mr := n.Recommendation("Deployment", "orders"); mr == nil || mr.Name != "deployment-orders" {
		t.Errorf("recommendation = %v", mr)
	}
	if mr := n.Recommendation("StatefulSet", "db"); mr != nil {
		t.Errorf("db has no recommendation, got %v", mr)
	}

	missing, err := inventory.Load(ctx, c, "gone")
	if err != nil || missing.Labels != nil || len(missing.Workloads) != 0 {
		t.Errorf("a missing namespace: %+v, %v", missing, err)
	}
	names, err := inventory.Namespaces(ctx, c)
	if err != nil || !cmp.Equal(names, []string{"shop"}) {
		t.Errorf("namespaces = %v, %v", names, err)
	}
}

package recommender

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/sizing"
)

func objMeta(ns, name string, owner ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name), OwnerReferences: owner}
}

func controlledBy(kind, name string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "x", Controller: ptr.To(true)}
}

func podSpec(container string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: container, Image: "x"}}}
}

func TestDiscover(t *testing.T) {
	objs := []client.Object{
		&appsv1.Deployment{ObjectMeta: objMeta("shop", "web"), Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("web")}}},
		&appsv1.ReplicaSet{ObjectMeta: objMeta("shop", "web-5d8f9c7b6", controlledBy("Deployment", "web")), Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("web")}}},
		&appsv1.ReplicaSet{ObjectMeta: objMeta("shop", "legacy"), Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("legacy")}}},
		&appsv1.StatefulSet{ObjectMeta: objMeta("shop", "db"), Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("pg")}}},
		&appsv1.DaemonSet{ObjectMeta: objMeta("shop", "agent"), Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("agent")}}},
		&batchv1.CronJob{ObjectMeta: objMeta("shop", "nightly"), Spec: batchv1.CronJobSpec{Schedule: "0 1 * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("job")}}}}},
		&batchv1.Job{ObjectMeta: objMeta("shop", "nightly-29412345", controlledBy("CronJob", "nightly")), Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("job")}}},
		&batchv1.Job{ObjectMeta: objMeta("shop", "migrate"), Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("migrate")}}},
		&appsv1.Deployment{ObjectMeta: objMeta("other", "web"), Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: podSpec("web")}}},
	}
	c, _ := fakeClient(t, objs...)
	got, err := Discover(context.Background(), c, "shop")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Kind, Name, APIVersion, UID, Container string }
	var rows []row
	for _, tg := range got {
		if tg.Key.Namespace != "shop" {
			t.Errorf("%v: wrong namespace", tg.Key)
		}
		rows = append(rows, row{tg.Key.Kind, tg.Key.Name, tg.APIVersion, string(tg.UID), tg.Spec.Containers[0].Name})
	}
	want := []row{
		{"CronJob", "nightly", "batch/v1", "shop/nightly", "job"},
		{"DaemonSet", "agent", "apps/v1", "shop/agent", "agent"},
		{"Deployment", "web", "apps/v1", "shop/web", "web"},
		{"Job", "migrate", "batch/v1", "shop/migrate", "migrate"},    // the CronJob's Job is sized through the CronJob
		{"ReplicaSet", "legacy", "apps/v1", "shop/legacy", "legacy"}, // the Deployment's ReplicaSet is not a workload of its own
		{"StatefulSet", "db", "apps/v1", "shop/db", "pg"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The trimmed objects in the cache must give the same sizing inputs as the full ones.
func TestTrimWorkloadKeepsWhatSizingReads(t *testing.T) {
	full := func() *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "shop", UID: "u1", Labels: map[string]string{"app": "orders"},
				Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(make([]byte, 4096))},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](3),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "orders"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "orders"},
						Annotations: map[string]string{"headroom.dev/exclude-containers": "proxy", "prometheus.io/scrape": "true"}},
					Spec: corev1.PodSpec{
						Volumes: []corev1.Volume{{Name: "data"}},
						Containers: []corev1.Container{{
							Name: "app", Image: "orders:1", Command: []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar app.jar"},
							Env: []corev1.EnvVar{{Name: "JAVA_OPTS", Value: "-Xmx2000m"},
								{Name: "JDK_JAVA_OPTIONS", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "opts"}}}},
							Resources: corev1.ResourceRequirements{
								Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3000Mi"), corev1.ResourceCPU: resource.MustParse("1")},
								Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3000Mi"), corev1.ResourceCPU: resource.MustParse("1")}},
							VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
						}, {
							Name: "proxy", Image: "envoy", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{}}},
							Resources: corev1.ResourceRequirements{
								Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi"), corev1.ResourceCPU: resource.MustParse("100m")}},
						}},
					},
				},
			},
			Status: appsv1.DeploymentStatus{Replicas: 3},
		}
	}
	orig := full()
	obj, err := TrimWorkload(full())
	if err != nil {
		t.Fatal(err)
	}
	trimmed := obj.(*appsv1.Deployment)
	for _, name := range []string{"app", "proxy"} {
		want, _ := manifest.Current(&orig.Spec.Template.Spec, name)
		got, ok := manifest.Current(&trimmed.Spec.Template.Spec, name)
		if !ok {
			t.Fatalf("container %s lost", name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("container %s: sizing input changed (-want +got):\n%s", name, diff)
		}
		if name == "app" && (want.Limit != 3000*sizing.Mi || want.Xmx != 2000*sizing.Mi || !want.Guaranteed) {
			t.Errorf("container %s: the test needs a Guaranteed JVM with a limit: %+v", name, want)
		}
	}
	for i := range orig.Spec.Template.Spec.Containers {
		wj := manifest.JVMContainer(&orig.Spec.Template.Spec.Containers[i])
		gj := manifest.JVMContainer(&trimmed.Spec.Template.Spec.Containers[i])
		if diff := cmp.Diff(wj, gj); diff != "" {
			t.Errorf("JVM view of container %d changed (-want +got):\n%s", i, diff)
		}
	}
	if trimmed.Name != "orders" || trimmed.UID != "u1" || trimmed.Annotations != nil || trimmed.ManagedFields != nil ||
		trimmed.Spec.Template.Spec.Volumes != nil || trimmed.Spec.Template.Labels != nil || trimmed.Status.Replicas != 0 {
		t.Errorf("not trimmed: %+v", trimmed)
	}
	// The report reads the replicas and headroom's own annotations of the template, nothing else.
	if diff := cmp.Diff(map[string]string{"headroom.dev/exclude-containers": "proxy"}, trimmed.Spec.Template.Annotations); diff != "" {
		t.Errorf("template annotations (-want +got):\n%s", diff)
	}
	if trimmed.Spec.Replicas == nil || *trimmed.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", trimmed.Spec.Replicas)
	}

	// A ReplicaSet of a Deployment keeps no template at all; a bare one keeps it.
	owned := &appsv1.ReplicaSet{ObjectMeta: objMeta("shop", "orders-abc", controlledBy("Deployment", "orders")),
		Spec: appsv1.ReplicaSetSpec{Template: orig.Spec.Template}}
	bare := &appsv1.ReplicaSet{ObjectMeta: objMeta("shop", "bare"), Spec: appsv1.ReplicaSetSpec{Template: orig.Spec.Template}}
	_, _ = TrimWorkload(owned)
	_, _ = TrimWorkload(bare)
	if len(owned.Spec.Template.Spec.Containers) != 0 || owned.Spec.Template.Annotations != nil || len(owned.OwnerReferences) != 1 ||
		len(bare.Spec.Template.Spec.Containers) != 2 {
		t.Errorf("owned %+v, bare %+v", owned.Spec, bare.Spec)
	}
	// Without headroom's annotations a template keeps no map at all.
	plain := full()
	plain.Spec.Template.Annotations = map[string]string{"prometheus.io/scrape": "true"}
	if o, _ := TrimWorkload(plain); o.(*appsv1.Deployment).Spec.Template.Annotations != nil {
		t.Errorf("annotations %v", o.(*appsv1.Deployment).Spec.Template.Annotations)
	}
	// Anything else passes unchanged.
	ns := namespace("x", map[string]string{"a": "b"}, nil)
	if o, _ := TrimWorkload(ns); o.(*corev1.Namespace).Labels["a"] != "b" {
		t.Error("a namespace was changed")
	}
}

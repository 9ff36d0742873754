package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/manifest"
)

// Scheme knows the built-in kinds and MemoryRecommendation: build the client with it.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Namespace is what the cluster says about one namespace.
type Namespace struct {
	Name string
	// Labels are the namespace's labels; nil when the namespace does not exist.
	Labels map[string]string
	// Workloads are the Deployments, StatefulSets, DaemonSets, CronJobs, Jobs not owned by a
	// CronJob and ReplicaSets not owned by a Deployment, sorted by kind and name.
	Workloads []manifest.Workload
	// Replicas is the desired replicas per workload ("Deployment/orders"), where the kind has them.
	Replicas map[string]int
	// Recommendations are the namespace's MemoryRecommendations (none when the CRD is not installed).
	Recommendations []v1alpha1.MemoryRecommendation
	// LimitRanges of the namespace: their container maximum bounds recommendations
	// (manifest.MaxContainerMemory), their defaults are what templates without limits run with
	// (manifest.ContainerDefaults).
	LimitRanges []corev1.LimitRange
}

// Recommendation returns the MemoryRecommendation of a workload, or nil.
func (n *Namespace) Recommendation(kind, name string) *v1alpha1.MemoryRecommendation {
	for i := range n.Recommendations {
		ref := n.Recommendations[i].Spec.TargetRef
		if ref.Kind == kind && ref.Name == name {
			return &n.Recommendations[i]
		}
	}
	return nil
}

// Namespaces lists the names of the cluster's namespaces, sorted.
func Namespaces(ctx context.Context, c client.Reader) ([]string, error) {
	var list corev1.NamespaceList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	slices.Sort(out)
	return out, nil
}

// Load reads one namespace.
func Load(ctx context.Context, c client.Reader, namespace string) (*Namespace, error) {
	n := &Namespace{Name: namespace, Replicas: map[string]int{}}
	// Only the labels are read: as metadata, so that the recommender's cache (which keeps
	// namespaces as metadata only) can serve it as well as the API server.
	var ns metav1.PartialObjectMetadata
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	switch err := c.Get(ctx, client.ObjectKey{Name: namespace}, &ns); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("get namespace %s: %w", namespace, err)
	default:
		n.Labels = ns.Labels
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
	}
	in := client.InNamespace(namespace)
	add := func(kind string, obj metav1.Object, tmpl *corev1.PodTemplateSpec, replicas *int32) {
		n.Workloads = append(n.Workloads, manifest.Workload{
			APIVersion: apiVersion(kind), Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
			Object: obj, PodMeta: &tmpl.ObjectMeta, PodSpec: &tmpl.Spec, Source: "cluster",
		})
		if replicas != nil {
			n.Replicas[kind+"/"+obj.GetName()] = int(*replicas)
		} else if kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet" {
			n.Replicas[kind+"/"+obj.GetName()] = 1 // the API server's default
		}
	}

	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps, in); err != nil {
		return nil, fmt.Errorf("list deployments in %s: %w", namespace, err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		add("Deployment", d, &d.Spec.Template, d.Spec.Replicas)
	}
	var sts appsv1.StatefulSetList
	if err := c.List(ctx, &sts, in); err != nil {
		return nil, fmt.Errorf("list statefulsets in %s: %w", namespace, err)
	}
	for i := range sts.Items {
		s := &sts.Items[i]
		add("StatefulSet", s, &s.Spec.Template, s.Spec.Replicas)
	}
	var dss appsv1.DaemonSetList
	if err := c.List(ctx, &dss, in); err != nil {
		return nil, fmt.Errorf("list daemonsets in %s: %w", namespace, err)
	}
	for i := range dss.Items {
		d := &dss.Items[i]
		add("DaemonSet", d, &d.Spec.Template, nil)
	}
	var rss appsv1.ReplicaSetList
	if err := c.List(ctx, &rss, in); err != nil {
		return nil, fmt.Errorf("list replicasets in %s: %w", namespace, err)
	}
	for i := range rss.Items {
		r := &rss.Items[i]
		if !ownedBy(r, "Deployment") {
			add("ReplicaSet", r, &r.Spec.Template, r.Spec.Replicas)
		}
	}
	var cjs batchv1.CronJobList
	if err := c.List(ctx, &cjs, in); err != nil {
		return nil, fmt.Errorf("list cronjobs in %s: %w", namespace, err)
	}
	for i := range cjs.Items {
		cj := &cjs.Items[i]
		add("CronJob", cj, &cj.Spec.JobTemplate.Spec.Template, nil)
	}
	var jobs batchv1.JobList
	if err := c.List(ctx, &jobs, in); err != nil {
		return nil, fmt.Errorf("list jobs in %s: %w", namespace, err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if !ownedBy(j, "CronJob") {
			add("Job", j, &j.Spec.Template, nil)
		}
	}
	slices.SortFunc(n.Workloads, func(a, b manifest.Workload) int {
		return strings.Compare(a.Kind+"/"+a.Name, b.Kind+"/"+b.Name)
	})

	var recs v1alpha1.MemoryRecommendationList
	switch err := c.List(ctx, &recs, in); {
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		// The CRD is not installed (headroom's chart is not): no recommendations yet.
	case err != nil:
		return nil, fmt.Errorf("list memoryrecommendations in %s: %w", namespace, err)
	default:
		n.Recommendations = recs.Items
	}

	var lrs corev1.LimitRangeList
	if err := c.List(ctx, &lrs, in); err != nil {
		return nil, fmt.Errorf("list limitranges in %s: %w", namespace, err)
	}
	n.LimitRanges = lrs.Items
	return n, nil
}

func ownedBy(obj metav1.Object, kind string) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind == kind && ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}

func apiVersion(kind string) string {
	switch kind {
	case "CronJob", "Job":
		return "batch/v1"
	}
	return "apps/v1"
}

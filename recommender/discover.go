package recommender

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/mode"
)

// Target is a workload that gets a MemoryRecommendation.
type Target struct {
	Key        history.WorkloadKey
	APIVersion string
	UID        types.UID
	// Spec is the pod template's spec, as cached: read it, never modify it.
	Spec *corev1.PodSpec
}

// Discover lists the workloads of a namespace that get recommendations: Deployments,
// StatefulSets, DaemonSets, CronJobs, and the ReplicaSets and Jobs that no controller owns (those
// of a Deployment or CronJob are sized through it). Sorted by kind, then name, like history.
// The lists come from r (the informer cache in the recommender) without deep copies.
func Discover(ctx context.Context, r client.Reader, namespace string) ([]Target, error) {
	opts := []client.ListOption{client.InNamespace(namespace), client.UnsafeDisableDeepCopy}
	var out []Target
	add := func(kind string, meta *metav1.ObjectMeta, spec *corev1.PodSpec) {
		out = append(out, Target{
			Key:        history.WorkloadKey{Namespace: namespace, Kind: kind, Name: meta.Name},
			APIVersion: APIVersionFor(kind),
			UID:        meta.UID,
			Spec:       spec,
		})
	}
	var deps appsv1.DeploymentList
	if err := r.List(ctx, &deps, opts...); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	for i := range deps.Items {
		o := &deps.Items[i]
		add("Deployment", &o.ObjectMeta, &o.Spec.Template.Spec)
	}
	var sts appsv1.StatefulSetList
	if err := r.List(ctx, &sts, opts...); err != nil {
		return nil, fmt.Errorf("list statefulsets: %w", err)
	}
	for i := range sts.Items {
		o := &sts.Items[i]
		add("StatefulSet", &o.ObjectMeta, &o.Spec.Template.Spec)
	}
	var dss appsv1.DaemonSetList
	if err := r.List(ctx, &dss, opts...); err != nil {
		return nil, fmt.Errorf("list daemonsets: %w", err)
	}
	for i := range dss.Items {
		o := &dss.Items[i]
		add("DaemonSet", &o.ObjectMeta, &o.Spec.Template.Spec)
	}
	var rss appsv1.ReplicaSetList
	if err := r.List(ctx, &rss, opts...); err != nil {
		return nil, fmt.Errorf("list replicasets: %w", err)
	}
	for i := range rss.Items {
		if o := &rss.Items[i]; metav1.GetControllerOfNoCopy(o) == nil {
			add("ReplicaSet", &o.ObjectMeta, &o.Spec.Template.Spec)
		}
	}
	var cjs batchv1.CronJobList
	if err := r.List(ctx, &cjs, opts...); err != nil {
		return nil, fmt.Errorf("list cronjobs: %w", err)
	}
	for i := range cjs.Items {
		o := &cjs.Items[i]
		add("CronJob", &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec)
	}
	var jobs batchv1.JobList
	if err := r.List(ctx, &jobs, opts...); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	for i := range jobs.Items {
		if o := &jobs.Items[i]; metav1.GetControllerOfNoCopy(o) == nil {
			add("Job", &o.ObjectMeta, &o.Spec.Template.Spec)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		return a.Kind < b.Kind || a.Kind == b.Kind && a.Name < b.Name
	})
	return out, nil
}

// TrimWorkload is the informer transform of the workload kinds: it keeps what Discover and
// sizing read (name, namespace, UID, owner references, and per container the name, command,
// args, env and resources) and what the report adds (the desired replicas, and the pod
// template's headroom.dev/mode and headroom.dev/exclude-containers annotations, for the
// workloads that have them), and drops the rest, including the pod template of ReplicaSets and
// Jobs a controller owns, which are never sized themselves. With 10,000 Deployments and their
// ReplicaSets this is most of the recommender's memory; what the report adds is a few bytes a
// workload. Other objects pass unchanged.
func TrimWorkload(obj any) (any, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		trimMeta(&o.ObjectMeta)
		o.Spec = appsv1.DeploymentSpec{Replicas: o.Spec.Replicas, Template: trimTemplate(o.Spec.Template)}
		o.Status = appsv1.DeploymentStatus{}
	case *appsv1.StatefulSet:
		trimMeta(&o.ObjectMeta)
		o.Spec = appsv1.StatefulSetSpec{Replicas: o.Spec.Replicas, Template: trimTemplate(o.Spec.Template)}
		o.Status = appsv1.StatefulSetStatus{}
	case *appsv1.DaemonSet:
		trimMeta(&o.ObjectMeta)
		o.Spec = appsv1.DaemonSetSpec{Template: trimTemplate(o.Spec.Template)}
		o.Status = appsv1.DaemonSetStatus{}
	case *appsv1.ReplicaSet:
		trimMeta(&o.ObjectMeta)
		spec := appsv1.ReplicaSetSpec{}
		if metav1.GetControllerOfNoCopy(o) == nil {
			spec = appsv1.ReplicaSetSpec{Replicas: o.Spec.Replicas, Template: trimTemplate(o.Spec.Template)}
		}
		o.Spec = spec
		o.Status = appsv1.ReplicaSetStatus{}
	case *batchv1.CronJob:
		trimMeta(&o.ObjectMeta)
		o.Spec = batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: trimTemplate(o.Spec.JobTemplate.Spec.Template)}}}
		o.Status = batchv1.CronJobStatus{}
	case *batchv1.Job:
		trimMeta(&o.ObjectMeta)
		tmpl := corev1.PodTemplateSpec{}
		if metav1.GetControllerOfNoCopy(o) == nil {
			tmpl = trimTemplate(o.Spec.Template)
		}
		o.Spec = batchv1.JobSpec{Template: tmpl}
		o.Status = batchv1.JobStatus{}
	}
	return obj, nil
}

func trimMeta(m *metav1.ObjectMeta) {
	*m = metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		OwnerReferences: m.OwnerReferences, DeletionTimestamp: m.DeletionTimestamp,
	}
}

func trimTemplate(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: keepKeys(t.Annotations, mode.Key, inventory.ExcludeKey)},
		Spec: corev1.PodSpec{
			InitContainers: trimContainers(t.Spec.InitContainers),
			Containers:     trimContainers(t.Spec.Containers),
		},
	}
}

// keepKeys returns the entries of m with these keys; nil (no map at all) when there are none,
// as for most workloads.
func keepKeys(m map[string]string, keys ...string) map[string]string {
	var out map[string]string
	for _, k := range keys {
		if v, ok := m[k]; ok {
			if out == nil {
				out = make(map[string]string, len(keys))
			}
			out[k] = v
		}
	}
	return out
}

// trimContainers keeps what manifest.Current reads. Env values from a ConfigMap or Secret only
// need to be known as such (-Xmx there cannot be rewritten), not where they come from.
func trimContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		c := &cs[i]
		out[i] = corev1.Container{Name: c.Name, Command: c.Command, Args: c.Args, Resources: corev1.ResourceRequirements{
			Limits: c.Resources.Limits, Requests: c.Resources.Requests}}
		if len(c.EnvFrom) > 0 {
			out[i].EnvFrom = []corev1.EnvFromSource{{}}
		}
		if len(c.Env) > 0 {
			out[i].Env = make([]corev1.EnvVar, len(c.Env))
			for j, e := range c.Env {
				out[i].Env[j] = corev1.EnvVar{Name: e.Name, Value: e.Value}
				if e.ValueFrom != nil {
					out[i].Env[j].ValueFrom = &corev1.EnvVarSource{}
				}
			}
		}
	}
	return out
}

package manifest

import (
	corev1 "k8s.io/api/core/v1"
)

// MaxContainerMemory is the smallest maximum container memory limit of a namespace's LimitRanges;
// 0 when none sets one. A limit above it gets the pod rejected.
func MaxContainerMemory(lrs []corev1.LimitRange) int64 {
	var out int64
	for i := range lrs {
		for _, item := range lrs[i].Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			if q, ok := item.Max[corev1.ResourceMemory]; ok && q.Value() > 0 && (out == 0 || q.Value() < out) {
				out = q.Value()
			}
		}
	}
	return out
}

// LimitRangeDefaults are what the API server's LimitRanger admission fills in for a container (or
// init container) without a limit (request) for a resource: the default limit (default request) of
// the namespace's Container LimitRanges, the first LimitRange that has one winning. The LimitRanges
// come from the API server, which has already defaulted their defaultRequest to default and default
// to max. Compute them once per namespace.
type LimitRangeDefaults struct {
	limits, requests corev1.ResourceList
}

// ContainerDefaults reads the container defaults of a namespace's LimitRanges.
func ContainerDefaults(lrs []corev1.LimitRange) LimitRangeDefaults {
	var d LimitRangeDefaults
	for i := range lrs {
		for _, item := range lrs[i].Spec.Limits {
			if item.Type != corev1.LimitTypeContainer {
				continue
			}
			d.limits = addMissing(d.limits, item.Default)
			d.requests = addMissing(d.requests, item.DefaultRequest)
		}
	}
	return d
}

// Apply returns spec as the pods made from it run: a template without a memory limit runs with
// the default. spec is not changed: the result is a copy when anything was filled in. A nil spec
// (not known) stays nil.
func (d LimitRangeDefaults) Apply(spec *corev1.PodSpec) *corev1.PodSpec {
	if spec == nil || len(d.limits) == 0 && len(d.requests) == 0 {
		return spec
	}
	out := *spec
	out.InitContainers = withDefaults(spec.InitContainers, d.limits, d.requests)
	out.Containers = withDefaults(spec.Containers, d.limits, d.requests)
	return &out
}

// addMissing adds to list the entries of from it does not have yet.
func addMissing(list, from corev1.ResourceList) corev1.ResourceList {
	for name, q := range from {
		if _, ok := list[name]; ok {
			continue
		}
		if list == nil {
			list = corev1.ResourceList{}
		}
		list[name] = q.DeepCopy()
	}
	return list
}

func withDefaults(cs []corev1.Container, limits, requests corev1.ResourceList) []corev1.Container {
	if cs == nil {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i := range cs {
		out[i] = cs[i]
		r := &out[i].Resources
		r.Limits = addMissing(r.Limits.DeepCopy(), limits)
		r.Requests = addMissing(r.Requests.DeepCopy(), requests)
	}
	return out
}

package manifest

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultRequests applies the API server's defaulting of container requests (SetDefaults_Pod): in every
// container and init container, a resource with a limit and no request gets the limit as its request.
// The API server does this to pods, not to pod templates, so a template in a manifest lacks what the
// pods made from it will have; offline tools apply it to see the pods the webhook sees. (Pod-level
// requests are defaulted later, after the admission webhooks, since Kubernetes 1.37: QOSClass does it.)
func DefaultRequests(spec *corev1.PodSpec) {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			r := &list[i].Resources
			if r.Limits == nil {
				continue
			}
			if r.Requests == nil {
				r.Requests = make(corev1.ResourceList, len(r.Limits))
			}
			for name, q := range r.Limits {
				if _, ok := r.Requests[name]; !ok {
					r.Requests[name] = q.DeepCopy()
				}
			}
		}
	}
}

// Guaranteed reports whether a pod with this spec is in the Guaranteed QoS class (see QOSClass).
func Guaranteed(spec *corev1.PodSpec) bool { return QOSClass(spec) == corev1.PodQOSGuaranteed }

// qosResources are the resources that decide the QoS class.
var qosResources = [...]corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}

// QOSClass returns the QoS class Kubernetes gives a pod with this spec (v1.37 ComputePodQOS, on the pod
// as the API server stores it: requests defaulted to limits, pod-level requests and limits defaulted):
//   - with pod-level cpu or memory resources, they decide: Guaranteed when cpu and memory requests equal
//     their limits (non-zero), BestEffort when neither is set, else Burstable;
//   - otherwise each container and init container is judged the same way on its own resources, and the
//     pod is Guaranteed (BestEffort) only when all of them are, else Burstable.
//
// spec is not modified.
func QOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	if pr := spec.Resources; pr != nil && podLevelSet(pr) {
		return podLevelQOS(spec)
	}
	var pod corev1.PodQOSClass
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			q := requirementsQOS(&list[i].Resources, true)
			switch {
			case q == corev1.PodQOSBurstable:
				return q
			case pod == "":
				pod = q
			case pod != q:
				return corev1.PodQOSBurstable
			}
		}
	}
	if pod == "" {
		return corev1.PodQOSBestEffort
	}
	return pod
}

// podLevelSet is resourcehelper.IsPodLevelResourcesSet for the resources headroom reads.
func podLevelSet(r *corev1.ResourceRequirements) bool {
	for _, name := range qosResources {
		if _, ok := r.Requests[name]; ok {
			return true
		}
		if _, ok := r.Limits[name]; ok {
			return true
		}
	}
	return false
}

// requirementsQOS is Kubernetes' requirementsQOS; with defaulted, a missing request is the limit.
func requirementsQOS(r *corev1.ResourceRequirements, defaulted bool) corev1.PodQOSClass {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	var qos corev1.PodQOSClass
	for _, name := range qosResources {
		lim := r.Limits[name]
		req, ok := r.Requests[name]
		if !ok && defaulted {
			req = lim
		}
		var q corev1.PodQOSClass
		switch {
		case !req.Equal(lim):
			return corev1.PodQOSBurstable
		case req.IsZero():
			q = corev1.PodQOSBestEffort
		default:
			q = corev1.PodQOSGuaranteed
		}
		if qos == "" {
			qos = q
		} else if qos != q {
			return corev1.PodQOSBurstable
		}
	}
	return qos
}

// podLevelQOS judges the pod-level resources once the API server has defaulted them
// (pkg/api/pod DefaultPodLevelResources): a missing pod-level request is the containers' aggregated
// request, or else the pod-level limit; a missing pod-level limit is the larger of the pod-level
// request and the containers' aggregated limits when every container has one.
func podLevelQOS(spec *corev1.PodSpec) corev1.PodQOSClass {
	pr := spec.Resources
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, name := range qosResources {
		if q, ok := pr.Limits[name]; ok {
			r.Limits[name] = q
		}
		if q, ok := pr.Requests[name]; ok {
			r.Requests[name] = q
		} else if q, ok := aggregate(spec, name, false); ok {
			r.Requests[name] = q
		} else if q, ok := pr.Limits[name]; ok {
			r.Requests[name] = q
		}
	}
	for _, name := range qosResources {
		req, hasReq := r.Requests[name]
		if _, ok := r.Limits[name]; ok || !hasReq {
			continue
		}
		if q, ok := aggregate(spec, name, true); ok && allLimited(spec, name) {
			if req.Cmp(q) > 0 {
				q = req
			}
			r.Limits[name] = q
		}
	}
	return requirementsQOS(&r, false)
}

// aggregate is Aggregate for one resource of the containers' own values. Container requests are
// taken as defaulted.
func aggregate(spec *corev1.PodSpec, name corev1.ResourceName, limits bool) (resource.Quantity, bool) {
	return Aggregate(spec, func(c *corev1.Container) (resource.Quantity, bool) {
		if !limits {
			if q, ok := c.Resources.Requests[name]; ok {
				return q, true
			}
		}
		q, ok := c.Resources.Limits[name]
		return q, ok
	})
}

// Aggregate adds up one value per container the way Kubernetes sums a pod's resources
// (resourcehelper's aggregateContainerResourcesByFn, as LimitRanger and ResourceQuota count them):
// the containers and sidecars add up, an init container counts with the sidecars started before
// it, the larger of the two wins. ok is false when value has nothing for any container.
func Aggregate(spec *corev1.PodSpec, value func(*corev1.Container) (resource.Quantity, bool)) (resource.Quantity, bool) {
	var sum, sidecars, inits resource.Quantity
	seen := false
	for i := range spec.Containers {
		if q, ok := value(&spec.Containers[i]); ok {
			sum.Add(q)
			seen = true
		}
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		q, ok := value(c)
		seen = seen || ok
		cur := sidecars.DeepCopy()
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sum.Add(q) // a zero Quantity when not set
			sidecars.Add(q)
			cur = sidecars.DeepCopy()
		} else {
			cur.Add(q)
		}
		if cur.Cmp(inits) > 0 {
			inits = cur
		}
	}
	if inits.Cmp(sum) > 0 {
		sum = inits
	}
	return sum, seen
}

// allLimited reports whether every container and init container has a limit for the resource.
func allLimited(spec *corev1.PodSpec, name corev1.ResourceName) bool {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			if _, ok := list[i].Resources.Limits[name]; !ok {
				return false
			}
		}
	}
	return true
}

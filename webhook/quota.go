package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The API server's ResourceQuota admission runs after the mutating webhooks: a pod whose memory
// limits or requests headroom raised beyond what a quota of the namespace has left is rejected,
// although it would have been created as it was. quotaCheck keeps the pod as it was then.
//
// Scopes (Terminating, BestEffort, PriorityClass, ...) and scope selectors are not evaluated:
// every quota counts as applying to the pod, which is conservative (a quota that does not apply
// can only make headroom leave a pod alone that it could have sized). A BestEffort-scoped quota
// cannot hold memory, so it never constrains anything here.

// quotaResources are the quota resources a pod's memory is counted in, with what they count.
var quotaResources = [...]struct {
	name  corev1.ResourceName
	limit bool // the pod's memory limits, else its requests
}{
	{corev1.ResourceLimitsMemory, true},
	{corev1.ResourceRequestsMemory, false},
	{corev1.ResourceMemory, false}, // "memory" is requests.memory
}

// quotaCheck returns an error when the planned changes raise the pod's total memory limits or
// requests and some ResourceQuota of the namespace has no room for the new total. Decreases always
// fit. The totals are what the quota's pod evaluator counts (component-helpers resource.PodRequests
// and PodLimits): containers, sidecars and init containers as LimitRanger adds them up, pod-level
// values when set, plus the pod overhead.
func quotaCheck(pod *corev1.Pod, targets []*corev1.Container, plans []plan, quotas []corev1.ResourceQuota) error {
	if len(quotas) == 0 {
		return nil
	}
	before := podMemory(pod, targets, nil)
	after := podMemory(pod, targets, plans)
	var overhead *resource.Quantity
	if q, ok := pod.Spec.Overhead[corev1.ResourceMemory]; ok {
		overhead = &q
	}
	for i := range quotas {
		rq := &quotas[i]
		for _, r := range quotaResources {
			was, is := before.request, after.request
			if r.limit {
				was, is = before.limit, after.limit
			}
			if is == nil || was != nil && is.Cmp(*was) <= 0 {
				continue // no increase
			}
			hard, ok := quotaHard(rq, r.name)
			if !ok {
				continue
			}
			used, ok := rq.Status.Used[r.name]
			if !ok {
				// The quota controller has not counted this resource yet: the API server rejects
				// the pod anyway ("status unknown for quota"), and headroom does not add to it.
				return fmt.Errorf("resourcequota %s: %s: usage not known yet", rq.Name, r.name)
			}
			need := is.DeepCopy()
			if overhead != nil {
				need.Add(*overhead)
			}
			total := used.DeepCopy()
			total.Add(need)
			if total.Cmp(hard) > 0 {
				left := hard.DeepCopy()
				left.Sub(used)
				return fmt.Errorf("resourcequota %s: %s: the pod would need %s, %s left (hard %s, used %s)",
					rq.Name, r.name, quantityString(&need), quantityString(&left), quantityString(&hard), quantityString(&used))
			}
		}
	}
	return nil
}

// quotaHard is the quota's hard limit for a resource: the one admission enforces (status.hard), or
// spec.hard when it is lower (the controller has not copied a lowered spec to status yet).
// The values are copies: the quota comes from the shared informer cache.
func quotaHard(rq *corev1.ResourceQuota, name corev1.ResourceName) (resource.Quantity, bool) {
	hard, ok := rq.Status.Hard[name]
	if q, inSpec := rq.Spec.Hard[name]; inSpec && (!ok || q.Cmp(hard) < 0) {
		return q, true
	}
	return hard, ok
}

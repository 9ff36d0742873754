package webhook

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
)

// Workload names the object a recommendation is for (its spec.targetRef without the API version).
type Workload struct {
	Kind string
	Name string
}

func (w Workload) String() string { return w.Kind + "/" + w.Name }

// RecommendationName is the name of the workload's MemoryRecommendation.
func (w Workload) RecommendationName() string { return v1alpha1.NameFor(w.Kind, w.Name) }

// Matches reports whether a recommendation is for this workload.
func (w Workload) Matches(rec *v1alpha1.MemoryRecommendation) bool {
	return rec != nil && rec.Spec.TargetRef.Kind == w.Kind && rec.Spec.TargetRef.Name == w.Name
}

// podTemplateHashLabel is the label the Deployment controller puts on its ReplicaSets' pods; the
// ReplicaSet is named <deployment>-<hash>.
const podTemplateHashLabel = "pod-template-hash"

// ResolveWorkload returns the workloads a pod may belong to, most likely first, from its
// controller owner reference; none for a bare pod or an owner headroom does not size.
// The pod does not name its Deployment or CronJob, so these come from names:
//   - ReplicaSet <d>-<pod-template-hash> -> Deployment <d>, then the ReplicaSet itself;
//   - Job <c>-<digits> (the CronJob controller's naming) -> CronJob <c>, then the Job itself.
func ResolveWorkload(pod *corev1.Pod) []Workload {
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return nil
	}
	group := owner.APIVersion
	if i := strings.IndexByte(group, '/'); i >= 0 {
		group = group[:i]
	} else {
		group = ""
	}
	switch {
	case group == "apps" && owner.Kind == "ReplicaSet":
		rs := Workload{Kind: "ReplicaSet", Name: owner.Name}
		if hash := pod.Labels[podTemplateHashLabel]; hash != "" {
			if d, ok := strings.CutSuffix(owner.Name, "-"+hash); ok && d != "" {
				return []Workload{{Kind: "Deployment", Name: d}, rs}
			}
		}
		return []Workload{rs}
	case group == "apps" && (owner.Kind == "StatefulSet" || owner.Kind == "DaemonSet"):
		return []Workload{{Kind: owner.Kind, Name: owner.Name}}
	case group == "batch" && owner.Kind == "Job":
		job := Workload{Kind: "Job", Name: owner.Name}
		if i := strings.LastIndexByte(owner.Name, '-'); i > 0 && allDigits(owner.Name[i+1:]) {
			return []Workload{{Kind: "CronJob", Name: owner.Name[:i]}, job}
		}
		return []Workload{job}
	}
	return nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

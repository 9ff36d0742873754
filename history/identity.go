package history

import "regexp"

// Kubernetes' generated-name suffixes use this alphabet (no vowels, no 0, 1, 3).
const safe = `[bcdfghjklmnpqrstvwxz2456789]`

var (
	deploymentPod = regexp.MustCompile(`^(.+)-` + safe + `{6,10}-` + safe + `{5}$`)
	cronJobPod    = regexp.MustCompile(`^(.+)-[0-9]{8,}-` + safe + `{5}$`)
	statefulPod   = regexp.MustCompile(`^(.+)-[0-9]+$`)
	suffixedPod   = regexp.MustCompile(`^(.+)-` + safe + `{5}$`)
	hashedRS      = regexp.MustCompile(`^(.+)-` + safe + `{6,10}$`)
	scheduledJob  = regexp.MustCompile(`^(.+)-[0-9]{8,}$`)
)

// WorkloadFromPodName guesses a pod's workload from its generated name, for clusters without
// kube-state-metrics' owner metrics: name-<hash>-<5> is a Deployment, name-<minutes>-<5> a CronJob,
// name-<n> a StatefulSet, name-<5> a DaemonSet (it may also be a Job), anything else a bare Pod.
func WorkloadFromPodName(pod string) (kind, name string) {
	if m := cronJobPod.FindStringSubmatch(pod); m != nil {
		return "CronJob", m[1]
	}
	if m := deploymentPod.FindStringSubmatch(pod); m != nil {
		return "Deployment", m[1]
	}
	if m := statefulPod.FindStringSubmatch(pod); m != nil {
		return "StatefulSet", m[1]
	}
	if m := suffixedPod.FindStringSubmatch(pod); m != nil {
		return "DaemonSet", m[1]
	}
	return "Pod", pod
}

// identity resolves pods to workloads from kube-state-metrics' owner metrics
// (kube_pod_owner -> kube_replicaset_owner / kube_job_owner), falling back to names.
type identity struct {
	pods, replicaSets, jobs map[string]owner
	// haveRS and haveJobs: the owner metric exists at all (rows with "<none>" owners included).
	haveRS, haveJobs bool
}

func (id identity) resolve(pod string) (kind, name string) {
	o, ok := id.pods[pod]
	if !ok {
		return WorkloadFromPodName(pod)
	}
	switch o.kind {
	case "ReplicaSet":
		if d, ok := id.replicaSets[o.name]; ok {
			return d.kind, d.name
		}
		if !id.haveRS { // metric absent: the hash suffix says Deployment
			if m := hashedRS.FindStringSubmatch(o.name); m != nil {
				return "Deployment", m[1]
			}
		}
		return "ReplicaSet", o.name
	case "Job":
		if c, ok := id.jobs[o.name]; ok {
			return c.kind, c.name
		}
		if !id.haveJobs {
			if m := scheduledJob.FindStringSubmatch(o.name); m != nil {
				return "CronJob", m[1]
			}
		}
		return "Job", o.name
	}
	return o.kind, o.name
}

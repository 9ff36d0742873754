package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestQOSClass: the QoS class as Kubernetes v1.37 computes it on the stored pod (requests defaulted).
func TestQOSClass(t *testing.T) {
	tests := map[string]struct {
		spec string
		want corev1.PodQOSClass
	}{
		"no resources":                          {`containers: [{name: a}]`, corev1.PodQOSBestEffort},
		"limits only: requests default to them": {`containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}]`, corev1.PodQOSGuaranteed},
		"equal requests and limits": {
			`containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}, requests: {cpu: "1", memory: 1024Mi}}}]`, corev1.PodQOSGuaranteed},
		"a smaller memory request": {
			`containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}, requests: {memory: 512Mi}}}]`, corev1.PodQOSBurstable},
		"no CPU limit":          {`containers: [{name: a, resources: {limits: {memory: 1Gi}}}]`, corev1.PodQOSBurstable},
		"a memory request only": {`containers: [{name: a, resources: {requests: {memory: 1Gi}}}]`, corev1.PodQOSBurstable},
		"a zero limit is no limit": {
			`containers: [{name: a, resources: {limits: {cpu: 1, memory: "0"}}}]`, corev1.PodQOSBurstable},
		"one Guaranteed and one BestEffort container": {
			`containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}, {name: b}]`, corev1.PodQOSBurstable},
		"a Burstable init container": {
			`{initContainers: [{name: i, resources: {requests: {memory: 64Mi}}}], containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}]}`,
			corev1.PodQOSBurstable},
		"Guaranteed init and main containers": {
			`{initContainers: [{name: i, resources: {limits: {cpu: 1, memory: 64Mi}}}], containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}]}`,
			corev1.PodQOSGuaranteed},
		"pod-level resources decide, whatever the containers say": {
			`{resources: {limits: {cpu: 2, memory: 2Gi}, requests: {cpu: 2, memory: 2Gi}}, containers: [{name: a, resources: {requests: {memory: 1Gi}}}]}`,
			corev1.PodQOSGuaranteed},
		"pod-level limits only: requests default to the containers' requests": {
			`{resources: {limits: {cpu: 2, memory: 2Gi}}, containers: [{name: a, resources: {requests: {cpu: 2, memory: 1Gi}}}]}`,
			corev1.PodQOSBurstable},
		"pod-level limits only, no container requests: requests default to the limits": {
			`{resources: {limits: {cpu: 2, memory: 2Gi}}, containers: [{name: a}]}`, corev1.PodQOSGuaranteed},
		"pod-level requests only, every container limited: limits default to the aggregate": {
			`{resources: {requests: {cpu: 1, memory: 1Gi}}, containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}]}`,
			corev1.PodQOSGuaranteed},
		"pod-level requests only, a container without limits": {
			`{resources: {requests: {cpu: 1, memory: 1Gi}}, containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}}}, {name: b}]}`,
			corev1.PodQOSBurstable},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var spec corev1.PodSpec
			if err := yaml.UnmarshalStrict([]byte(tt.spec), &spec); err != nil {
				t.Fatal(err)
			}
			before := spec.DeepCopy()
			if got := QOSClass(&spec); got != tt.want {
				t.Errorf("QOSClass = %s, want %s", got, tt.want)
			}
			if got := Guaranteed(&spec); got != (tt.want == corev1.PodQOSGuaranteed) {
				t.Errorf("Guaranteed = %v", got)
			}
			if diff := cmp.Diff(before, &spec); diff != "" {
				t.Errorf("QOSClass changed the spec:\n%s", diff)
			}
		})
	}
}

func TestDefaultRequests(t *testing.T) {
	var spec corev1.PodSpec
	in := `{initContainers: [{name: i, resources: {limits: {memory: 64Mi}}}],
containers: [{name: a, resources: {limits: {cpu: 1, memory: 1Gi}, requests: {memory: 512Mi}}}, {name: b}, {name: c, resources: {requests: {cpu: 1}}}]}`
	if err := yaml.UnmarshalStrict([]byte(in), &spec); err != nil {
		t.Fatal(err)
	}
	DefaultRequests(&spec)
	got := map[string]corev1.ResourceList{}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		got[c.Name] = c.Resources.Requests
	}
	var want map[string]corev1.ResourceList
	if err := yaml.Unmarshal([]byte(`{i: {memory: 64Mi}, a: {cpu: 1, memory: 512Mi}, b: null, c: {cpu: 1}}`), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

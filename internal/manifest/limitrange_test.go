package manifest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func list(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func TestContainerDefaults(t *testing.T) {
	lr := func(typ corev1.LimitType, def, defReq corev1.ResourceList) corev1.LimitRange {
		return corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: typ, Default: def, DefaultRequest: defReq}}}}
	}
	tests := map[string]struct {
		lrs  []corev1.LimitRange
		in   corev1.ResourceRequirements
		want corev1.ResourceRequirements
	}{
		"a container without memory gets the defaults": {
			lrs:  []corev1.LimitRange{lr(corev1.LimitTypeContainer, list("memory", "512Mi"), list("memory", "256Mi"))},
			want: corev1.ResourceRequirements{Limits: list("memory", "512Mi"), Requests: list("memory", "256Mi")},
		},
		"set values stay": {
			lrs:  []corev1.LimitRange{lr(corev1.LimitTypeContainer, list("memory", "512Mi", "cpu", "1"), list("memory", "256Mi"))},
			in:   corev1.ResourceRequirements{Limits: list("memory", "2Gi")},
			want: corev1.ResourceRequirements{Limits: list("memory", "2Gi", "cpu", "1"), Requests: list("memory", "256Mi")},
		},
		"the first LimitRange with a default wins": {
			lrs: []corev1.LimitRange{lr(corev1.LimitTypeContainer, list("memory", "1Gi"), nil),
				lr(corev1.LimitTypeContainer, list("memory", "2Gi"), list("memory", "1Gi"))},
			want: corev1.ResourceRequirements{Limits: list("memory", "1Gi"), Requests: list("memory", "1Gi")},
		},
		"Pod LimitRanges have no container defaults": {
			lrs:  []corev1.LimitRange{lr(corev1.LimitTypePod, list("memory", "1Gi"), nil)},
			in:   corev1.ResourceRequirements{Requests: list("memory", "100Mi")},
			want: corev1.ResourceRequirements{Requests: list("memory", "100Mi")},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: *tt.in.DeepCopy()}}}
			before := spec.DeepCopy()
			got := ContainerDefaults(tt.lrs).Apply(spec)
			if diff := cmp.Diff(tt.want, got.Containers[0].Resources); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, spec); diff != "" {
				t.Errorf("the spec passed in changed:\n%s", diff)
			}
		})
	}
}

func TestMaxContainerMemory(t *testing.T) {
	lrs := []corev1.LimitRange{
		{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: list("memory", "8Gi")},
			{Type: corev1.LimitTypePod, Max: list("memory", "1Gi")}}}},
		{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: list("memory", "4Gi", "cpu", "1")}}}},
	}
	if got := MaxContainerMemory(lrs); got != 4<<30 {
		t.Errorf("MaxContainerMemory = %d, want 4Gi (the smallest container max; Pod items do not count)", got)
	}
	if got := MaxContainerMemory(nil); got != 0 {
		t.Errorf("no LimitRange: %d, want 0", got)
	}
}

package webhook

import (
	"encoding/json"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The admission path decodes only the parts of an AdmissionReview and of the pod that sizing
// reads, into the views below (decode.go reads them in one pass and skips everything else, which
// is most of a pod: volumes, probes, security contexts). The views also keep what a typed Pod
// cannot: whether a map or list was present at all, which the JSON patch needs to know whether to
// add a parent or a member. The patch is written from the changes Size made, never from a diff of
// re-encoded objects, so it holds only "add" and "replace" and cannot remove a field that our
// k8s.io/api does not know. The json tags say which field each view field is, and let the tests
// compare decode.go with encoding/json.

// reviewView is an admission.k8s.io/v1 AdmissionReview request.
type reviewView struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Request    *requestView `json:"request"`
}

type requestView struct {
	UID         types.UID               `json:"uid"`
	Kind        metav1.GroupVersionKind `json:"kind"`
	SubResource string                  `json:"subResource"`
	Namespace   string                  `json:"namespace"`
	Operation   string                  `json:"operation"`
	DryRun      *bool                   `json:"dryRun"`
	Object      podView                 `json:"object"`
}

// podView is the part of a Pod that sizing reads.
type podView struct {
	Metadata *metaView `json:"metadata"`
	Spec     *specView `json:"spec"`
}

type metaView struct {
	Name         string `json:"name"`
	GenerateName string `json:"generateName"`
	Namespace    string `json:"namespace"`
	// Labels: only pod-template-hash is read, so the other labels cost nothing.
	Labels *struct {
		PodTemplateHash string `json:"pod-template-hash"`
	} `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	OwnerReferences []ownerView       `json:"ownerReferences"`
}

type ownerView struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid"`
	Controller *bool     `json:"controller"`
}

type specView struct {
	InitContainers []containerView `json:"initContainers"`
	Containers     []containerView `json:"containers"`
	Resources      *resourcesView  `json:"resources"` // pod-level resources
	Overhead       *listView       `json:"overhead"`  // RuntimeClass overhead, counted by ResourceQuota
}

type containerView struct {
	Name          string         `json:"name"`
	Command       []string       `json:"command"`
	Args          []string       `json:"args"`
	Env           []envView      `json:"env"`
	EnvFrom       []struct{}     `json:"envFrom"` // only whether there are any
	Resources     *resourcesView `json:"resources"`
	RestartPolicy *string        `json:"restartPolicy"`
}

type envView struct {
	Name      string    `json:"name"`
	Value     *string   `json:"value"`
	ValueFrom *struct{} `json:"valueFrom"` // only whether it is there
}

type resourcesView struct {
	Limits   *listView `json:"limits"`
	Requests *listView `json:"requests"`
}

// listView is a ResourceList reduced to the two resources sizing reads.
type listView struct {
	Memory *quantityText `json:"memory"`
	CPU    *quantityText `json:"cpu"`
}

// quantityText is a quantity as written: a JSON string, or a number (YAML manifests have them).
type quantityText string

// UnmarshalJSONFrom accepts both forms straight from the decoder's token (decode.go), without
// the copy and the encoding/json pass UnmarshalJSON costs.
func (q *quantityText) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '"', '0':
		*q = quantityText(tok.String()) // a number's String is its text as written
		return nil
	}
	return fmt.Errorf("quantity must be a string or a number, got %s", tok.Kind())
}

// UnmarshalJSON accepts both forms (the tests' encoding/json oracle calls it).
func (q *quantityText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*q = quantityText(s)
		return nil
	}
	if len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9') {
		*q = quantityText(b)
		return nil
	}
	return fmt.Errorf("quantity must be a string or a number, got %.20s", b)
}

// toPod converts the view to a Pod that holds exactly the fields the view has. Slices of
// strings and the annotations map are shared with the view.
func (v *podView) toPod(namespace string) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	pod.Namespace = namespace
	if m := v.Metadata; m != nil {
		pod.Name, pod.GenerateName = m.Name, m.GenerateName
		if pod.Namespace == "" {
			pod.Namespace = m.Namespace
		}
		if m.Labels != nil && m.Labels.PodTemplateHash != "" {
			pod.Labels = map[string]string{podTemplateHashLabel: m.Labels.PodTemplateHash}
		}
		pod.Annotations = m.Annotations
		if len(m.OwnerReferences) > 0 {
			pod.OwnerReferences = make([]metav1.OwnerReference, len(m.OwnerReferences))
			for i, o := range m.OwnerReferences {
				pod.OwnerReferences[i] = metav1.OwnerReference{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name,
					UID: o.UID, Controller: o.Controller}
			}
		}
	}
	if s := v.Spec; s != nil {
		var err error
		if pod.Spec.InitContainers, err = toContainers(s.InitContainers); err != nil {
			return nil, err
		}
		if pod.Spec.Containers, err = toContainers(s.Containers); err != nil {
			return nil, err
		}
		if s.Resources != nil {
			r, err := s.Resources.toRequirements()
			if err != nil {
				return nil, fmt.Errorf("pod resources: %w", err)
			}
			pod.Spec.Resources = &r
		}
		if pod.Spec.Overhead, err = s.Overhead.toList(); err != nil {
			return nil, fmt.Errorf("pod overhead: %w", err)
		}
	}
	return pod, nil
}

func toContainers(vs []containerView) ([]corev1.Container, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	out := make([]corev1.Container, len(vs))
	for i := range vs {
		v, c := &vs[i], &out[i]
		c.Name, c.Command, c.Args = v.Name, v.Command, v.Args
		if v.RestartPolicy != nil {
			p := corev1.ContainerRestartPolicy(*v.RestartPolicy)
			c.RestartPolicy = &p
		}
		if len(v.Env) > 0 {
			c.Env = make([]corev1.EnvVar, len(v.Env))
			for j, e := range v.Env {
				c.Env[j].Name = e.Name
				if e.Value != nil {
					c.Env[j].Value = *e.Value
				}
				if e.ValueFrom != nil {
					c.Env[j].ValueFrom = &corev1.EnvVarSource{}
				}
			}
		}
		if len(v.EnvFrom) > 0 {
			c.EnvFrom = make([]corev1.EnvFromSource, len(v.EnvFrom))
		}
		if v.Resources != nil {
			r, err := v.Resources.toRequirements()
			if err != nil {
				return nil, fmt.Errorf("container %s: %w", v.Name, err)
			}
			c.Resources = r
		}
	}
	return out, nil
}

func (r *resourcesView) toRequirements() (corev1.ResourceRequirements, error) {
	var out corev1.ResourceRequirements
	var err error
	if out.Limits, err = r.Limits.toList(); err != nil {
		return out, fmt.Errorf("limits: %w", err)
	}
	if out.Requests, err = r.Requests.toList(); err != nil {
		return out, fmt.Errorf("requests: %w", err)
	}
	return out, nil
}

func (l *listView) toList() (corev1.ResourceList, error) {
	if l == nil || l.Memory == nil && l.CPU == nil {
		return nil, nil
	}
	out := make(corev1.ResourceList, 2)
	if err := parseInto(out, corev1.ResourceMemory, l.Memory); err != nil {
		return nil, err
	}
	if err := parseInto(out, corev1.ResourceCPU, l.CPU); err != nil {
		return nil, err
	}
	return out, nil
}

func parseInto(list corev1.ResourceList, name corev1.ResourceName, q *quantityText) error {
	if q == nil {
		return nil
	}
	v, err := resource.ParseQuantity(string(*q))
	if err != nil {
		return fmt.Errorf("%s %q: %w", name, string(*q), err)
	}
	list[name] = v
	return nil
}

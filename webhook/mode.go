package webhook

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/headroom-dev/headroom/mode"
)

// Keys of the annotations headroom reads and writes (the mode's is mode.Key).
const (
	// ExcludeKey is the pod annotation listing containers headroom must not touch: "a,b".
	ExcludeKey = "headroom.dev/exclude-containers"
	// SizedKey is the annotation headroom writes in enforce mode: what it changed and why.
	SizedKey = "headroom.dev/sized"
	// WouldSizeKey is the annotation headroom writes in dry-run mode: what it would change.
	WouldSizeKey = "headroom.dev/would-size"
)

// resolveMode is the pod's mode: the namespace's (its label, or the default), lowered by the pod's
// annotation (package mode). A value that is not a mode gives dry-run at most, and an error.
func resolveMode(def mode.Mode, ns NamespaceInfo, pod *corev1.Pod) (mode.Mode, error) {
	label, hasLabel := ns.Labels[mode.Key]
	m, err := mode.Namespace(def, label, hasLabel)
	annotation, hasAnnotation := pod.Annotations[mode.Key]
	m, err2 := mode.Workload(m, annotation, hasAnnotation)
	return m, errors.Join(err, err2)
}

// parseExclude reads the exclude-containers annotation: container names separated by commas.
// A name that cannot be a container name is an error: a typo must not size a container the
// user meant to exclude, so the caller leaves the whole pod alone.
func parseExclude(pod *corev1.Pod) ([]string, error) {
	v, ok := pod.Annotations[ExcludeKey]
	if !ok {
		return nil, nil
	}
	var names []string
	for part := range strings.SplitSeq(v, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return nil, fmt.Errorf("annotation %s: %q is not a container name", ExcludeKey, name)
		}
		names = append(names, name)
	}
	return names, nil
}

package webhook

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Keys of the labels and annotations headroom reads and writes.
const (
	// ModeKey is the namespace label and pod (template) annotation that selects the mode.
	ModeKey = "headroom.dev/mode"
	// ExcludeKey is the pod annotation listing containers headroom must not touch: "a,b".
	ExcludeKey = "headroom.dev/exclude-containers"
	// SizedKey is the annotation headroom writes in enforce mode: what it changed and why.
	SizedKey = "headroom.dev/sized"
	// WouldSizeKey is the annotation headroom writes in dry-run mode: what it would change.
	WouldSizeKey = "headroom.dev/would-size"
)

// Mode says what headroom does with a pod.
type Mode int

// Modes, ordered from least to most invasive: a pod annotation can only lower the namespace's mode.
const (
	ModeOff     Mode = iota // leave the pod alone
	ModeDryRun              // annotate and warn what would change, change nothing
	ModeEnforce             // change limits, requests and -Xmx
)

func (m Mode) String() string {
	switch m {
	case ModeOff:
		return "off"
	case ModeDryRun:
		return "dry-run"
	case ModeEnforce:
		return "enforce"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads "enforce", "dry-run" or "off".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "enforce":
		return ModeEnforce, nil
	case "dry-run":
		return ModeDryRun, nil
	case "off":
		return ModeOff, nil
	}
	return ModeOff, fmt.Errorf("mode %q is not one of enforce, dry-run, off", s)
}

// Set and Type let a Mode be a command-line flag.
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Type names the flag's value type in help output.
func (m *Mode) Type() string { return "mode" }

// resolveMode combines the namespace's mode (its label, or the default) with the pod's annotation.
// The annotation can only lower the mode: a workload can go to dry-run or off, never from off or
// dry-run to enforce, because the namespace owner's choice is the upper bound.
func resolveMode(defaultMode Mode, ns NamespaceInfo, pod *corev1.Pod) (Mode, error) {
	mode := defaultMode
	if v, ok := ns.Labels[ModeKey]; ok {
		m, err := ParseMode(v)
		if err != nil {
			return ModeDryRun, fmt.Errorf("namespace label %s: %w", ModeKey, err)
		}
		mode = m
	}
	if v, ok := pod.Annotations[ModeKey]; ok {
		m, err := ParseMode(strings.TrimSpace(v))
		if err != nil {
			return min(mode, ModeDryRun), fmt.Errorf("pod annotation %s: %w", ModeKey, err)
		}
		mode = min(mode, m)
	}
	return mode, nil
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

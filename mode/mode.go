// Package mode is what headroom may do in a namespace or workload: enforce, dry-run or off. A
// namespace label chooses it and a pod (template) annotation can only lower it; the webhook, the
// recommender, the agent and the report all read it here. Pure: no Kubernetes imports.
package mode

import (
	"fmt"
	"strings"
)

// Key is the namespace label and pod (template) annotation that selects the mode.
const Key = "headroom.dev/mode"

// Mode is enforce, dry-run or off; the zero value is not a mode.
type Mode string

// The modes, from least to most invasive.
const (
	Off     Mode = "off"     // leave pods alone
	DryRun  Mode = "dry-run" // say what would change, change nothing
	Enforce Mode = "enforce" // change limits, requests and -Xmx (the agent: reclaim cache)
)

// rank orders the modes; -1 for a value that is not one.
func (m Mode) rank() int {
	switch m {
	case Off:
		return 0
	case DryRun:
		return 1
	case Enforce:
		return 2
	}
	return -1
}

// Valid reports whether m is one of the three modes.
func (m Mode) Valid() bool { return m.rank() >= 0 }

// Parse reads "enforce", "dry-run" or "off" (surrounding spaces ignored).
func Parse(s string) (Mode, error) {
	if m := Mode(strings.TrimSpace(s)); m.Valid() {
		return m, nil
	}
	return "", fmt.Errorf("mode %q is not one of enforce, dry-run, off", s)
}

// Min is the less invasive of two modes.
func Min(a, b Mode) Mode {
	if a.rank() <= b.rank() {
		return a
	}
	return b
}

// Namespace is a namespace's mode: its label's value when it has the label, else def. A label
// that is not a mode counts as dry-run, with the error saying why: someone meant something, and
// watching is safer than acting or ignoring.
func Namespace(def Mode, label string, hasLabel bool) (Mode, error) {
	if !hasLabel {
		return def, nil
	}
	m, err := Parse(label)
	if err != nil {
		return DryRun, fmt.Errorf("namespace label %s: %w", Key, err)
	}
	return m, nil
}

// Workload lowers a namespace's mode by a workload's annotation: the namespace owner's choice is
// the upper bound, so a workload can go to dry-run or off, never up. An annotation that is not a
// mode lowers to dry-run at most, with the error saying why.
func Workload(ns Mode, annotation string, hasAnnotation bool) (Mode, error) {
	if !hasAnnotation {
		return ns, nil
	}
	m, err := Parse(annotation)
	if err != nil {
		return Min(ns, DryRun), fmt.Errorf("pod annotation %s: %w", Key, err)
	}
	return Min(ns, m), nil
}

// String returns the mode's name.
func (m Mode) String() string { return string(m) }

// Set and Type let a Mode be a command-line flag (pflag.Value).
func (m *Mode) Set(s string) error {
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Type names the flag's value type in help output.
func (m *Mode) Type() string { return "mode" }

package recommender

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

// PolicyKey is the namespace annotation with policy overrides for that namespace: YAML (or JSON)
// with keys of the policy file, e.g. `{horizon: 2h, maxLimit: 8Gi}`. Keys it does not set keep the
// global policy's values; unknown keys are errors. (The mode's label, mode.Key, selects the
// namespaces served: enforce and dry-run alike.)
const PolicyKey = "headroom.dev/policy"

// FieldManager is the server-side apply field manager of everything the recommender writes.
const FieldManager = "headroom-recommender"

// Options configure the recommender.
type Options struct {
	// Source is where history comes from (Prometheus, or a file for demos).
	Source history.Source
	// Policy is the global sizing policy (Default() when zero).
	Policy sizing.Policy
	// Lookback overrides the policy's lookback; Step is the query resolution
	// (0: history.DefaultStep of the lookback).
	Lookback, Step time.Duration
	// Interval between full cycles (default 1h). A cycle never runs longer than one interval.
	Interval time.Duration
	// RetryMin is the first delay before namespaces whose history could not be read are tried
	// again (default 30s); it doubles up to Interval.
	RetryMin time.Duration
	// Workers is how many namespaces are read and sized at once (default 4); each holds one
	// namespace's history in memory. WriteWorkers is how many API writes run at once (default 8).
	Workers, WriteWorkers int
	// Namespaces, when not empty, are the only namespaces served; ExcludeNamespaces never are.
	Namespaces, ExcludeNamespaces []string
	// DefaultMode is the mode of namespaces without the headroom.dev/mode label (default dry-run).
	// Namespaces in mode off are not served.
	DefaultMode mode.Mode
	// Refresh is the longest a status keeps observed figures that drifted by less than the
	// significance threshold (default 24h): writes happen on change, and at least this often.
	Refresh time.Duration
	// Clock returns the time (default time.Now); tests fix it to the end of their history.
	Clock func() time.Time
}

func (o *Options) defaults() error {
	if o.Source == nil {
		return errors.New("recommender: a history source is required")
	}
	if o.Policy == (sizing.Policy{}) {
		o.Policy = sizing.Default()
	}
	if err := o.Policy.Validate(); err != nil {
		return err
	}
	if o.Lookback < 0 || o.Step < 0 {
		return errors.New("recommender: lookback and step must not be negative")
	}
	if o.Interval == 0 {
		o.Interval = time.Hour
	}
	if o.Interval < time.Minute {
		return fmt.Errorf("recommender: interval %s: want at least 1m", o.Interval)
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.WriteWorkers <= 0 {
		o.WriteWorkers = 8
	}
	if o.DefaultMode == "" {
		o.DefaultMode = mode.DryRun
	}
	if !o.DefaultMode.Valid() {
		return fmt.Errorf("recommender: default mode %q: want enforce, dry-run or off", o.DefaultMode)
	}
	if o.Refresh <= 0 {
		o.Refresh = 24 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return nil
}

// serves reports whether the recommender keeps recommendations for a namespace with these labels.
// A namespace with an invalid mode label is served: the webhook treats it as dry-run, and the
// report should show what would happen there.
func (o *Options) serves(name string, labels map[string]string) bool {
	if len(o.Namespaces) > 0 && !slices.Contains(o.Namespaces, name) {
		return false
	}
	if slices.Contains(o.ExcludeNamespaces, name) {
		return false
	}
	label, ok := labels[mode.Key]
	m, _ := mode.Namespace(o.DefaultMode, label, ok)
	return m != mode.Off
}

// lookback is the lookback of a policy, unless the command line overrides it.
func (o *Options) lookback(p sizing.Policy) time.Duration {
	if o.Lookback > 0 {
		return o.Lookback
	}
	return p.Lookback.D()
}

// window returns the history window of a policy ending at now.
func (o *Options) window(p sizing.Policy, now time.Time) (history.Window, error) {
	lb := o.lookback(p)
	step := o.Step
	if step == 0 {
		step = history.DefaultStep(lb)
	}
	return history.NewWindow(now, lb, step)
}

// NamespacePolicy applies a namespace's headroom.dev/policy annotation to the global policy:
// strictly (unknown keys are errors), keys it leaves out keep their global values, and the result
// is validated. An empty annotation is the global policy.
func NamespacePolicy(global sizing.Policy, annotation string) (sizing.Policy, error) {
	p := global
	if len(bytes.TrimSpace([]byte(annotation))) == 0 {
		return p, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(annotation)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return global, fmt.Errorf("annotation %s: %w", PolicyKey, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return global, fmt.Errorf("annotation %s: want one YAML document", PolicyKey)
	}
	if err := p.Validate(); err != nil {
		return global, fmt.Errorf("annotation %s: %w", PolicyKey, err)
	}
	return p, nil
}

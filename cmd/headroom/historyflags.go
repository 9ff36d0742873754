package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/sizing"
)

// historyFlags are the flags the offline commands (recommend, report, backtest) share: where
// history comes from, which namespaces, the sizing policy, the window and the manifests.
type historyFlags struct {
	historyFile, prometheusURL, namespace, policyFile, end string
	allNamespaces                                          bool
	lookback, step                                         days
	manifests                                              []string
}

// historyUsage is the help of the shared flags whose wording depends on the command.
type historyUsage struct {
	namespace, allNamespaces, lookback, filename string
}

// register adds the shared flags to f.
func (h *historyFlags) register(f *pflag.FlagSet, u historyUsage) {
	f.StringVar(&h.historyFile, "history", "", "OpenMetrics history file (timestamps, ending in # EOF)")
	f.StringVar(&h.prometheusURL, "prometheus-url", "", "Prometheus-compatible HTTP API to read history from")
	f.StringVarP(&h.namespace, "namespace", "n", "", u.namespace)
	f.BoolVarP(&h.allNamespaces, "all-namespaces", "A", false, u.allNamespaces)
	f.StringVar(&h.policyFile, "policy", "", "sizing policy (YAML, see config/policy/policy.yaml); default: built-in")
	f.Var(&h.lookback, "lookback", u.lookback+", e.g. 7d or 36h (default: the policy's lookback)")
	f.Var(&h.step, "step", "resolution: each sample is the maximum over one step (default: lookback/672, at least 1m)")
	f.StringVar(&h.end, "end", "", "end of the window, RFC3339 (default: now, or the last sample of --history)")
	f.StringArrayVarP(&h.manifests, "filename", "f", nil, u.filename)
}

// open checks the shared flags, reads the policy and returns the history source and the window
// to read it over.
func (h *historyFlags) open() (history.Source, history.Window, sizing.Policy, error) {
	if (h.historyFile == "") == (h.prometheusURL == "") {
		return nil, history.Window{}, sizing.Policy{}, errors.New("give exactly one of --history FILE and --prometheus-url URL")
	}
	if (h.namespace == "") == !h.allNamespaces {
		return nil, history.Window{}, sizing.Policy{}, errors.New("give -n NAMESPACE or -A")
	}
	policy, err := readPolicy(h.policyFile)
	if err != nil {
		return nil, history.Window{}, sizing.Policy{}, err
	}
	lookback := policy.Lookback.D()
	if h.lookback > 0 {
		lookback = time.Duration(h.lookback)
	}
	step := time.Duration(h.step)
	if step == 0 {
		step = history.DefaultStep(lookback)
	}
	// --end is checked before the history file is read: a typo should not cost a large file's parse.
	var end time.Time
	if h.end != "" {
		if end, err = time.Parse(time.RFC3339, h.end); err != nil {
			return nil, history.Window{}, sizing.Policy{}, fmt.Errorf("--end: %w", err)
		}
	}

	var src history.Source
	if h.historyFile != "" {
		f, err := history.OpenFile(h.historyFile, history.FileOptions{})
		if err != nil {
			return nil, history.Window{}, sizing.Policy{}, err
		}
		if f.Samples() == 0 {
			return nil, history.Window{}, sizing.Policy{}, fmt.Errorf("history file %s: no samples of the metrics headroom reads", h.historyFile)
		}
		src = f
		if end.IsZero() {
			end = f.End() // a file's history ends where it ends, not now
		}
	} else {
		// A minute per attempt: a week of a large namespace at full resolution is a heavy query.
		p, err := history.NewPrometheus(history.PrometheusOptions{URL: h.prometheusURL, Timeout: time.Minute, Backoff: 500 * time.Millisecond})
		if err != nil {
			return nil, history.Window{}, sizing.Policy{}, err
		}
		src = p
	}
	if end.IsZero() {
		end = time.Now()
	}
	w, err := history.NewWindow(end, lookback, step)
	if err != nil {
		return nil, history.Window{}, sizing.Policy{}, err
	}
	return src, w, policy, nil
}

// workloads reads the -f manifests (none without -f), keyed as history keys workloads; a
// workload without a namespace is in -n's namespace, or "default".
func (h *historyFlags) workloads(stdin io.Reader) (map[history.WorkloadKey]*manifest.Workload, error) {
	workloads, err := manifest.ReadPaths(h.manifests, stdin)
	if err != nil {
		return nil, err
	}
	byKey := make(map[history.WorkloadKey]*manifest.Workload, len(workloads))
	for i := range workloads {
		mw := &workloads[i]
		ns := cmp.Or(mw.Namespace, h.namespace, "default")
		byKey[history.WorkloadKey{Namespace: ns, Kind: mw.Kind, Name: mw.Name}] = mw
	}
	return byKey, nil
}

// namespaces returns -n's namespace, or with -A every namespace with history in the window and
// the extra ones (those of the manifests), sorted.
func (h *historyFlags) namespaces(ctx context.Context, src history.Source, w history.Window, extra []string) ([]string, error) {
	if !h.allNamespaces {
		return []string{h.namespace}, nil
	}
	names, err := src.Namespaces(ctx, w)
	if err != nil {
		return nil, err
	}
	names = append(names, extra...)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// eachNamespace loads every namespace's history in turn and hands it to fn, showing progress on
// a terminal.
func eachNamespace(cmd *cobra.Command, src history.Source, w history.Window, namespaces []string,
	fn func(ns string, h *history.Namespace) error) error {
	ctx := commandContext(cmd)
	progress := progressFunc(cmd.ErrOrStderr(), len(namespaces))
	defer progress(-1, "")
	for i, ns := range namespaces {
		progress(i, ns)
		h, err := src.Load(ctx, ns, w)
		if err != nil {
			return err
		}
		if err := fn(ns, h); err != nil {
			return err
		}
	}
	return nil
}

// commandContext is the command's context; tests that call RunE directly have none.
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

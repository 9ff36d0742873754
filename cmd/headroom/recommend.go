package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/recommender"
	"github.com/headroom-dev/headroom/sizing"
)

type recommendOptions struct {
	historyFile, prometheusURL, namespace, policyFile, output, end string
	allNamespaces                                                  bool
	lookback, step                                                 days
	manifests                                                      []string
}

func newRecommendCmd() *cobra.Command {
	var o recommendOptions
	cmd := &cobra.Command{
		Use:   "recommend (--history FILE | --prometheus-url URL) (-n NAMESPACE | -A)",
		Short: "Print MemoryRecommendations computed from memory history, without a cluster",
		Long: `recommend reads memory history from an OpenMetrics file (what promtool backfills) or from
Prometheus (or Thanos, Mimir, VictoriaMetrics), sizes every container of every workload it finds,
and prints MemoryRecommendation objects (YAML stream, or a JSON List with -o json).
With -f the current limits, requests and -Xmx come from the manifests; without it only the limits
history shows are known and -Xmx is left alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecommend(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.historyFile, "history", "", "OpenMetrics history file (timestamps, ending in # EOF)")
	f.StringVar(&o.prometheusURL, "prometheus-url", "", "Prometheus-compatible HTTP API to read history from")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace to size")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "size every namespace with history")
	f.StringVar(&o.policyFile, "policy", "", "sizing policy (YAML, see config/policy/policy.yaml); default: built-in")
	f.Var(&o.lookback, "lookback", "history to read, e.g. 7d or 36h (default: the policy's lookback)")
	f.Var(&o.step, "step", "resolution: each sample is the maximum over one step (default: lookback/2016, at least 1m)")
	f.StringVar(&o.end, "end", "", "end of the window, RFC3339 (default: now, or the last sample of --history)")
	f.StringArrayVarP(&o.manifests, "filename", "f", nil, "manifests with the workloads' current resources and JVM options (file, directory or -)")
	f.StringVarP(&o.output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func runRecommend(cmd *cobra.Command, o recommendOptions) error {
	if (o.historyFile == "") == (o.prometheusURL == "") {
		return errors.New("give exactly one of --history FILE and --prometheus-url URL")
	}
	if (o.namespace == "") == !o.allNamespaces {
		return errors.New("give -n NAMESPACE or -A")
	}
	if o.output != "yaml" && o.output != "json" {
		return fmt.Errorf("-o %s: want yaml or json", o.output)
	}
	policy, err := readPolicy(o.policyFile)
	if err != nil {
		return err
	}
	lookback := policy.Lookback.D()
	if o.lookback > 0 {
		lookback = time.Duration(o.lookback)
	}
	step := time.Duration(o.step)
	if step == 0 {
		step = history.DefaultStep(lookback)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}

	var src history.Source
	end := time.Now()
	if o.historyFile != "" {
		f, err := history.OpenFile(o.historyFile, history.FileOptions{})
		if err != nil {
			return err
		}
		if f.Samples() == 0 {
			return fmt.Errorf("history file %s: no samples of the metrics headroom reads", o.historyFile)
		}
		src, end = f, f.End()
	} else {
		p, err := history.NewPrometheus(history.PrometheusOptions{URL: o.prometheusURL, Timeout: time.Minute, Backoff: 500 * time.Millisecond})
		if err != nil {
			return err
		}
		src = p
	}
	if o.end != "" {
		t, err := time.Parse(time.RFC3339, o.end)
		if err != nil {
			return fmt.Errorf("--end: %w", err)
		}
		end = t
	}
	w, err := history.NewWindow(end, lookback, step)
	if err != nil {
		return err
	}

	workloads, err := manifest.ReadPaths(o.manifests, cmd.InOrStdin())
	if err != nil {
		return err
	}
	byKey := map[history.WorkloadKey]*manifest.Workload{}
	for i := range workloads {
		mw := &workloads[i]
		ns := mw.Namespace
		if ns == "" {
			ns = o.namespace
			if ns == "" {
				ns = "default"
			}
		}
		byKey[history.WorkloadKey{Namespace: ns, Kind: mw.Kind, Name: mw.Name}] = mw
	}

	namespaces := []string{o.namespace}
	if o.allNamespaces {
		if namespaces, err = src.Namespaces(ctx, w); err != nil {
			return err
		}
		for k := range byKey {
			namespaces = append(namespaces, k.Namespace)
		}
		sort.Strings(namespaces)
		namespaces = compact(namespaces)
	}

	progress := progressFunc(cmd.ErrOrStderr(), len(namespaces))
	var items []*v1alpha1.MemoryRecommendation
	for i, ns := range namespaces {
		progress(i, ns)
		h, err := src.Load(ctx, ns, w)
		if err != nil {
			progress(-1, "")
			return err
		}
		seen := map[history.WorkloadKey]bool{}
		for _, wl := range h.Workloads {
			if wl.Key.Kind == "Pod" {
				continue // a pod without a controller has nothing to point a recommendation at
			}
			seen[wl.Key] = true
			items = append(items, recommendWorkload(policy, wl.Key, wl.Containers, byKey[wl.Key], w.End))
		}
		// Workloads of the manifests that history does not know get "insufficient history".
		for k, mw := range byKey {
			if k.Namespace == ns && !seen[k] {
				items = append(items, recommendWorkload(policy, k, nil, mw, w.End))
			}
		}
	}
	progress(-1, "")
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return printRecommendations(cmd.OutOrStdout(), o.output, items)
}

// recommendWorkload sizes one workload; mw (may be nil) supplies the current resources and -Xmx,
// and the template's containers that history lacks.
func recommendWorkload(p sizing.Policy, key history.WorkloadKey, containers []sizing.Container, mw *manifest.Workload,
	now time.Time) *v1alpha1.MemoryRecommendation {
	var spec *corev1.PodSpec
	if mw != nil {
		spec = mw.PodSpec
	}
	return recommender.NewObject(key, recommender.Size(p, containers, spec, 0), now)
}

func printRecommendations(w io.Writer, format string, items []*v1alpha1.MemoryRecommendation) error {
	objs := make([]any, 0, len(items))
	for _, mr := range items {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(mr)
		if err != nil {
			return err
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "creationTimestamp") // never set offline; "null" is noise
		}
		objs = append(objs, m)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // reasons say "3000Mi -> 3776Mi"
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	}
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}

// progressFunc reports which namespace is being read when stderr is a terminal and there are
// several; progress(-1, "") clears the line.
func progressFunc(w io.Writer, total int) func(i int, ns string) {
	f, ok := w.(*os.File)
	if !ok || total < 2 || !term.IsTerminal(int(f.Fd())) {
		return func(int, string) {}
	}
	return func(i int, ns string) {
		if i < 0 {
			fmt.Fprint(w, "\r\033[K")
			return
		}
		fmt.Fprintf(w, "\r\033[Kreading history: namespace %d/%d %s", i+1, total, ns)
	}
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// days is a duration flag that also reads whole days ("7d").
type days time.Duration

func (d *days) String() string {
	if *d == 0 {
		return ""
	}
	return sizing.FormatDuration(time.Duration(*d))
}

func (d *days) Set(s string) error {
	v, err := sizing.ParseDuration(s)
	if err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("%q: must be positive", s)
	}
	*d = days(v)
	return nil
}

func (d *days) Type() string { return "duration" }

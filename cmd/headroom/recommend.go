package main

import (
	"encoding/json"
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
	historyFlags
	output string
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
	o.register(f, historyUsage{
		namespace:     "namespace to size",
		allNamespaces: "size every namespace with history",
		lookback:      "history to read",
		filename:      "manifests with the workloads' current resources and JVM options (file, directory or -)",
	})
	f.StringVarP(&o.output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func runRecommend(cmd *cobra.Command, o recommendOptions) error {
	if o.output != "yaml" && o.output != "json" {
		return fmt.Errorf("-o %s: want yaml or json", o.output)
	}
	src, w, policy, err := o.open()
	if err != nil {
		return err
	}
	byKey, err := o.workloads(cmd.InOrStdin())
	if err != nil {
		return err
	}
	var inManifests []string
	for k := range byKey {
		inManifests = append(inManifests, k.Namespace)
	}
	namespaces, err := o.namespaces(commandContext(cmd), src, w, inManifests)
	if err != nil {
		return err
	}

	var items []*v1alpha1.MemoryRecommendation
	err = eachNamespace(cmd, src, w, namespaces, func(ns string, h *history.Namespace) error {
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
		return nil
	})
	if err != nil {
		return err
	}
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

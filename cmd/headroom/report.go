package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/sizing"
)

// Keys of the namespace label and pod-template annotations headroom reads (the webhook's).
const (
	modeKey    = "headroom.dev/mode"
	excludeKey = "headroom.dev/exclude-containers"
)

type reportOptions struct {
	historyFile, prometheusURL, namespace, policyFile, output, out, end, defaultMode string
	allNamespaces, cluster                                                           bool
	lookback, step                                                                   days
	manifests                                                                        []string
}

func newReportCmd() *cobra.Command {
	o := reportOptions{cluster: true}
	cmd := &cobra.Command{
		Use:   "report (--history FILE | --prometheus-url URL) (-n NAMESPACE | -A)",
		Short: "Show what is happening to memory, what headroom would change and why (dry-run report)",
		Long: `report reads memory history from an OpenMetrics file or from Prometheus, sizes every container
of every workload with the policy, and shows per namespace: current limit, request and -Xmx (and
where -Xmx is set), RSS, page cache and heap, whether the cache is limit-bound, the usage projected
at the horizon as a share of the current and the recommended limit, and what headroom would do
and why, riskiest first. Nothing is changed.

Current specs come from -f manifests, or else from the cluster (--kubeconfig, $KUBECONFIG or
in-cluster), which also gives each namespace's headroom.dev/mode label and the published
MemoryRecommendations. Without either, the report uses the limits history shows and leaves -Xmx
unknown (--cluster=false forces that).

Formats: table (terminal), json and csv (fields in docs/report.md), html (one self-contained page
with a chart per container).`,
		Example: `  headroom report --prometheus-url http://prometheus:9090 -n shop
  headroom report --history history.om -f deploy/ -A -o html --out report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.historyFile, "history", "", "OpenMetrics history file (timestamps, ending in # EOF)")
	f.StringVar(&o.prometheusURL, "prometheus-url", "", "Prometheus-compatible HTTP API to read history from")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace to report on")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "report on every namespace with history (or manifests)")
	f.StringVar(&o.policyFile, "policy", "", "sizing policy (YAML, see config/policy/policy.yaml); default: built-in")
	f.Var(&o.lookback, "lookback", "history to read, e.g. 7d or 36h (default: the policy's lookback)")
	f.Var(&o.step, "step", "resolution: each sample is the maximum over one step (default: lookback/672, at least 1m)")
	f.StringVar(&o.end, "end", "", "end of the window, RFC3339 (default: now, or the last sample of --history)")
	f.StringArrayVarP(&o.manifests, "filename", "f", nil, "manifests with the workloads' current resources and JVM options (file, directory or -); the cluster is not read")
	f.BoolVar(&o.cluster, "cluster", o.cluster, "without -f, read current specs, modes and MemoryRecommendations from the cluster when one is configured")
	f.StringVar(&o.defaultMode, "default-mode", report.ModeDryRun, "mode of namespaces without a headroom.dev/mode label (the chart's defaultMode): enforce, dry-run or off")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json, csv or html")
	f.StringVar(&o.out, "out", "", "write the report to this file instead of standard output")
	// --kubeconfig is controller-runtime's own flag, read by config.GetConfig (else in-cluster config).
	f.AddGoFlag(flag.CommandLine.Lookup(config.KubeconfigFlagName))
	return cmd
}

// specs are the workloads' current pod templates and what goes with them, from -f or the cluster.
type specs struct {
	source string // report.SourceManifest or report.SourceCluster; "" when none
	byKey  map[history.WorkloadKey]*manifest.Workload
	// From the cluster only:
	cluster client.Reader
	inv     *inventory.Namespace
}

func runReport(cmd *cobra.Command, o reportOptions) error {
	if (o.historyFile == "") == (o.prometheusURL == "") {
		return errors.New("give exactly one of --history FILE and --prometheus-url URL")
	}
	if (o.namespace == "") == !o.allNamespaces {
		return errors.New("give -n NAMESPACE or -A")
	}
	switch o.output {
	case "table", "json", "csv", "html":
	default:
		return fmt.Errorf("-o %s: want table, json, csv or html", o.output)
	}
	switch o.defaultMode {
	case report.ModeEnforce, report.ModeDryRun, report.ModeOff:
	default:
		return fmt.Errorf("--default-mode %s: want enforce, dry-run or off", o.defaultMode)
	}
	policy := sizing.Default()
	if o.policyFile != "" {
		f, err := os.Open(o.policyFile)
		if err != nil {
			return err
		}
		policy, err = sizing.DecodePolicy(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.policyFile, err)
		}
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

	sp := specs{byKey: map[history.WorkloadKey]*manifest.Workload{}}
	switch {
	case len(o.manifests) > 0:
		workloads, err := manifest.ReadPaths(o.manifests, cmd.InOrStdin())
		if err != nil {
			return err
		}
		sp.source = report.SourceManifest
		for i := range workloads {
			mw := &workloads[i]
			ns := cmp.Or(mw.Namespace, o.namespace, "default")
			sp.byKey[history.WorkloadKey{Namespace: ns, Kind: mw.Kind, Name: mw.Name}] = mw
		}
	case o.cluster:
		cfg, err := config.GetConfig()
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "headroom: no cluster configured (%v): reporting from history alone, -Xmx unknown\n", err)
			break
		}
		c, err := client.New(cfg, client.Options{Scheme: inventory.Scheme()})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", cfg.Host, err)
		}
		sp.source, sp.cluster = report.SourceCluster, c
	}

	namespaces := []string{o.namespace}
	if o.allNamespaces {
		if namespaces, err = src.Namespaces(ctx, w); err != nil {
			return err
		}
		for k := range sp.byKey {
			namespaces = append(namespaces, k.Namespace)
		}
		slices.Sort(namespaces)
		namespaces = slices.Compact(namespaces)
	}

	in := report.Input{
		GeneratedAt: time.Now(),
		Window:      report.Window{Start: w.Start, End: w.End, Step: w.Step},
		Policy:      policy,
	}
	if o.historyFile != "" {
		in.GeneratedAt = w.End // a report from a file is reproducible
	}
	progress := progressFunc(cmd.ErrOrStderr(), len(namespaces))
	for i, ns := range namespaces {
		progress(i, ns)
		h, err := src.Load(ctx, ns, w)
		if err != nil {
			progress(-1, "")
			return err
		}
		if sp.cluster != nil {
			inv, err := inventory.Load(ctx, sp.cluster, ns)
			if err != nil {
				progress(-1, "")
				return fmt.Errorf("cluster: %w (use -f or --cluster=false to report without it)", err)
			}
			sp.inv = inv
			for k := range sp.byKey {
				delete(sp.byKey, k)
			}
			for j := range inv.Workloads {
				mw := &inv.Workloads[j]
				sp.byKey[history.WorkloadKey{Namespace: ns, Kind: mw.Kind, Name: mw.Name}] = mw
			}
		}
		in.Namespaces = append(in.Namespaces, namespaceInput(ns, h, sp, o.defaultMode))
	}
	progress(-1, "")
	r := report.Build(in)

	out := cmd.OutOrStdout()
	if o.out != "" {
		f, err := os.Create(o.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	if err := writeReport(out, o.output, r); err != nil {
		return err
	}
	if f, ok := out.(*os.File); ok && o.out != "" {
		return f.Close()
	}
	return nil
}

func writeReport(w io.Writer, format string, r *report.Report) error {
	switch format {
	case "json":
		return report.WriteJSON(w, r)
	case "csv":
		return report.WriteCSV(w, r)
	case "html":
		return report.WriteHTML(w, r)
	}
	opts := report.TableOptions{Width: 120}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		opts.Color = os.Getenv("NO_COLOR") == ""
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width >= 80 {
			opts.Width = min(width, 160)
		}
	}
	return report.WriteTable(w, r, opts)
}

// namespaceInput joins one namespace's history with its workloads' specs.
func namespaceInput(ns string, h *history.Namespace, sp specs, defaultMode string) report.NamespaceInput {
	in := report.NamespaceInput{Name: ns, Mode: defaultMode}
	if sp.inv != nil {
		if v, ok := sp.inv.Labels[modeKey]; ok {
			in.Mode = v
			if v != report.ModeEnforce && v != report.ModeOff {
				in.Mode = report.ModeDryRun // the webhook treats a label it cannot read as dry-run
			}
		}
	}
	seen := map[history.WorkloadKey]bool{}
	for _, wl := range h.Workloads {
		if wl.Key.Kind == "Pod" {
			continue // a pod without a controller has no recommendation to point at
		}
		seen[wl.Key] = true
		in.Workloads = append(in.Workloads, workloadInput(wl.Key, wl.Containers, sp))
	}
	var rest []history.WorkloadKey
	for k := range sp.byKey {
		if k.Namespace == ns && !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.SortFunc(rest, func(a, b history.WorkloadKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range rest {
		in.Workloads = append(in.Workloads, workloadInput(k, nil, sp))
	}
	return in
}

func workloadInput(key history.WorkloadKey, containers []sizing.Container, sp specs) report.WorkloadInput {
	wl := report.WorkloadInput{Kind: key.Kind, Name: key.Name}
	mw := sp.byKey[key]
	var mrec *v1alpha1.MemoryRecommendation
	var lrMax int64
	if sp.inv != nil {
		mrec = sp.inv.Recommendation(key.Kind, key.Name)
		lrMax = sp.inv.LimitRangeMax
		wl.Replicas = sp.inv.Replicas[key.Kind+"/"+key.Name]
	}
	if mw != nil {
		if mw.PodMeta != nil {
			wl.Mode = mw.PodMeta.Annotations[modeKey]
			for name := range strings.SplitSeq(mw.PodMeta.Annotations[excludeKey], ",") {
				if name = strings.TrimSpace(name); name != "" {
					wl.Exclude = append(wl.Exclude, name)
				}
			}
		}
		if wl.Replicas == 0 {
			wl.Replicas = specReplicas(mw.Object)
		}
		have := map[string]bool{}
		for _, c := range containers {
			have[c.Name] = true
		}
		for _, c := range mw.PodSpec.Containers {
			if !have[c.Name] {
				containers = append(containers, sizing.Container{Name: c.Name})
			}
		}
		slices.SortFunc(containers, func(a, b sizing.Container) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, c := range containers {
		ci := report.ContainerInput{Name: c.Name, History: c}
		if mw != nil {
			if cur, ok := manifest.Current(mw.PodSpec, c.Name); ok {
				cur.LimitRangeMax = lrMax
				ci.Current, ci.Source = &cur, sp.source
				for i := range mw.PodSpec.Containers {
					if mw.PodSpec.Containers[i].Name == c.Name {
						jc := manifest.JVMContainer(&mw.PodSpec.Containers[i])
						ci.JVM = &jc
					}
				}
			}
		}
		if mrec != nil {
			ci.Published = published(mrec, c.Name)
		}
		wl.Containers = append(wl.Containers, ci)
	}
	return wl
}

// published is what a MemoryRecommendation says for one container; nil when it has no entry.
func published(mr *v1alpha1.MemoryRecommendation, container string) *report.Published {
	for _, c := range mr.Status.Containers {
		if c.Name != container {
			continue
		}
		p := &report.Published{}
		if c.Limit != nil {
			p.Limit = c.Limit.Value()
		}
		if c.Request != nil {
			p.Request = c.Request.Value()
		}
		if c.Xmx != "" {
			p.Xmx, _ = jvm.ParseSize(c.Xmx)
		}
		if t := mr.Status.LastUpdateTime; t != nil {
			p.Updated = t.Time
		}
		return p
	}
	return nil
}

// specReplicas is the desired number of pods of a workload whose kind has one; 0 otherwise.
func specReplicas(obj any) int {
	var r *int32
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r = o.Spec.Replicas
	case *appsv1.StatefulSet:
		r = o.Spec.Replicas
	case *appsv1.ReplicaSet:
		r = o.Spec.Replicas
	default:
		return 0
	}
	if r == nil {
		return 1
	}
	return int(*r)
}

package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/report"
)

type reportOptions struct {
	historyFlags
	output, out string
	defaultMode mode.Mode
	cluster     bool
}

func newReportCmd() *cobra.Command {
	o := reportOptions{cluster: true, defaultMode: mode.DryRun}
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
	o.register(f, historyUsage{
		namespace:     "namespace to report on",
		allNamespaces: "report on every namespace with history (or manifests)",
		lookback:      "history to read",
		filename:      "manifests with the workloads' current resources and JVM options (file, directory or -); the cluster is not read",
	})
	f.BoolVar(&o.cluster, "cluster", o.cluster, "without -f, read current specs, modes and MemoryRecommendations from the cluster when one is configured")
	f.Var(&o.defaultMode, "default-mode", "mode of namespaces without a headroom.dev/mode label (the chart's defaultMode): enforce, dry-run or off")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json, csv or html")
	f.StringVar(&o.out, "out", "", "write the report to this file instead of standard output")
	addKubeconfigFlag(cmd)
	return cmd
}

func runReport(cmd *cobra.Command, o reportOptions) error {
	switch o.output {
	case "table", "json", "csv", "html":
	default:
		return fmt.Errorf("-o %s: want table, json, csv or html", o.output)
	}
	src, w, policy, err := o.open()
	if err != nil {
		return err
	}
	ctx := commandContext(cmd)

	// Specs come from -f, else from the cluster (per namespace, below), else there are none.
	var specs *inventory.Specs
	var cluster client.Reader
	switch {
	case len(o.manifests) > 0:
		byKey, err := o.workloads(cmd.InOrStdin())
		if err != nil {
			return err
		}
		specs = inventory.ManifestSpecs(byKey)
	case o.cluster:
		cfg, err := config.GetConfig()
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "headroom: no cluster configured (%v): reporting from history alone, -Xmx unknown\n", err)
			break
		}
		if cluster, err = client.New(cfg, client.Options{Scheme: inventory.Scheme()}); err != nil {
			return fmt.Errorf("cluster %s: %w", cfg.Host, err)
		}
	}
	namespaces, err := o.namespaces(ctx, src, w, specs.Namespaces())
	if err != nil {
		return err
	}

	in := report.Input{
		GeneratedAt: time.Now(),
		Window:      report.Window{Start: w.Start, End: w.End, Step: w.Step},
		Policy:      policy,
	}
	if o.historyFile != "" {
		in.GeneratedAt = w.End // a report from a file is reproducible
	}
	err = eachNamespace(cmd, src, w, namespaces, func(ns string, h *history.Namespace) error {
		sp := specs
		if cluster != nil {
			inv, err := inventory.Load(ctx, cluster, ns)
			if err != nil {
				return fmt.Errorf("cluster: %w (use -f or --cluster=false to report without it)", err)
			}
			sp = inventory.ClusterSpecs(inv)
		}
		in.Namespaces = append(in.Namespaces, sp.NamespaceInput(ns, h, o.defaultMode))
		return nil
	})
	if err != nil {
		return err
	}
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

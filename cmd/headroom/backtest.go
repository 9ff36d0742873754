package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/agent"
	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/sizing"
)

type backtestOptions struct {
	historyFile, prometheusURL, namespace, policyFile, output, end string
	allNamespaces                                                  bool
	lookback, step                                                 days
	manifests                                                      []string
	agentHorizon, agentMinInterval                                 time.Duration
	agentThreshold, agentTarget                                    float64
}

func newBacktestCmd() *cobra.Command {
	o := backtestOptions{agentHorizon: 2 * time.Hour, agentMinInterval: agent.DefaultConfig().MinInterval}
	cmd := &cobra.Command{
		Use:   "backtest (--history FILE | --prometheus-url URL) (-n NAMESPACE | -A)",
		Short: "Replay memory history under current, VPA, KRR and headroom limits and compare what each would have done",
		Long: `backtest replays each container's memory history, sample by sample, under five strategies:
current (the manifests' limits and -Xmx), vpa (VPA's formula), krr (KRR's simple strategy), headroom
(headroom's recommendation) and headroom+agent (headroom's recommendation for a cluster that runs the
agent, with the agent's reclaims). The replay models the kernel: page cache fills the room a limit
leaves and is reclaimed at the limit, and a JVM's RSS follows its committed heap. For each strategy it
reports memory reserved (limit x replicas), OOM-risk minutes, alert minutes (usage and working set
above the policy's targetUtilization of the limit) and the agent's reclaims, with totals and a verdict
per namespace. docs/backtest.md lists the model's assumptions.

With -f the current limits, requests and -Xmx come from the manifests; without it only the limits
history shows are known and -Xmx is left alone. -o html writes one self-contained page with charts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBacktest(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.historyFile, "history", "", "OpenMetrics history file (timestamps, ending in # EOF)")
	f.StringVar(&o.prometheusURL, "prometheus-url", "", "Prometheus-compatible HTTP API to read history from")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace to replay")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "replay every namespace with history")
	f.StringVar(&o.policyFile, "policy", "", "sizing policy (YAML, see config/policy/policy.yaml); default: built-in")
	f.Var(&o.lookback, "lookback", "history to replay, e.g. 7d or 36h (default: the policy's lookback)")
	f.Var(&o.step, "step", "resolution: each sample is the maximum over one step (default: lookback/672, at least 1m)")
	f.StringVar(&o.end, "end", "", "end of the window, RFC3339 (default: now, or the last sample of --history)")
	f.StringArrayVarP(&o.manifests, "filename", "f", nil, "manifests with the workloads' current resources and JVM options (file, directory or -)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or html")
	f.DurationVar(&o.agentHorizon, "agent-horizon", o.agentHorizon, "policy horizon headroom+agent is sized with (the chart's value when the agent runs); 0 keeps the policy's")
	f.Float64Var(&o.agentThreshold, "agent-threshold", 0, "agent threshold, a fraction of the limit (default: the policy's targetUtilization - 0.05)")
	f.Float64Var(&o.agentTarget, "agent-target", 0, "agent target, a fraction of the limit (default: the policy's targetUtilization - 0.20)")
	f.DurationVar(&o.agentMinInterval, "agent-min-interval", o.agentMinInterval, "least time between two of the agent's reclaims of the same pod")
	return cmd
}

func runBacktest(cmd *cobra.Command, o backtestOptions) error {
	if (o.historyFile == "") == (o.prometheusURL == "") {
		return errors.New("give exactly one of --history FILE and --prometheus-url URL")
	}
	if (o.namespace == "") == !o.allNamespaces {
		return errors.New("give -n NAMESPACE or -A")
	}
	if o.output != "table" && o.output != "json" && o.output != "html" {
		return fmt.Errorf("-o %s: want table, json or html", o.output)
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
	bo := backtest.DefaultOptions(policy, step)
	bo.AgentHorizon, bo.AgentMinInterval = o.agentHorizon, o.agentMinInterval
	bo.AgentInterval = agent.DefaultConfig().Interval
	if o.agentThreshold != 0 {
		bo.Agent.Threshold = o.agentThreshold
	}
	if o.agentTarget != 0 {
		bo.Agent.Target = o.agentTarget
	}
	bo.Charts = o.output == "html"
	if err := bo.Validate(); err != nil {
		return err
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
		sort.Strings(namespaces)
	}

	report := backtest.Report{Settings: bo.Settings()}
	progress := progressFunc(cmd.ErrOrStderr(), len(namespaces))
	for i, ns := range namespaces {
		progress(i, ns)
		h, err := src.Load(ctx, ns, w)
		if err != nil {
			progress(-1, "")
			return err
		}
		res, err := backtest.Run(bo, ns, w.Start, w.End, backtestWorkloads(h, byKey))
		if err != nil {
			progress(-1, "")
			return err
		}
		report.Namespaces = append(report.Namespaces, res)
	}
	progress(-1, "")
	out := cmd.OutOrStdout()
	switch o.output {
	case "json":
		return backtest.WriteJSON(out, report)
	case "html":
		return backtest.WriteHTML(out, report)
	}
	return backtest.WriteTable(out, report)
}

// backtestWorkloads pairs a namespace's history with what the manifests set today. Pods without a
// controller are left out: headroom sizes workloads, so there is nothing to compare for them.
// Without a manifest a container's current limit is the last one history shows, -Xmx unknown.
func backtestWorkloads(h *history.Namespace, byKey map[history.WorkloadKey]*manifest.Workload) []backtest.Workload {
	var out []backtest.Workload
	for _, wl := range h.Workloads {
		if wl.Key.Kind == "Pod" {
			continue
		}
		mw := byKey[wl.Key]
		bw := backtest.Workload{Kind: wl.Key.Kind, Name: wl.Key.Name}
		for _, c := range wl.Containers {
			cur, ok := sizing.Current{}, false
			if mw != nil {
				cur, ok = manifest.Current(mw.PodSpec, c.Name)
			}
			if !ok {
				cur = sizing.Current{Limit: c.LastLimit()}
			}
			bw.Containers = append(bw.Containers, backtest.Container{History: c, Current: cur})
		}
		out = append(out, bw)
	}
	return out
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/agent"
	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/sizing"
)

type backtestOptions struct {
	historyFlags
	output                         string
	agentHorizon, agentMinInterval time.Duration
	agentThreshold, agentTarget    float64
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
	o.register(f, historyUsage{
		namespace:     "namespace to replay",
		allNamespaces: "replay every namespace with history",
		lookback:      "history to replay",
		filename:      "manifests with the workloads' current resources and JVM options (file, directory or -)",
	})
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or html")
	f.DurationVar(&o.agentHorizon, "agent-horizon", o.agentHorizon, "policy horizon headroom+agent is sized with (the chart's value when the agent runs); 0 keeps the policy's")
	f.Float64Var(&o.agentThreshold, "agent-threshold", 0, "agent threshold, a fraction of the limit (default: the policy's targetUtilization - 0.05)")
	f.Float64Var(&o.agentTarget, "agent-target", 0, "agent target, a fraction of the limit (default: the policy's targetUtilization - 0.20)")
	f.DurationVar(&o.agentMinInterval, "agent-min-interval", o.agentMinInterval, "least time between two of the agent's reclaims of the same pod")
	return cmd
}

func runBacktest(cmd *cobra.Command, o backtestOptions) error {
	if o.output != "table" && o.output != "json" && o.output != "html" {
		return fmt.Errorf("-o %s: want table, json or html", o.output)
	}
	src, w, policy, err := o.open()
	if err != nil {
		return err
	}
	bo := backtest.DefaultOptions(policy, w.Step)
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
	byKey, err := o.workloads(cmd.InOrStdin())
	if err != nil {
		return err
	}
	// Only namespaces with history: there is nothing to replay in the others.
	namespaces, err := o.namespaces(commandContext(cmd), src, w, nil)
	if err != nil {
		return err
	}

	report := backtest.Report{Settings: bo.Settings()}
	err = eachNamespace(cmd, src, w, namespaces, func(ns string, h *history.Namespace) error {
		res, err := backtest.Run(bo, ns, w.Start, w.End, backtestWorkloads(h, byKey))
		if err != nil {
			return err
		}
		report.Namespaces = append(report.Namespaces, res)
		return nil
	})
	if err != nil {
		return err
	}
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

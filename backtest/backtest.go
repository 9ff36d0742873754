package backtest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/reclaim"
	"github.com/headroom-dev/headroom/sizing"
)

// Strategy names a way of sizing a container that the backtest replays.
type Strategy string

// The strategies, in the order they are reported.
const (
	// Current is what the manifests set today (limit and -Xmx).
	Current Strategy = "current"
	// VPA is the Vertical Pod Autoscaler's memory formula: p90 of daily working-set peaks x 1.15.
	VPA Strategy = "vpa"
	// KRR is robusta-dev/krr's simple strategy: the working-set maximum x 1.15.
	KRR Strategy = "krr"
	// Headroom is headroom's recommendation under the policy.
	Headroom Strategy = "headroom"
	// HeadroomAgent is headroom's recommendation for a cluster that runs the agent (the chart's
	// shorter horizon), replayed with the agent's reclaim rule.
	HeadroomAgent Strategy = "headroom+agent"
)

// Strategies lists every strategy in report order.
var Strategies = []Strategy{Current, VPA, KRR, Headroom, HeadroomAgent}

// Options say how to replay.
type Options struct {
	// Policy is the sizing policy: headroom's recommendation, the alert line (targetUtilization)
	// and the censoring rule (limitBoundFraction) come from it.
	Policy sizing.Policy
	// AgentHorizon is the policy horizon headroom+agent is sized with: the chart sets 2h when the
	// agent runs, since the agent keeps cache in check beyond it. 0 keeps Policy.Horizon.
	AgentHorizon time.Duration
	// Agent is the agent's threshold and target (fractions of the limit).
	Agent reclaim.Thresholds
	// AgentInterval is how often the agent looks at a container; AgentMinInterval the least time
	// between two reclaims of the same pod.
	AgentInterval, AgentMinInterval time.Duration
	// Step is the history's resolution: each sample stands for Step of time.
	Step time.Duration
	// Charts keeps the per-sample usage of current and headroom+agent for the HTML charts.
	Charts bool

	// simulateAll replays unchanged settings through the kernel model too, instead of reading the
	// recorded samples (tests check that the model reproduces the record).
	simulateAll bool
}

// DefaultOptions returns the options for a policy: the agent acts at targetUtilization - 0.05 and
// reclaims down to targetUtilization - 0.20 (0.75 and 0.60 for the default 0.8, the agent's flag
// defaults), looks every 10s and reclaims a pod at most every 5 minutes, as the agent does by default.
func DefaultOptions(p sizing.Policy, step time.Duration) Options {
	return Options{
		Policy:           p,
		AgentHorizon:     2 * time.Hour,
		Agent:            ThresholdsFor(p),
		AgentInterval:    10 * time.Second,
		AgentMinInterval: 5 * time.Minute,
		Step:             step,
	}
}

// ThresholdsFor derives the agent's thresholds from the policy's alert line: act 5 points below it
// (DESIGN.md section 1) and reclaim 15 points further down, as the agent's defaults do (75 %, 60 %).
func ThresholdsFor(p sizing.Policy) reclaim.Thresholds {
	round := func(f float64) float64 { return math.Round(f*1e4) / 1e4 } // 0.8-0.2 is 0.6000000000000001
	return reclaim.Thresholds{Threshold: round(p.TargetUtilization - 0.05), Target: round(p.TargetUtilization - 0.20)}
}

// Validate checks the options.
func (o Options) Validate() error {
	if err := o.Policy.Validate(); err != nil {
		return err
	}
	if err := o.Agent.Validate(); err != nil {
		return fmt.Errorf("agent %w", err)
	}
	if o.Step <= 0 || o.AgentInterval <= 0 || o.AgentMinInterval < 0 || o.AgentHorizon < 0 {
		return fmt.Errorf("backtest: step (%s) and agent interval (%s) must be positive, agent min interval (%s) and horizon (%s) not negative",
			o.Step, o.AgentInterval, o.AgentMinInterval, o.AgentHorizon)
	}
	return nil
}

// Workload is one workload's history and its containers' current settings.
type Workload struct {
	Kind, Name string
	Containers []Container
}

// Container is one container of a workload: its history and what its manifest sets today.
type Container struct {
	History sizing.Container
	Current sizing.Current
}

// Report is the result of a backtest over one or more namespaces.
type Report struct {
	Settings   Settings    `json:"settings"`
	Namespaces []Namespace `json:"namespaces"`
}

// Settings are the figures the replay used, for the reader.
type Settings struct {
	TargetUtilization float64 `json:"targetUtilization"`
	Horizon           string  `json:"horizon"`
	AgentHorizon      string  `json:"agentHorizon"`
	AgentThreshold    float64 `json:"agentThreshold"`
	AgentTarget       float64 `json:"agentTarget"`
	AgentMinInterval  string  `json:"agentMinInterval"`
	Step              string  `json:"step"`

	step time.Duration
}

// Settings returns the figures of the options for a report.
func (o Options) Settings() Settings {
	return Settings{
		TargetUtilization: o.Policy.TargetUtilization,
		Horizon:           o.Policy.Horizon.String(),
		AgentHorizon:      sizing.FormatDuration(o.agentPolicy().Horizon.D()),
		AgentThreshold:    o.Agent.Threshold,
		AgentTarget:       o.Agent.Target,
		AgentMinInterval:  sizing.FormatDuration(o.AgentMinInterval),
		Step:              sizing.FormatDuration(o.Step),
		step:              o.Step,
	}
}

// Namespace is the backtest of one namespace.
type Namespace struct {
	Name      string           `json:"name"`
	Start     time.Time        `json:"start"`
	End       time.Time        `json:"end"`
	Workloads []WorkloadResult `json:"workloads"`
	// Totals are per strategy, in Strategies order.
	Totals []Totals `json:"totals"`
	// Verdict is one sentence comparing headroom+agent with current and vpa.
	Verdict string `json:"verdict"`
}

// WorkloadResult is the backtest of one workload.
type WorkloadResult struct {
	Kind       string            `json:"kind"`
	Name       string            `json:"name"`
	Containers []ContainerResult `json:"containers"`
}

// ContainerResult is the backtest of one container: one outcome per strategy.
type ContainerResult struct {
	Name string `json:"name"`
	// Pods is how many pods ran it in the window; Replicas the median number running at once.
	Pods     int     `json:"pods"`
	Replicas float64 `json:"replicas"`
	// Samples is the number of pod samples replayed.
	Samples  int       `json:"samples"`
	Outcomes []Outcome `json:"outcomes"`

	charts []chartSeries // current and headroom+agent, when Options.Charts
}

// Outcome is what one strategy would have done to one container over the window.
type Outcome struct {
	Strategy Strategy `json:"strategy"`
	// Limit, Request and Xmx in bytes; 0: none (Xmx 0: the heap setting of the manifest, if any, is unknown or unset).
	Limit   int64 `json:"limitBytes"`
	Request int64 `json:"requestBytes"`
	Xmx     int64 `json:"xmxBytes,omitempty"`
	// Reserved is limit x replicas (the request where there is no limit).
	Reserved int64 `json:"reservedBytes"`
	// OOMRiskMinutes: predicted anon memory at the limit (a kernel OOM kill) or heap use above -Xmx
	// (an OutOfMemoryError), summed over pods.
	OOMRiskMinutes float64 `json:"oomRiskMinutes"`
	// AlertUsageMinutes and AlertWorkingSetMinutes: usage (working set) above targetUtilization of
	// the limit, summed over pods.
	AlertUsageMinutes      float64 `json:"alertUsageMinutes"`
	AlertWorkingSetMinutes float64 `json:"alertWorkingSetMinutes"`
	// Reclaims the agent would have made (headroom+agent only).
	Reclaims int `json:"reclaims"`
	// Note says why the strategy kept the current settings, when it did.
	Note string `json:"note,omitempty"`
}

// Totals are one strategy's figures summed over a namespace.
type Totals struct {
	Strategy               Strategy `json:"strategy"`
	Reserved               int64    `json:"reservedBytes"`
	OOMRiskMinutes         float64  `json:"oomRiskMinutes"`
	AlertUsageMinutes      float64  `json:"alertUsageMinutes"`
	AlertWorkingSetMinutes float64  `json:"alertWorkingSetMinutes"`
	Reclaims               int      `json:"reclaims"`
}

// Run replays every container of the namespace's workloads under every strategy. Containers
// without samples are left out. The result depends only on the arguments.
func Run(o Options, namespace string, start, end time.Time, workloads []Workload) (Namespace, error) {
	if err := o.Validate(); err != nil {
		return Namespace{}, err
	}
	ns := Namespace{Name: namespace, Start: start.UTC(), End: end.UTC()}
	for _, wl := range workloads {
		wr := WorkloadResult{Kind: wl.Kind, Name: wl.Name}
		for _, c := range wl.Containers {
			if cr, ok := o.container(c, len(wl.Containers)); ok {
				wr.Containers = append(wr.Containers, cr)
			}
		}
		if len(wr.Containers) > 0 {
			ns.Workloads = append(ns.Workloads, wr)
		}
	}
	slices.SortFunc(ns.Workloads, func(a, b WorkloadResult) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	ns.Totals = totals(ns.Workloads)
	ns.Verdict = verdict(ns.Totals)
	return ns, nil
}

// container replays one container under every strategy.
func (o Options) container(c Container, containersInPod int) (ContainerResult, bool) {
	var recs [2]sizing.Recommendation
	var errs [2]error
	recs[0], errs[0] = sizing.Recommend(o.Policy, c.History, c.Current)
	recs[1], errs[1] = sizing.Recommend(o.agentPolicy(), c.History, c.Current)
	frames := o.frames(c, recs[0])
	if len(frames) == 0 {
		return ContainerResult{}, false
	}
	cr := ContainerResult{Name: c.History.Name, Pods: len(frames), Replicas: replicas(frames)}
	for _, f := range frames {
		cr.Samples += len(f.t)
	}
	for _, s := range Strategies {
		p := o.plan(s, c, frames, containersInPod, recs, errs)
		var tr *trace
		if o.Charts && (s == Current || s == HeadroomAgent) {
			tr = &trace{}
		}
		out := o.replay(c, frames, p, tr)
		out.Strategy, out.Note = s, p.note
		out.Limit, out.Request, out.Xmx = p.Limit, p.Request, p.Xmx
		size := p.Limit
		if size == 0 {
			size = p.Request
		}
		out.Reserved = int64(math.Round(float64(size) * cr.Replicas))
		cr.Outcomes = append(cr.Outcomes, out)
		if tr != nil {
			cr.charts = append(cr.charts, chartSeries{strategy: s, limit: p.Limit, points: tr.points()})
		}
	}
	return cr, true
}

// replicas is the median number of pods running at once, over the timestamps where any ran.
func replicas(frames []*frame) float64 {
	count := map[int64]int{}
	for _, f := range frames {
		for _, t := range f.t {
			count[t]++
		}
	}
	n := make([]int, 0, len(count))
	for _, c := range count {
		n = append(n, c)
	}
	slices.Sort(n)
	if len(n) == 0 {
		return 0
	}
	if len(n)%2 == 1 {
		return float64(n[len(n)/2])
	}
	return float64(n[len(n)/2-1]+n[len(n)/2]) / 2
}

// minutes is how many minutes k samples stand for.
func (o Options) minutes(k int) float64 { return float64(k) * o.Step.Minutes() }

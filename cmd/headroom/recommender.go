package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/recommender"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/sizing"
)

type recommenderOptions struct {
	opts                  recommender.Options
	mgr                   recommender.ManagerOptions
	transport             recommender.TransportOptions
	prometheusURL         string
	historyFile           string
	selector              string
	policyFile            string
	lookback, step        days
	queryTimeout          time.Duration
	once                  bool
	logLevel              string
	namespaces, excluding []string
}

func newRecommenderCmd() *cobra.Command {
	o := recommenderOptions{opts: recommender.Options{Interval: time.Hour, Workers: 4, WriteWorkers: 8, DefaultMode: mode.DryRun}}
	cmd := &cobra.Command{
		Use:   "recommender --prometheus-url URL",
		Short: "Keep one MemoryRecommendation per workload up to date from Prometheus history",
		Long: `recommender reads memory history from Prometheus (or Thanos, Mimir, VictoriaMetrics) and keeps one
MemoryRecommendation per workload (Deployment, StatefulSet, DaemonSet, CronJob, Job, bare ReplicaSet)
up to date: at start and then every --interval, for every namespace not labelled headroom.dev/mode=off.
It queries per namespace (a fixed number of queries, whatever the number of workloads) and writes only
what changed. When history cannot be read it keeps the last recommendations, says so in the
PrometheusUnavailable condition and tries those namespaces again with backoff.

A namespace may override parts of the policy with the annotation
headroom.dev/policy: '{horizon: 2h, maxLimit: 8Gi}' (keys of the policy file).

On the metrics port it also serves the dry-run report of its last cycle (what 'headroom report'
shows, with the namespace's policy): GET /report?namespace=NS is the HTML page with a chart per
container, &format=json or &format=csv the other formats. Without namespace it covers every served
namespace, without charts, reading each namespace's history in turn. A namespace it does not serve
is a 404; before its first cycle, and on a replica that does not lead, every request is a 503.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecommender(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.prometheusURL, "prometheus-url", "", "Prometheus-compatible HTTP API to read history from")
	f.StringVar(&o.transport.BearerTokenFile, "prometheus-bearer-token-file", "", "file with a bearer token for Prometheus (read on every request, so rotated tokens work)")
	f.StringVar(&o.transport.CAFile, "prometheus-ca-file", "", "PEM CA bundle that signed Prometheus' certificate (reloaded when it changes; default: system roots)")
	f.BoolVar(&o.transport.InsecureSkipVerify, "prometheus-insecure-skip-verify", false, "do not verify Prometheus' certificate (tests only: anyone on the path could feed made-up history)")
	f.BoolVar(&o.transport.Compression, "prometheus-compression", false, "ask Prometheus for gzip responses (saves network, costs CPU on both ends: for a remote or billed link)")
	f.StringVar(&o.selector, "prometheus-selector", "", `label matchers added to every query, e.g. cluster="prod" for a shared Thanos or Mimir`)
	f.DurationVar(&o.queryTimeout, "prometheus-timeout", time.Minute, "timeout of one query attempt (3 attempts with backoff)")
	f.StringVar(&o.historyFile, "history", "", "read history from an OpenMetrics file instead of Prometheus (demos and tests)")
	f.StringVar(&o.policyFile, "policy", "", "sizing policy (YAML, strictly decoded; see config/policy/policy.yaml); default: built-in")
	f.DurationVar(&o.opts.Interval, "interval", o.opts.Interval, "time between full cycles (a cycle also runs at start)")
	f.IntVar(&o.opts.Workers, "workers", o.opts.Workers, "namespaces read and sized in parallel (each holds one namespace's history in memory)")
	f.IntVar(&o.opts.WriteWorkers, "write-workers", o.opts.WriteWorkers, "MemoryRecommendation writes in parallel")
	f.StringSliceVar(&o.namespaces, "namespaces", nil, "serve only these namespaces (comma-separated; default: all)")
	f.StringSliceVar(&o.excluding, "exclude-namespaces", nil, "never serve these namespaces (comma-separated)")
	f.Var(&o.opts.DefaultMode, "default-mode", "mode of namespaces without a headroom.dev/mode label: enforce or dry-run (served), or off (not served)")
	f.Var(&o.lookback, "lookback", "history to read, e.g. 7d (default: the policy's lookback)")
	f.Var(&o.step, "step", "query resolution: each sample is the maximum over one step (default: lookback/672, 15m for 7d)")
	f.BoolVar(&o.once, "once", false, "run one cycle and exit (non-zero when it could not read history or write everything)")
	f.BoolVar(&o.mgr.LeaderElection, "leader-elect", false, "elect a leader with a Lease so that only one replica is active")
	f.StringVar(&o.mgr.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the pod's namespace)")
	f.StringVar(&o.mgr.MetricsBindAddress, "metrics-bind-address", ":8080", "address of /metrics and the /report page; 0 disables them")
	f.StringVar(&o.mgr.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (ready once the caches synced); 0 disables them")
	f.StringVar(&o.mgr.PprofBindAddress, "pprof-bind-address", "0", "address of Go's /debug/pprof endpoints, to profile CPU and memory; 0 disables them")
	f.StringVar(&o.logLevel, "log-level", "info", "info or debug")
	addKubeconfigFlag(cmd)
	return cmd
}

func runRecommender(ctx context.Context, o recommenderOptions) error {
	log, err := setupLogging(o.logLevel)
	if err != nil {
		return err
	}
	if (o.prometheusURL == "") == (o.historyFile == "") {
		return errors.New("give exactly one of --prometheus-url URL and --history FILE")
	}
	if o.opts.Policy, err = readPolicy(o.policyFile); err != nil {
		return err
	}
	o.opts.Lookback, o.opts.Step = time.Duration(o.lookback), time.Duration(o.step)
	o.opts.Namespaces, o.opts.ExcludeNamespaces = o.namespaces, o.excluding
	if o.historyFile != "" {
		f, err := history.OpenFile(o.historyFile, history.FileOptions{Selector: o.selector})
		if err != nil {
			return err
		}
		o.opts.Source = f
		o.opts.Clock = f.End // the file's history ends where it ends, not now
	} else {
		rt, err := recommender.NewTransport(o.transport)
		if err != nil {
			return err
		}
		src, err := history.NewPrometheus(history.PrometheusOptions{URL: o.prometheusURL, RoundTripper: rt, Selector: o.selector,
			Timeout: o.queryTimeout, Observe: recommender.ObserveQuery})
		if err != nil {
			return err
		}
		o.opts.Source = src
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if o.once {
		o.mgr.MetricsBindAddress, o.mgr.HealthProbeBindAddress = "0", "0"
	}
	mgr, rec, err := recommender.NewManager(cfg, o.mgr, o.opts)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Not ctrl.SetupSignalHandler: it may be called once per process, and tests run this twice.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log.Info("Starting recommender manager", "prometheus", o.prometheusURL, "history", o.historyFile,
		"policy", o.policyFile, "leaderElect", o.mgr.LeaderElection, "once", o.once)
	if !o.once {
		if err := errors.Join(mgr.Add(rec), mgr.AddMetricsServerExtraHandler("/report", report.Handler(rec.Report))); err != nil {
			return err
		}
		return runManager(ctx, mgr, stopGrace)
	}
	var stats recommender.CycleStats
	if err := mgr.Add(rec.RunOnceWhenSynced(mgr.GetCache(), func(st recommender.CycleStats) { stats = st; cancel() })); err != nil {
		return err
	}
	if err := runManager(ctx, mgr, stopGrace); err != nil {
		return err
	}
	if stats.Err != nil {
		return fmt.Errorf("cycle: %w", stats.Err)
	}
	return nil
}

// readPolicy reads a policy file strictly; "" is the built-in default.
func readPolicy(path string) (sizing.Policy, error) {
	if path == "" {
		return sizing.Default(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return sizing.Policy{}, err
	}
	defer f.Close()
	p, err := sizing.DecodePolicy(f)
	if err != nil {
		return sizing.Policy{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

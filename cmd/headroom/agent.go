package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/headroom-dev/headroom/agent"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/reclaim"
)

type agentOptions struct {
	cfg         agent.Config
	cgroupRoot  string
	metricsAddr string
	healthAddr  string
	once        bool
	cgroup      string
	logLevel    string
	threshold   float64
	target      float64
}

func newAgentCmd() *cobra.Command {
	o := agentOptions{cfg: agent.DefaultConfig()}
	o.cfg.DefaultMode = mode.DryRun // the safe default, as in the chart: events only until a namespace says enforce
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Node fallback: reclaim the page cache of this node's containers that near their memory limit",
		Long: `agent runs on every node (DaemonSet). Every --interval it reads the memory cgroup of each container of
the pods on --node-name and, when usage or working set is over --threshold of the limit because of page
cache, reclaims that container's cache down to --target (cgroup v2 memory.reclaim; cgroup v1 fadvise of
its written files, then memory.force_empty unless that would drop hot, active cache the decision keeps).
Rate-limited per pod and per node; never lowers limits; skips pods and namespaces with
headroom.dev/mode=off and the namespaces in --exclude-namespaces. Node-wide drop_caches only with
--allow-drop-caches.

Manual mode: agent --once --cgroup DIR acts on one cgroup directory, without Kubernetes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.cfg.Thresholds = reclaim.Thresholds{Threshold: o.threshold, Target: o.target}
			if o.cgroup != "" {
				if !o.once {
					return errors.New("--cgroup acts on one cgroup and exits: add --once")
				}
				return agent.Once(cmd.OutOrStdout(), o.cgroup, o.cfg.Thresholds, "")
			}
			return runAgent(o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.cfg.NodeName, "node-name", os.Getenv("NODE_NAME"), "node whose pods to watch (default $NODE_NAME, from the downward API spec.nodeName)")
	f.StringVar(&o.cgroupRoot, "cgroup-root", "/sys/fs/cgroup", "the host's cgroup fs mount; cgroup v2 when it lists the memory controller, else v1 under memory/")
	f.DurationVar(&o.cfg.Interval, "interval", o.cfg.Interval, "time between passes over the node's containers")
	f.Float64Var(&o.threshold, "threshold", reclaim.DefaultThresholds.Threshold, "reclaim when usage or working set exceeds this fraction of the limit (policy targetUtilization - 0.05, so before an 80% alert)")
	f.Float64Var(&o.target, "target", reclaim.DefaultThresholds.Target, "reclaim down to this fraction of the limit")
	f.DurationVar(&o.cfg.MinInterval, "min-interval", o.cfg.MinInterval, "least time between two reclaims of the same pod")
	f.IntVar(&o.cfg.NodeReclaimsPerMinute, "node-max-reclaims-per-minute", o.cfg.NodeReclaimsPerMinute, "most targeted reclaims per minute on this node (burst of the same size)")
	f.BoolVar(&o.cfg.AllowDropCaches, "allow-drop-caches", false, "last resort: drop the node's whole page cache (echo 1 > drop_caches) when a targeted reclaim failed; hurts every pod on the node")
	f.DurationVar(&o.cfg.DropCachesMinInterval, "drop-caches-min-interval", o.cfg.DropCachesMinInterval, "least time between two node-wide drop_caches")
	// dry-run by default, as in the chart: events only until a namespace says enforce.
	f.Var(&o.cfg.DefaultMode, "default-mode", "mode for pods in namespaces without a headroom.dev/mode label: enforce, dry-run (events only) or off")
	f.StringSliceVar(&o.cfg.ExcludeNamespaces, "exclude-namespaces", o.cfg.ExcludeNamespaces, "never act on pods in these namespaces, whatever their mode (comma-separated; the chart adds the release namespace)")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the /metrics endpoint; 0 disables it")
	f.StringVar(&o.healthAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 disables them")
	f.BoolVar(&o.once, "once", false, "run one pass and exit (with --cgroup: act on that cgroup only, without Kubernetes)")
	f.StringVar(&o.cgroup, "cgroup", "", "with --once: the cgroup directory to act on")
	f.StringVar(&o.logLevel, "log-level", "info", "info or debug (debug logs every decision)")
	addKubeconfigFlag(cmd)
	return cmd
}

func runAgent(o agentOptions) error {
	log, err := setupLogging(o.logLevel)
	if err != nil {
		return err
	}
	if err := o.cfg.Validate(); err != nil {
		return err
	}
	memcg, err := agent.Detect(o.cgroupRoot, "/proc")
	if err != nil {
		return err
	}
	restCfg, err := config.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	metricsAddr, healthAddr := o.metricsAddr, o.healthAddr
	if o.once {
		metricsAddr, healthAddr = "0", "0"
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: healthAddr,
		Cache:                  agent.CacheOptions(o.cfg.NodeName), // this node's pods only
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	ctx, cancel := context.WithCancel(ctrl.SetupSignalHandler())
	defer cancel()
	a, err := agent.NewForManager(ctx, mgr, o.cfg, memcg)
	if err != nil {
		return err
	}
	log.Info("Starting agent", "node", o.cfg.NodeName, "cgroup", memcg.Version(), "memoryRoot", memcg.Root(),
		"threshold", o.cfg.Thresholds.Threshold, "target", o.cfg.Thresholds.Target, "allowDropCaches", o.cfg.AllowDropCaches,
		"excludeNamespaces", o.cfg.ExcludeNamespaces)
	if o.once {
		err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			defer cancel()
			_, err := a.Pass(ctx)
			return err
		}))
	} else {
		err = errors.Join(mgr.Add(a), mgr.AddHealthzCheck("ping", healthz.Ping), mgr.AddReadyzCheck("pass", a.Ready))
	}
	if err != nil {
		return err
	}
	return runManager(ctx, mgr, stopGrace)
}

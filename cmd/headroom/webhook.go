package main

import (
	"fmt"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/webhook"
)

func newWebhookCmd() *cobra.Command {
	var (
		o           webhook.Options
		defaultMode = mode.DryRun // the safe default, as in the chart: nothing changes until a namespace says enforce
		requests    string
		logLevel    string
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the admission webhook that sizes pods on CREATE",
		Long: `webhook serves the mutating admission webhook at ` + webhook.Path + ` (HTTPS, certificates from
--cert-dir, reloaded when they change). For a pod whose workload has a MemoryRecommendation it sets
memory limits, requests and -Xmx (mode enforce) or only says what it would do (dry-run: an
annotation and admission warnings). It always allows the pod: any trouble leaves the pod unchanged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := setupLogging(logLevel)
			if err != nil {
				return err
			}
			o.Policy.DefaultMode = defaultMode
			o.Policy.Requests = webhook.RequestPolicy(requests)
			cfg, err := config.GetConfig()
			if err != nil {
				return fmt.Errorf("kubeconfig: %w", err)
			}
			mgr, err := webhook.NewManager(cfg, o)
			if err != nil {
				return err
			}
			log.Info("Starting webhook", "port", o.Port, "certDir", o.CertDir, "defaultMode", defaultMode.String(),
				"setMissingLimits", o.Policy.SetMissingLimits, "requests", requests)
			return runManager(ctrl.SetupSignalHandler(), mgr, stopGrace)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.CertDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory with tls.crt and tls.key (reloaded when they change, e.g. when cert-manager rotates them)")
	f.IntVar(&o.Port, "port", 9443, "HTTPS port of the webhook")
	f.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "address of the /metrics endpoint; 0 disables it")
	f.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (ready once the webhook serves and the caches synced); 0 disables them")
	f.Var(&defaultMode, "default-mode", "mode for namespaces without a headroom.dev/mode label: enforce, dry-run, or off (then only labelled namespaces are sized)")
	f.BoolVar(&o.Policy.SetMissingLimits, "set-missing-limits", false, "give containers without a memory limit the recommended one; when false they keep no limit and only their request and -Xmx are sized")
	f.StringVar(&requests, "requests", string(webhook.RequestsRecommendation), "memory requests: recommendation (the recommended request, capped at the limit) or keep (lowered to the limit if above it); Guaranteed containers always get request = limit")
	f.StringVar(&logLevel, "log-level", "info", "info, or debug (logs every sizing decision)")
	addKubeconfigFlag(cmd)
	return cmd
}

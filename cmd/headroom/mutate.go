package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/webhook"
)

func newMutateCmd() *cobra.Command {
	var (
		file, recsFile, policyFile string
		mutateMode                 = mode.Enforce
	)
	cmd := &cobra.Command{
		Use:   "mutate -f FILE --recommendations FILE",
		Short: "Apply the webhook's sizing to manifests offline and print them",
		Long: `mutate applies exactly what the webhook does to the Pods and to the pod templates of the
Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs in a multi-document YAML (or
JSON) file, with recommendations from a file (what "headroom recommend" prints), and prints the
result as YAML on stdout and what changed on stderr. Namespaces and LimitRanges in the input apply
as they would in the cluster. For GitOps pipelines and for reviewing a change before it ships.
The output is re-serialized: keys are sorted and comments are dropped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" || recsFile == "" {
				return errors.New("-f and --recommendations are required")
			}
			if mutateMode == mode.Off {
				return errors.New("--mode: enforce or dry-run")
			}
			policy := webhook.Policy{DefaultMode: mutateMode, Requests: webhook.RequestsRecommendation}
			if policyFile != "" {
				f, err := os.Open(policyFile)
				if err != nil {
					return err
				}
				policy, err = webhook.DecodePolicy(f, mutateMode)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", policyFile, err)
				}
			}
			rf, err := os.Open(recsFile)
			if err != nil {
				return err
			}
			recs, err := webhook.ReadRecommendations(rf)
			rf.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", recsFile, err)
			}
			var in io.Reader = cmd.InOrStdin()
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			changes, err := webhook.Mutate(in, cmd.OutOrStdout(), &webhook.Sizer{Policy: policy}, recs)
			for _, c := range changes {
				fmt.Fprint(cmd.ErrOrStderr(), c.Summary())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "filename", "f", "", "manifests to size (- for stdin)")
	f.StringVar(&recsFile, "recommendations", "", "MemoryRecommendations (YAML or JSON, as headroom recommend prints them)")
	f.StringVar(&policyFile, "policy", "", "headroom policy file (config/policy/policy.yaml format; addMissingLimit and request apply here)")
	f.Var(&mutateMode, "mode", "enforce (change the manifests) or dry-run (only annotate what would change); a namespace's label in the input wins")
	return cmd
}

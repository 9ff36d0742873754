package main

import (
	"flag"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
)

// addKubeconfigFlag gives cmd controller-runtime's own --kubeconfig flag, which config.GetConfig reads
// (else $KUBECONFIG, else the in-cluster config). The flag is registered on Go's flag.CommandLine by
// controller-runtime's config package; when it is missing there, or cmd has it already, nothing is added.
func addKubeconfigFlag(cmd *cobra.Command) {
	f := cmd.Flags()
	if kf := flag.CommandLine.Lookup(config.KubeconfigFlagName); kf != nil && f.Lookup(config.KubeconfigFlagName) == nil {
		f.AddGoFlag(kf)
	}
}

// Command headroom sizes memory limits and JVM heaps of Kubernetes pods so page cache has room.
// main only wires cobra subcommands; each subcommand's flags live in its own file.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if _, err := applyMemoryLimit(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "headroom:", err)
		os.Exit(1)
	}
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "headroom:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "headroom",
		Short:         "Size pod memory limits and JVM -Xmx so page cache has headroom",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newAgentCmd(),
		newWebhookCmd(),
		newMutateCmd(),
		newRecommendCmd(),
		newRecommenderCmd(),
		newReportCmd(),
		newBacktestCmd(),
	)
	return root
}

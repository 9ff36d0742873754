package scenario

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
)

// WriteManifests writes the workloads of the specs as a multi-document YAML stream (apps/v1
// Deployments, StatefulSets, DaemonSets). A JVM container is started the way the motivating case
// is: `sh -c 'exec java $JAVA_OPTS -jar /opt/app.jar'` with JAVA_OPTS=-Xmx... in its env.
func WriteManifests(w io.Writer, specs ...*Spec) error {
	bw := bufio.NewWriter(w)
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
		for _, wl := range s.Workloads {
			fmt.Fprintf(bw, "---\napiVersion: apps/v1\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n", wl.Kind, wl.Name, wl.Namespace)
			if wl.Kind != "DaemonSet" {
				fmt.Fprintf(bw, "  replicas: %d\n", wl.Replicas)
			}
			if wl.Kind == "StatefulSet" {
				fmt.Fprintf(bw, "  serviceName: %s\n", wl.Name)
			}
			fmt.Fprintf(bw, "  selector:\n    matchLabels:\n      app: %s\n  template:\n    metadata:\n      labels:\n        app: %s\n    spec:\n      containers:\n", wl.Name, wl.Name)
			for _, c := range wl.Containers {
				fmt.Fprintf(bw, "      - name: %s\n        image: registry.example/%s:1\n", c.Name, wl.Name)
				if c.JVM != nil {
					fmt.Fprintf(bw, "        command: [\"/bin/sh\", \"-c\", \"exec java $JAVA_OPTS -jar /opt/app.jar\"]\n")
					fmt.Fprintf(bw, "        env:\n        - name: JAVA_OPTS\n          value: \"-Xmx%s -XX:+UseG1GC\"\n", jvmSize(int64(c.JVM.Xmx)))
				}
				if c.Limit > 0 || c.Request > 0 {
					fmt.Fprintf(bw, "        resources:\n")
					if c.Limit > 0 {
						fmt.Fprintf(bw, "          limits:\n            memory: %s\n", c.Limit)
					}
					if c.Request > 0 {
						fmt.Fprintf(bw, "          requests:\n            memory: %s\n", c.Request)
					}
				}
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write manifests: %w", err)
	}
	return nil
}

// jvmSize spells a size as -Xmx takes it.
func jvmSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "g"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "m"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

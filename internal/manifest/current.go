package manifest

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/sizing"
)

// JVMContainer returns the parts of a container that decide its JVM options.
func JVMContainer(c *corev1.Container) jvm.Container {
	out := jvm.Container{Command: c.Command, Args: c.Args, EnvFrom: len(c.EnvFrom) > 0}
	if len(c.Env) > 0 {
		out.Env = make([]jvm.EnvVar, len(c.Env))
		for i, e := range c.Env {
			out.Env[i] = jvm.EnvVar{Name: e.Name, Value: e.Value, FromSource: e.ValueFrom != nil}
		}
	}
	return out
}

// Current returns what the pod spec says about the named container for sizing: memory limit and
// request, whether it runs a JVM and its effective -Xmx, and the pod's QoS. ok is false when the
// spec has no such container.
func Current(spec *corev1.PodSpec, name string) (cur sizing.Current, ok bool) {
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if c.Name != name {
			continue
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			cur.Limit = q.Value()
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			cur.Request = q.Value()
		} else {
			cur.Request = cur.Limit // Kubernetes defaults the request to the limit
		}
		h := jvm.Analyze(JVMContainer(c))
		cur.JVM = h.JavaVisible || h.MaxHeap > 0 || len(h.Occurrences) > 0
		cur.Xmx = h.MaxHeap
		cur.Guaranteed = Guaranteed(spec)
		return cur, true
	}
	return cur, false
}

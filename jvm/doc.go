// Package jvm finds the heap setting (-Xmx and friends) that a container's JVM will really use, from the
// container's command, args and env exactly as the kubelet, a `sh -c` shell and the java launcher read them,
// and rewrites that one setting in place. It is pure and deterministic: it imports nothing from Kubernetes
// and nothing that touches the network; the webhook adapts a corev1.Container into a jvm.Container.
package jvm

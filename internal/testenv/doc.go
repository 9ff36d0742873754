// Package testenv starts the real components integration tests stand on: etcd + kube-apiserver
// (+ kube-controller-manager) through envtest, and Prometheus backfilled from an OpenMetrics file.
// Everything binds to free loopback ports and is stopped by t.Cleanup, also when the test fails.
// A missing binary fails the test; HEADROOM_SKIP_INTEGRATION=1 (never set in CI) skips instead.
package testenv

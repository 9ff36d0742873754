// Package charttest tests the Helm chart in charts/headroom: helm lint, the values schema, golden
// renders of each values set in testdata/values, assertions on the rendered objects (webhook
// settings, namespaceSelector, certificates, security contexts, least-privilege RBAC), and installs
// against a real kube-apiserver that has cert-manager's and the Prometheus Operator's CRDs.
//
// It is a Go module of its own so cert-manager and prometheus-operator never enter the product's
// go.mod; `make chart-test` runs it. It drives bin/helm as a binary and imports nothing of the
// product.
package charttest

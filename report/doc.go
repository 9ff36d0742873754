// Package report is headroom's dry-run report: for one namespace or all, what is happening to
// memory, what headroom would change, and why. Build turns plain inputs (history as sizing
// containers, what the pod templates say, optionally recommendations computed elsewhere) into a
// Report; WriteTable, WriteJSON, WriteCSV and WriteHTML render it, and Handler serves the HTML
// page (and JSON/CSV) over HTTP.
//
// It renders sizing types and must stay pure: no Kubernetes imports (k8s.io/..., sigs.k8s.io/...)
// and no network access. Reading the cluster belongs to the caller (cmd/headroom, internal/inventory).
package report

// Package recommenderscale measures one recommender cycle over many workloads: synthetic history
// for N namespaces × M Deployments (internal/scenario) backfilled into a real Prometheus, the
// Deployments and their ReplicaSets in a real kube-apiserver, and `headroom recommender --once`
// run as its own process, twice (first cycle creates every object, the second finds nothing to
// change). It prints cycle time, peak RSS and the number of Prometheus queries. It is a measurement,
// not a timed test, and builds only with the scale tag:
//
//	go test -tags scale -run TestScale -v -timeout 60m ./hack/recommender-scale
//	go test -tags scale -run TestScale -v ./hack/recommender-scale -args -namespaces=10 -per-namespace=50
package recommenderscale

// Package webhook sizes pods at admission: it resolves a pod's workload, looks up its
// MemoryRecommendation and sets memory limits, requests and -Xmx, failing open on any trouble.
// Sizer is the pure core (also used offline by `headroom mutate`); Handler and NewManager are the
// server. It reads recommendations only: it must not import recommender, history or agent.
package webhook

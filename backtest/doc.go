// Package backtest replays a namespace's memory history under candidate limits and -Xmx (current,
// VPA's formula, KRR's, headroom's, headroom's with the node agent) and counts what each would have
// cost and done: memory reserved, OOM-risk minutes, alert minutes, agent reclaims. It is pure and
// deterministic like sizing: it must not import Kubernetes (k8s.io/..., sigs.k8s.io/...) or the network.
package backtest

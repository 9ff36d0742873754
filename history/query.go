package history

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Result keys of the range queries.
const (
	qRSS           = "rss"
	qCache         = "cache"
	qWorkingSet    = "working_set"
	qActiveFile    = "active_file"
	qLimit         = "limit"
	qHeapUsed      = "heap_used"
	qHeapCommitted = "heap_committed"
	qOOMEvents     = "oom_events"
	qOOMReason     = "oom_reason"
)

// Result keys of the instant (metadata) queries.
const (
	qStart    = "pod_start"
	qPodOwner = "pod_owner"
	qRSOwner  = "replicaset_owner"
	qJobOwner = "job_owner"
)

// matcher is one label matcher: = != =~ !~.
type matcher struct {
	name, op, value string
	re              *regexp.Regexp
}

func (m matcher) matches(v string) bool {
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

func (m matcher) String() string { return m.name + m.op + strconv.Quote(m.value) }

var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)`)

// parseSelector reads extra matchers written like the inside of a PromQL selector:
// `cluster="prod", job=~"kubelet|cadvisor"`.
func parseSelector(s string) ([]matcher, error) {
	var out []matcher
	rest := strings.TrimSpace(s)
	for rest != "" {
		m := matcherRE.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("invalid selector %q: want label matchers like cluster=\"prod\"", s)
		}
		v, err := strconv.Unquote(`"` + m[3] + `"`)
		if err != nil {
			return nil, fmt.Errorf("invalid selector %q: %w", s, err)
		}
		mt := matcher{name: m[1], op: m[2], value: v}
		if mt.op == "=~" || mt.op == "!~" {
			if mt.re, err = regexp.Compile("^(?:" + v + ")$"); err != nil {
				return nil, fmt.Errorf("invalid selector %q: %w", s, err)
			}
		}
		out = append(out, mt)
		rest = strings.TrimSpace(rest[len(m[0]):])
	}
	return out, nil
}

// rangeQuery is one range query of the plan: max_over_time over each step of every matching
// series, aggregated by (namespace, pod, container). Alternatives are joined with `or`: the first
// metric that has a series for a label set wins at each timestamp.
type rangeQuery struct {
	key      string
	metrics  []string
	match    []matcher
	cadvisor bool   // only container series: container!="", container!="POD"
	agg      string // max or sum
}

// metaQuery is one instant query: max_over_time over the whole window, max by its labels.
type metaQuery struct {
	key    string
	metric string
	by     []string // label names after namespace; pod is replaced by the configured pod label
}

func eq(name, value string) matcher { return matcher{name: name, op: "=", value: value} }

// The plan: 9 range queries and 4 instant queries per namespace (range queries are split further
// only when a window has more than 11,000 points).
var (
	rangeQueries = []rangeQuery{
		{key: qRSS, metrics: []string{"container_memory_rss"}, cadvisor: true, agg: "max"},
		{key: qCache, metrics: []string{"container_memory_cache"}, cadvisor: true, agg: "max"},
		{key: qWorkingSet, metrics: []string{"container_memory_working_set_bytes"}, cadvisor: true, agg: "max"},
		{key: qActiveFile, metrics: []string{"container_memory_total_active_file_bytes"}, cadvisor: true, agg: "max"},
		{key: qLimit, metrics: []string{"kube_pod_container_resource_limits"}, match: []matcher{eq("resource", "memory")}, agg: "max"},
		// Micrometer (and client_java 1.x) first, then the JMX exporter's client_java 0.x names; pools summed.
		{key: qHeapUsed, metrics: []string{"jvm_memory_used_bytes", "jvm_memory_bytes_used"}, match: []matcher{eq("area", "heap")}, agg: "sum"},
		{key: qHeapCommitted, metrics: []string{"jvm_memory_committed_bytes", "jvm_memory_bytes_committed"}, match: []matcher{eq("area", "heap")}, agg: "sum"},
		{key: qOOMEvents, metrics: []string{"container_oom_events_total"}, cadvisor: true, agg: "max"},
		{key: qOOMReason, metrics: []string{"kube_pod_container_status_last_terminated_reason"}, match: []matcher{eq("reason", "OOMKilled")}, agg: "max"},
	}
	metaQueries = []metaQuery{
		{key: qStart, metric: "kube_pod_start_time", by: []string{"pod"}},
		{key: qPodOwner, metric: "kube_pod_owner", by: []string{"pod", "owner_kind", "owner_name"}},
		{key: qRSOwner, metric: "kube_replicaset_owner", by: []string{"replicaset", "owner_kind", "owner_name"}},
		{key: qJobOwner, metric: "kube_job_owner", by: []string{"job_name", "owner_kind", "owner_name"}},
	}
)

// QueriesPerNamespace is how many queries Load issues for a namespace when no range query has to
// be split (at most 11,000 points per series).
var QueriesPerNamespace = len(rangeQueries) + len(metaQueries)

// planMetrics lists every metric name the plan reads.
func planMetrics() map[string]bool {
	m := map[string]bool{}
	for _, q := range rangeQueries {
		for _, n := range q.metrics {
			m[n] = true
		}
	}
	for _, q := range metaQueries {
		m[q.metric] = true
	}
	return m
}

// selectorFor returns the matchers of a query in a namespace: namespace, the query's own, the
// container filter for cAdvisor series, and the user's extra selector.
func selectorFor(l Labels, ns string, own []matcher, cadvisor bool, extra []matcher) []matcher {
	ms := []matcher{eq(l.Namespace, ns)}
	ms = append(ms, own...)
	if cadvisor {
		ms = append(ms, matcher{name: l.Container, op: "!=", value: ""}, matcher{name: l.Container, op: "!=", value: "POD"})
	}
	return append(ms, extra...)
}

func renderSelector(metric string, ms []matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return metric + "{" + strings.Join(parts, ",") + "}"
}

// promDuration writes a duration for a PromQL range selector.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// promQL renders a range query for one namespace.
func (q rangeQuery) promQL(l Labels, ns string, step time.Duration, extra []matcher) string {
	ms := selectorFor(l, ns, q.match, q.cadvisor, extra)
	by := strings.Join([]string{l.Namespace, l.Pod, l.Container}, ", ")
	alts := make([]string, len(q.metrics))
	for i, m := range q.metrics {
		alts[i] = fmt.Sprintf("%s by (%s) (max_over_time(%s[%s]))", q.agg, by, renderSelector(m, ms), promDuration(step))
	}
	return strings.Join(alts, " or ")
}

// byLabels returns the grouping labels of a meta query with the configured names.
func (q metaQuery) byLabels(l Labels) []string {
	out := []string{l.Namespace}
	for _, b := range q.by {
		if b == "pod" {
			b = l.Pod
		}
		out = append(out, b)
	}
	return out
}

// promQL renders a meta query for one namespace over a window of length d.
func (q metaQuery) promQL(l Labels, ns string, d time.Duration, extra []matcher) string {
	ms := selectorFor(l, ns, nil, false, extra)
	return fmt.Sprintf("max by (%s) (max_over_time(%s[%s]))", strings.Join(q.byLabels(l), ", "), renderSelector(q.metric, ms), promDuration(d))
}

// namespaceSelector is the series selector whose namespace label values Namespaces lists.
func namespaceSelector(l Labels, extra []matcher) string {
	ms := append([]matcher{{name: l.Container, op: "!=", value: ""}, {name: l.Container, op: "!=", value: "POD"}}, extra...)
	return renderSelector("container_memory_rss", ms)
}

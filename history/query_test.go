package history

import (
	"testing"
	"time"
)

func TestPromQL(t *testing.T) {
	l := DefaultLabels()
	extra, err := parseSelector(`cluster="prod"`)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct{ got, want string }{
		"cAdvisor series exclude pod-level and pause-container series, and aggregate on the server": {
			got:  rangeQueries[0].promQL(l, "shop", 5*time.Minute, extra),
			want: `max by (namespace, pod, container) (max_over_time(container_memory_rss{namespace="shop",container!="",container!="POD",cluster="prod"}[300s]))`,
		},
		"heap sums pools and falls back to the JMX exporter's names": {
			got: rangeQueries[5].promQL(l, "shop", time.Minute, nil),
			want: `sum by (namespace, pod, container) (max_over_time(jvm_memory_used_bytes{namespace="shop",area="heap"}[60s])) or ` +
				`sum by (namespace, pod, container) (max_over_time(jvm_memory_bytes_used{namespace="shop",area="heap"}[60s]))`,
		},
		"metadata is one instant query over the window": {
			got:  metaQueries[1].promQL(Labels{Namespace: "k8s_ns", Pod: "k8s_pod", Container: "k8s_container"}, "shop", 7*24*time.Hour, nil),
			want: `max by (k8s_ns, k8s_pod, owner_kind, owner_name) (max_over_time(kube_pod_owner{k8s_ns="shop"}[604800s]))`,
		},
		"label names are configurable": {
			got:  rangeQueries[4].promQL(Labels{Namespace: "ns", Pod: "p", Container: "c"}, `we"ird`, time.Minute, nil),
			want: `max by (ns, p, c) (max_over_time(kube_pod_container_resource_limits{ns="we\"ird",resource="memory"}[60s]))`,
		},
	}
	for name, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", name, tt.got, tt.want)
		}
	}
	if QueriesPerNamespace != 13 {
		t.Errorf("QueriesPerNamespace = %d; update the docs if the plan changed", QueriesPerNamespace)
	}
}

func TestChunksStayUnderThePointLimit(t *testing.T) {
	tests := map[string]struct {
		w         Window
		maxPoints int
		chunks    int
	}{
		"7 days at 1m fit one query":            {Window{Start: t0.Add(-7 * 24 * time.Hour), End: t0, Step: time.Minute}, 11000, 1},
		"14 days at 30s need four":              {Window{Start: t0.Add(-14 * 24 * time.Hour), End: t0, Step: 30 * time.Second}, 11000, 4},
		"exactly maxPoints points is one query": {Window{Start: t0, End: t0.Add(99 * time.Minute), Step: time.Minute}, 100, 1},
		"one more point is two":                 {Window{Start: t0, End: t0.Add(100 * time.Minute), Step: time.Minute}, 100, 2},
	}
	for name, tt := range tests {
		cs := chunks(tt.w, tt.maxPoints)
		if len(cs) != tt.chunks {
			t.Errorf("%s: %d chunks, want %d", name, len(cs), tt.chunks)
		}
		total := 0
		next := tt.w.Start
		for _, c := range cs {
			n := int(c.End.Sub(c.Start)/c.Step) + 1
			if n > tt.maxPoints || !c.Start.Equal(next) {
				t.Errorf("%s: chunk %v-%v has %d points or leaves a gap", name, c.Start, c.End, n)
			}
			total += n
			next = c.End.Add(c.Step)
		}
		if total != tt.w.Points() {
			t.Errorf("%s: chunks cover %d points, the window has %d", name, total, tt.w.Points())
		}
	}
}

func TestParseSelector(t *testing.T) {
	ms, err := parseSelector(` cluster="prod", job=~"kube.*" ,env!="dev"`)
	if err != nil || len(ms) != 3 || !ms[1].matches("kubelet") || ms[1].matches("xkube") || ms[2].matches("dev") {
		t.Fatalf("parseSelector = %+v, %v", ms, err)
	}
	for _, bad := range []string{`cluster=prod`, `cluster="prod" job="x"`, `cluster=~"("`} {
		if _, err := parseSelector(bad); err == nil {
			t.Errorf("parseSelector(%q) accepted", bad)
		}
	}
}

func TestNewWindowAlignsToTheStep(t *testing.T) {
	w, err := NewWindow(t0.Add(7*time.Minute+3*time.Second), 24*time.Hour, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !w.End.Equal(t0.Add(10*time.Minute)) || !w.Start.Equal(t0.Add(10*time.Minute-24*time.Hour)) || w.Points() != 289 {
		t.Errorf("window = %v (%d points)", w, w.Points())
	}
	if DefaultStep(7*24*time.Hour) != 15*time.Minute || DefaultStep(time.Hour) != time.Minute {
		t.Errorf("DefaultStep = %v, %v", DefaultStep(7*24*time.Hour), DefaultStep(time.Hour))
	}
	if _, err := NewWindow(t0, time.Minute, time.Hour); err == nil {
		t.Error("a step longer than the lookback was accepted")
	}
}

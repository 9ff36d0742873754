package history

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/sizing"
)

func TestReadFileErrors(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"a truncated file has no # EOF": {in: "# TYPE container_memory_rss gauge\ncontainer_memory_rss{pod=\"a\"} 1 1700000000\n", want: "missing `# EOF`"},
		"history needs timestamps":      {in: "container_memory_rss{pod=\"a\"} 1\n# EOF\n", want: "line 1: sample without a timestamp"},
		"nothing may follow # EOF":      {in: "# EOF\ncontainer_memory_rss 1 1\n", want: "line 2: content after # EOF"},
		"label sets must close":         {in: "container_memory_rss{pod=\"a\" 1 1\n# EOF\n", want: "line 1: unterminated label set"},
		"values must be numbers":        {in: "container_memory_rss{pod=\"a\"} lots 1\n# EOF\n", want: `line 1: invalid value "lots"`},
		"timestamps are seconds":        {in: "container_memory_rss{pod=\"a\"} 1 yesterday\n# EOF\n", want: "line 1: invalid timestamp"},
		"labels must be quoted":         {in: "container_memory_rss{pod=a} 1 1\n# EOF\n", want: "line 1: invalid label set"},
		"a bad selector is reported":    {in: "# EOF\n", want: "invalid selector"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			opts := FileOptions{}
			if strings.Contains(name, "selector") {
				opts.Selector = "cluster=prod"
			}
			_, err := ReadFile(strings.NewReader(tt.in), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// t0 is a step boundary; samples sit 7s after minute boundaries, as the scenario generator writes them.
var t0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// unixSecs is the OpenMetrics timestamp of the sample written at minute m.
func unixSecs(m int) string {
	return strconv.FormatInt(t0.Add(time.Duration(m)*time.Minute+7*time.Second).Unix(), 10)
}

func point(minutes int, v float64) sizing.Point {
	return sizing.Point{T: t0.Add(time.Duration(minutes+1) * time.Minute).UnixMilli(), V: v}
}

const sample = `# TYPE container_memory_rss gauge
container_memory_rss{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app"} 100 {0}
container_memory_rss{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app"} 300 {1}
container_memory_rss{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app"} 200 {2}
container_memory_rss{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container=""} 999 {0}
container_memory_rss{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="POD"} 999 {0}
container_memory_rss{namespace="other",pod="x-0",container="app"} 5 {0}
# TYPE jvm_memory_used_bytes gauge
jvm_memory_used_bytes{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app",area="heap",id="old"} 10 {0}
jvm_memory_used_bytes{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app",area="heap",id="eden"} 5 {0}
jvm_memory_used_bytes{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app",area="nonheap",id="meta"} 1000 {0}
# TYPE jvm_memory_bytes_used gauge
jvm_memory_bytes_used{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",area="heap"} 77 {0}
jvm_memory_bytes_used{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",area="heap"} 88 {1}
# TYPE kube_pod_container_resource_limits gauge
kube_pod_container_resource_limits{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app",resource="memory",unit="byte"} 1024 {0}
kube_pod_container_resource_limits{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app",resource="cpu",unit="core"} 2 {0}
# TYPE kube_pod_start_time gauge
kube_pod_start_time{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z"} 1763596000 {0}
# TYPE kube_pod_owner gauge
kube_pod_owner{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",owner_kind="ReplicaSet",owner_name="orders-5d8f9c7b6d",owner_is_controller="true"} 1 {0}
# TYPE kube_replicaset_owner gauge
kube_replicaset_owner{namespace="shop",replicaset="orders-5d8f9c7b6d",owner_kind="Deployment",owner_name="orders",owner_is_controller="true"} 1 {0}
# TYPE container_oom_events counter
container_oom_events_total{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app"} 0 {0}
container_oom_events_total{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app"} 1 {1}
container_oom_events_total{namespace="shop",pod="orders-5d8f9c7b6d-x2x4z",container="app"} 0 {2}
# TYPE something_else gauge
something_else{namespace="shop"} 1 {0}
# EOF
`

func sampleFile(t *testing.T) *File {
	t.Helper()
	in := sample
	for m := 0; m < 3; m++ {
		in = strings.ReplaceAll(in, "{"+strconv.Itoa(m)+"}", unixSecs(m))
	}
	f, err := ReadFile(strings.NewReader(in), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFileLoadEvaluatesThePlan(t *testing.T) {
	f := sampleFile(t)
	w := Window{Start: t0, End: t0.Add(4 * time.Minute), Step: time.Minute}
	ns, err := f.Load(context.Background(), "shop", w)
	if err != nil {
		t.Fatal(err)
	}
	want := &Namespace{Name: "shop", Window: w, Workloads: []Workload{{
		Key: WorkloadKey{Namespace: "shop", Kind: "Deployment", Name: "orders"},
		Containers: []sizing.Container{{Name: "app", Pods: []sizing.Pod{{
			Name:  "orders-5d8f9c7b6d-x2x4z",
			Start: 1763596000 * 1000,
			// Each sample counts at the first step boundary at or after it; the pod-level (container="")
			// and pause-container series are not the container's.
			RSS:   sizing.Series{point(0, 100), point(1, 300), point(2, 200)},
			Limit: sizing.Series{point(0, 1024)},
			// Micrometer pools are summed (10 + 5). The JMX exporter's series has no container label,
			// so `or` keeps it as a label set of its own; a series with the container label wins.
			HeapUsed: sizing.Series{point(0, 15)},
			OOMKills: 1,
		}}}},
	}}}
	if diff := cmp.Diff(want, ns); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	names, err := f.Namespaces(context.Background(), w)
	if err != nil || !cmp.Equal(names, []string{"other", "shop"}) {
		t.Errorf("Namespaces = %v, %v", names, err)
	}
	if got := f.End(); !got.Equal(t0.Add(2*time.Minute + 7*time.Second)) {
		t.Errorf("End = %v", got)
	}
}

func TestMaxOverStepsUsesLeftOpenRanges(t *testing.T) {
	start, step := int64(1000), int64(100)
	pts := sizing.Series{{T: 900, V: 9}, {T: 901, V: 1}, {T: 1000, V: 2}, {T: 1001, V: 3}, {T: 1100, V: 4}, {T: 1250, V: 5}, {T: 1301, V: 6}}
	got := maxOverSteps(pts, start, step, 3)
	// (900,1000] -> max(1,2); (1000,1100] -> max(3,4); (1100,1200] -> none.
	if got[0] != 2 || got[1] != 4 || got[2] == got[2] {
		t.Errorf("maxOverSteps = %v", got)
	}
}

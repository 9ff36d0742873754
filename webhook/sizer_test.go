package webhook

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/mode"
)

func TestResolveWorkload(t *testing.T) {
	tru, fals := true, false
	owner := func(apiVersion, kind, name string, controller *bool) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, Controller: controller}}
	}
	for name, tc := range map[string]struct {
		owners []metav1.OwnerReference
		labels map[string]string
		want   []Workload
	}{
		"a Deployment's pod: the ReplicaSet name ends in the pod-template-hash": {
			owner("apps/v1", "ReplicaSet", "web-7d4b9c", &tru), map[string]string{"pod-template-hash": "7d4b9c"},
			[]Workload{{"Deployment", "web"}, {"ReplicaSet", "web-7d4b9c"}}},
		"a Deployment whose name has dashes": {
			owner("apps/v1", "ReplicaSet", "my-web-app-7d4b9c", &tru), map[string]string{"pod-template-hash": "7d4b9c"},
			[]Workload{{"Deployment", "my-web-app"}, {"ReplicaSet", "my-web-app-7d4b9c"}}},
		"a bare ReplicaSet (no matching hash)": {
			owner("apps/v1", "ReplicaSet", "web", &tru), map[string]string{"pod-template-hash": "7d4b9c"},
			[]Workload{{"ReplicaSet", "web"}}},
		"a StatefulSet": {owner("apps/v1", "StatefulSet", "kafka", &tru), nil, []Workload{{"StatefulSet", "kafka"}}},
		"a DaemonSet":   {owner("apps/v1", "DaemonSet", "agent", &tru), nil, []Workload{{"DaemonSet", "agent"}}},
		"a CronJob's Job: <cronjob>-<scheduled minute>": {
			owner("batch/v1", "Job", "nightly-report-29345678", &tru), nil,
			[]Workload{{"CronJob", "nightly-report"}, {"Job", "nightly-report-29345678"}}},
		"a Job whose name does not end in digits": {owner("batch/v1", "Job", "migrate", &tru), nil, []Workload{{"Job", "migrate"}}},
		"a bare pod":                          {nil, nil, nil},
		"an owner that is not the controller": {owner("apps/v1", "ReplicaSet", "web-1", &fals), nil, nil},
		"an owner headroom does not size":     {owner("argoproj.io/v1alpha1", "Rollout", "web", &tru), nil, nil},
		"a ReplicaSet of another API group":   {owner("example.com/v1", "ReplicaSet", "web", &tru), nil, nil},
	} {
		t.Run(name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "x-", OwnerReferences: tc.owners, Labels: tc.labels}}
			if diff := cmp.Diff(tc.want, ResolveWorkload(pod)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestResolveMode(t *testing.T) {
	for name, tc := range map[string]struct {
		def        mode.Mode
		nsLabel    string // "" = none
		annotation string // "" = none
		want       mode.Mode
		wantErr    bool
	}{
		"no label: the default":                          {mode.Enforce, "", "", mode.Enforce, false},
		"no label, default dry-run":                      {mode.DryRun, "", "", mode.DryRun, false},
		"the namespace label wins over the default":      {mode.Enforce, "dry-run", "", mode.DryRun, false},
		"a namespace can enforce over a dry-run default": {mode.DryRun, "enforce", "", mode.Enforce, false},
		"a pod can go to dry-run":                        {mode.Enforce, "enforce", "dry-run", mode.DryRun, false},
		"a pod can go off":                               {mode.Enforce, "", "off", mode.Off, false},
		"a pod cannot go from dry-run to enforce":        {mode.Enforce, "dry-run", "enforce", mode.DryRun, false},
		"a pod cannot go from off to enforce":            {mode.Enforce, "off", "enforce", mode.Off, false},
		"an invalid namespace label: dry-run, error":     {mode.Enforce, "yes", "", mode.DryRun, true},
		"an invalid pod annotation: at most dry-run":     {mode.Enforce, "", "enforced", mode.DryRun, true},
		"an invalid pod annotation in an off namespace":  {mode.Enforce, "off", "bad", mode.Off, true},
	} {
		t.Run(name, func(t *testing.T) {
			ns := NamespaceInfo{Name: "n"}
			if tc.nsLabel != "" {
				ns.Labels = map[string]string{mode.Key: tc.nsLabel}
			}
			pod := &corev1.Pod{}
			if tc.annotation != "" {
				pod.Annotations = map[string]string{mode.Key: tc.annotation}
			}
			got, err := resolveMode(tc.def, ns, pod)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseExclude(t *testing.T) {
	for name, tc := range map[string]struct {
		value   string
		want    []string
		wantErr bool
	}{
		"two names":                    {"a,b", []string{"a", "b"}, false},
		"spaces and empty entries":     {" a , ,b,", []string{"a", "b"}, false},
		"empty":                        {"", nil, false},
		"a name that cannot be a name": {"app,Log_Shipper", nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseExclude(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ExcludeKey: tc.value}}})
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestLimitRangeClamp(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	for name, tc := range map[string]struct {
		bounds                 memoryBounds
		limit, request         string // request "" = none
		wantLimit, wantRequest string
		wantErr                bool
	}{
		"no bounds":                     {memoryBounds{}, "2Gi", "1Gi", "2Gi", "1Gi", false},
		"limit above max":               {memoryBounds{max: q("1536Mi")}, "2Gi", "1Gi", "1536Mi", "1Gi", false},
		"limit and request above max":   {memoryBounds{max: q("1Gi")}, "2Gi", "2Gi", "1Gi", "1Gi", false},
		"limit below min":               {memoryBounds{min: q("512Mi")}, "256Mi", "128Mi", "512Mi", "512Mi", false},
		"ratio raises the request":      {memoryBounds{ratio: q("2")}, "2Gi", "512Mi", "2Gi", "1Gi", false},
		"ratio 3 rounds up to a MiB":    {memoryBounds{ratio: q("3")}, "2Gi", "512Mi", "2Gi", "683Mi", false},
		"fractional ratio":              {memoryBounds{ratio: q("1.5")}, "3Gi", "1Gi", "3Gi", "2Gi", false},
		"ratio already met":             {memoryBounds{ratio: q("4")}, "2Gi", "1Gi", "2Gi", "1Gi", false},
		"no request: defaults to limit": {memoryBounds{ratio: q("2"), min: q("64Mi")}, "2Gi", "", "2Gi", "", false},
		"min above max":                 {memoryBounds{min: q("2Gi"), max: q("1Gi")}, "1536Mi", "1Gi", "", "", true},
		"ratio below 1":                 {memoryBounds{ratio: q("500m")}, "1Gi", "512Mi", "", "", true},
	} {
		t.Run(name, func(t *testing.T) {
			limit := q(tc.limit)
			var request *resource.Quantity
			if tc.request != "" {
				request = q(tc.request)
			}
			_, err := tc.bounds.clamp(limit, request)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if limit.String() != tc.wantLimit {
				t.Errorf("limit %s, want %s", limit, tc.wantLimit)
			}
			gotRequest := ""
			if request != nil {
				gotRequest = request.String()
			}
			if gotRequest != tc.wantRequest {
				t.Errorf("request %s, want %s", gotRequest, tc.wantRequest)
			}
			if err := tc.bounds.check(limit, request); request != nil && err != nil {
				t.Errorf("clamped values fail the check: %v", err)
			}
		})
	}
}

// TestQuantityString: the fast path prints exactly what resource.Quantity.String prints.
func TestQuantityString(t *testing.T) {
	inputs := []string{"0", "1", "512", "1023", "1024", "1025", "1500", "64Mi", "1536Mi", "3000Mi", "3712Mi", "1Gi", "1.5Gi",
		"2500M", "1e9", "100m", "0.5", "8Ei", "1Pi", "1023Ki", "3Ti", "-1Gi", "12345678901", "7Ki"}
	for v := int64(1); v < 1<<62; v = v*3 + 7 {
		inputs = append(inputs, resource.NewQuantity(v, resource.BinarySI).String())
	}
	for _, in := range inputs {
		q := resource.MustParse(in)
		want := q.DeepCopy()
		if got, w := quantityString(&q), want.String(); got != w {
			t.Errorf("quantityString(%s) = %q, String() = %q", in, got, w)
		}
	}
}

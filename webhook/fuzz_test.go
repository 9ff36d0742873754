package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
)

// gen turns fuzz bytes into choices; past the end every choice is 0.
type gen struct {
	b []byte
	i int
}

func (g *gen) n(n int) int {
	if g.i >= len(g.b) || n <= 1 {
		g.i++
		return 0
	}
	v := int(g.b[g.i]) % n
	g.i++
	return v
}

func (g *gen) pick(options ...string) string { return options[g.n(len(options))] }

var fuzzSizes = []string{"", "64Mi", "100Mi", "200Mi", "256Mi", "384Mi", "512Mi", "768Mi", "1Gi", "1200Mi", "1536Mi", "2Gi", "2500M", "3Gi", "4Gi", "6Gi", "1", "5Mi"}

func (g *gen) size() string { return fuzzSizes[g.n(len(fuzzSizes))] }

// fuzzCase is a generated pod CREATE with everything sizing depends on.
type fuzzCase struct {
	pod   *corev1.Pod
	ns    corev1.Namespace
	rec   *v1alpha1.MemoryRecommendation
	lrs   []corev1.LimitRange
	lrSet int // which fixed LimitRange set (fuzzLimitRanges)
}

// fuzzLimitRanges are the LimitRange sets a generated namespace has (fixed, so the API server
// test can create one namespace per set).
var fuzzLimitRanges = [][]corev1.LimitRangeItem{
	nil,
	{{Type: corev1.LimitTypeContainer, Max: mem("2Gi")}},
	{{Type: corev1.LimitTypeContainer, Min: mem("128Mi"), Max: mem("4Gi")}},
	{{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: mem("2")}},
	{{Type: corev1.LimitTypeContainer, Default: mem("512Mi"), DefaultRequest: mem("256Mi"), Max: mem("3Gi"), MaxLimitRequestRatio: mem("3")}},
	{{Type: corev1.LimitTypePod, Max: mem("5Gi")}, {Type: corev1.LimitTypeContainer, Min: mem("64Mi")}},
}

func mem(s string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(s)}
}

func generate(data []byte) fuzzCase {
	g := &gen{b: data}
	tru := true
	c := fuzzCase{lrSet: g.n(len(fuzzLimitRanges))}
	c.ns = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fuzz-%d", c.lrSet)}}
	if l := g.pick("", "", "enforce", "dry-run", "off", "bogus"); l != "" {
		c.ns.Labels = map[string]string{mode.Key: l}
	}
	if items := fuzzLimitRanges[c.lrSet]; items != nil {
		c.lrs = []corev1.LimitRange{{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: c.ns.Name}, Spec: corev1.LimitRangeSpec{Limits: items}}}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-5c7d9f6b4-", Namespace: c.ns.Name,
		Labels:          map[string]string{"app": "web", "pod-template-hash": "5c7d9f6b4"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5c7d9f6b4", UID: "u", Controller: &tru}}}}
	if m := g.pick("", "", "", "off", "dry-run", "enforce", "nonsense"); m != "" {
		pod.Annotations = map[string]string{mode.Key: m}
	}
	nInit, nMain := g.n(3), 1+g.n(3)
	names := []string{}
	container := func(name string) corev1.Container {
		ct := corev1.Container{Name: name, Image: "registry.example/app:1"}
		limit, request := g.size(), g.size()
		if limit != "" && request != "" && g.n(10) != 0 { // mostly valid pods: request <= limit
			if l, r := resource.MustParse(limit), resource.MustParse(request); r.Cmp(l) > 0 {
				request = limit
			}
		}
		if limit != "" || request != "" {
			ct.Resources.Limits, ct.Resources.Requests = corev1.ResourceList{}, corev1.ResourceList{}
		}
		if limit != "" {
			ct.Resources.Limits[corev1.ResourceMemory] = resource.MustParse(limit)
		}
		if request != "" {
			ct.Resources.Requests[corev1.ResourceMemory] = resource.MustParse(request)
		}
		switch g.n(4) {
		case 0: // Guaranteed-shaped
			if limit != "" {
				ct.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
				ct.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
				ct.Resources.Requests[corev1.ResourceMemory] = resource.MustParse(limit)
			}
		case 1: // cpu Guaranteed-shaped, memory not: Guaranteed as soon as memory's limit and request meet
			if ct.Resources.Limits == nil {
				ct.Resources.Limits, ct.Resources.Requests = corev1.ResourceList{}, corev1.ResourceList{}
			}
			ct.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
			ct.Resources.Requests[corev1.ResourceCPU] = resource.MustParse("1")
		}
		heap := g.pick("", "256m", "512m", "1g", "1500m", "2g", "3g")
		opts := ""
		if heap != "" {
			opts = "-Xmx" + heap
		}
		if g.n(3) == 0 {
			opts += " -Xms" + g.pick("128m", "1g", "2g")
		}
		if g.n(4) == 0 {
			opts += " -XX:MaxRAMPercentage=" + g.pick("50", "75", "90")
		}
		switch g.n(7) {
		case 1:
			ct.Command = append([]string{"java"}, append(strings.Fields(opts), "-jar", "/app.jar")...)
		case 2:
			ct.Command = []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /app.jar"}
			ct.Env = []corev1.EnvVar{{Name: "JAVA_OPTS", Value: opts}}
		case 3:
			ct.Env = []corev1.EnvVar{{Name: "LOG", Value: "x"}, {Name: "JAVA_TOOL_OPTIONS", Value: opts}}
		case 4:
			ct.Command = []string{"java", "$(JAVA_OPTS)", "-jar", "/app.jar"}
			ct.Env = []corev1.EnvVar{{Name: "JAVA_OPTS", Value: opts}}
		case 5:
			ct.Command = []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /app.jar"}
			ct.Env = []corev1.EnvVar{{Name: "JAVA_OPTS", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "jvm"}, Key: "opts"}}}}
		case 6:
			ct.Command = []string{"java", "-jar", "/app.jar"}
		}
		names = append(names, name)
		return ct
	}
	for i := range nInit {
		ct := container(fmt.Sprintf("init-%d", i))
		if g.n(2) == 0 {
			always := corev1.ContainerRestartPolicyAlways
			ct.RestartPolicy = &always
		}
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, ct)
	}
	for i := range nMain {
		pod.Spec.Containers = append(pod.Spec.Containers, container(fmt.Sprintf("app-%d", i)))
	}
	if g.n(5) == 0 {
		pod.Spec.Resources = &corev1.ResourceRequirements{Limits: mem(g.pick("2Gi", "4Gi", "8Gi")), Requests: mem(g.pick("1Gi", "2Gi"))}
	}
	if g.n(4) == 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[ExcludeKey] = g.pick("app-0", "init-0,app-1", " app-2 ", "BAD NAME")
	}
	c.pod = pod

	if g.n(6) == 0 {
		return c // no recommendation
	}
	c.rec = &v1alpha1.MemoryRecommendation{ObjectMeta: metav1.ObjectMeta{Name: "deployment-web", Namespace: c.ns.Name},
		Spec: v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}}
	for _, name := range names {
		if g.n(4) == 0 {
			continue
		}
		rc := v1alpha1.ContainerRecommendation{Name: name, Xmx: g.pick("", "", "256m", "512m", "1g", "1200m", "3g", "bogus", "0")}
		if s := g.size(); s != "" {
			q := resource.MustParse(s)
			if g.n(10) == 0 {
				q.Neg()
			}
			rc.Limit = &q
		}
		if s := g.size(); s != "" {
			q := resource.MustParse(s)
			rc.Request = &q
		}
		rc.Observed.NonHeapBytes = int64(g.n(4)) * 100 << 20
		c.rec.Status.Containers = append(c.rec.Status.Containers, rc)
	}
	return c
}

// FuzzAdmission sends generated pods and recommendations through the whole handler. It must
// never panic and never return a patch that makes a valid pod invalid: the checks are those the
// API server and the JVM apply to what headroom changes (TestGeneratedPodsPassAPIServerValidation
// replays the generator against a real API server's validation with server-side dry-run).
func FuzzAdmission(f *testing.F) {
	for _, seed := range []string{"", "\x01\x02\x03\x04\x05\x06\x07\x08\x09", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", strings.Repeat("\x03\x07", 40)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := generate(data)
		before, after, res := admitGenerated(t, c)
		if err := newViolations(before, after, c.lrs); err != nil {
			t.Fatalf("the patch breaks the pod: %v\noutcome %s\nbefore %s\nafter  %s", err, res, mustJSON(t, before.Spec), mustJSON(t, after.Spec))
		}
		// The pod keeps its QoS class (DESIGN.md §5) unless the policy adds missing limits, which
		// changes it on purpose (admitGenerated turns that on for two-container pods).
		if was, is := manifest.QOSClass(&before.Spec), manifest.QOSClass(&after.Spec); was != is && !setsMissingLimits(c) {
			t.Fatalf("the patch moves the pod from %s to %s\noutcome %s\nbefore %s\nafter  %s", was, is, res, mustJSON(t, before.Spec), mustJSON(t, after.Spec))
		}
	})
}

// setsMissingLimits says whether admitGenerated sizes a case with the SetMissingLimits policy.
func setsMissingLimits(c fuzzCase) bool { return len(c.pod.Spec.Containers) == 2 }

// admitGenerated runs one generated case through Handler.Review and returns the pod before and
// after the patch.
func admitGenerated(t testing.TB, c fuzzCase) (before, after *corev1.Pod, outcome Outcome) {
	t.Helper()
	store := &StaticStore{Namespaces: []corev1.Namespace{c.ns}, LimitRangeList: c.lrs}
	if c.rec != nil {
		store.Recommendations = []v1alpha1.MemoryRecommendation{*c.rec}
	}
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce, SetMissingLimits: setsMissingLimits(c)}}, Store: store}
	podJSON := mustJSON(t, c.pod)
	resp, outcome, err := h.Review(context.Background(), admissionReview("uid", c.ns.Name, podJSON, false), nil)
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	patched, ops, _ := checkResponse(t, resp, "uid", podJSON)
	m, _ := resolveMode(mode.Enforce, NamespaceInfo{Labels: c.ns.Labels}, c.pod)
	for _, op := range ops {
		if (m != mode.Enforce || outcome != OutcomeSized) && !strings.HasPrefix(op.Path, "/metadata/annotations") {
			t.Fatalf("outcome %s in mode %v changes the spec: %v", outcome, m, op)
		}
		if m == mode.Off {
			t.Fatalf("mode off but patched: %v", op)
		}
	}
	after = &corev1.Pod{}
	if err := json.Unmarshal(mustJSON(t, patched), after); err != nil {
		t.Fatalf("patched pod does not decode: %v", err)
	}
	return c.pod, after, outcome
}

// newViolations reports what is wrong with after and was not with before: a memory limit that
// is not positive or below runc's minimum, a request above the limit, a LimitRange violation, a
// container limit above the pod-level limit, -Xmx at or above the container's limit.
func newViolations(before, after *corev1.Pod, lrs []corev1.LimitRange) error {
	bounds := boundsFor(lrs, corev1.LimitTypeContainer)
	podBounds := boundsFor(lrs, corev1.LimitTypePod)
	check := func(pod *corev1.Pod) map[string]string {
		bad := map[string]string{}
		for _, ct := range allContainers(pod) {
			l, hasL := ct.Resources.Limits[corev1.ResourceMemory]
			r, hasR := ct.Resources.Requests[corev1.ResourceMemory]
			if hasL && l.Value() < minLimitBytes {
				bad[ct.Name+" limit"] = l.String()
			}
			if hasL && hasR && l.Cmp(r) < 0 {
				bad[ct.Name+" request>limit"] = r.String()
			}
			if hasL {
				if h := jvm.Analyze(manifest.JVMContainer(ct)); h.MaxHeap > 0 && h.MaxHeap >= l.Value() {
					bad[ct.Name+" heap>=limit"] = l.String()
				}
			}
			lp, rp := &l, &r
			if !hasL {
				lp = nil
			}
			if !hasR {
				rp = lp
			}
			if err := bounds.check(lp, rp); err != nil && (hasL || hasR || !bounds.empty()) {
				bad[ct.Name+" limitrange"] = err.Error()
			}
			if pr := pod.Spec.Resources; pr != nil && hasL {
				if pl, ok := pr.Limits[corev1.ResourceMemory]; ok && pl.Cmp(l) < 0 {
					bad[ct.Name+" above pod limit"] = l.String()
				}
			}
		}
		tot := podMemory(pod, nil, nil)
		if err := podBounds.check(tot.limit, tot.request); err != nil {
			bad["pod limitrange"] = err.Error()
		}
		if pr := pod.Spec.Resources; pr != nil && tot.containerRequest != nil {
			if q, ok := pr.Requests[corev1.ResourceMemory]; ok && q.Cmp(*tot.containerRequest) < 0 {
				bad["pod request"] = tot.containerRequest.String()
			}
		}
		return bad
	}
	was, is := check(before), check(after)
	var errs []string
	for k, v := range is {
		if _, ok := was[k]; !ok {
			errs = append(errs, k+": "+v)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

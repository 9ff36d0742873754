package webhook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
)

var update = flag.Bool("update", false, "rewrite the want.yaml files of the golden cases")

// golden is what a case's want.yaml holds: what the webhook answered and the pod it leads to.
type golden struct {
	Outcome    Outcome        `json:"outcome"`
	Warnings   []string       `json:"warnings,omitempty"`
	Annotation map[string]any `json:"annotation,omitempty"` // key -> parsed record
	Patch      []PatchOp      `json:"patch,omitempty"`
	// Pod is the pod after the patch; only when there is one.
	Pod map[string]any `json:"pod,omitempty"`
}

// goldenCase is one directory under testdata: pod.yaml (or pod.json, sent byte for byte),
// and optionally recommendation.yaml, namespace.yaml, limitranges.yaml, quotas.yaml (ResourceQuotas
// with their status), policy.yaml (the policy file format, plus defaultMode via namespace labels).
type goldenCase struct {
	dir       string
	podJSON   []byte
	namespace corev1.Namespace
	store     StaticStore
	policy    Policy
}

func loadCase(t *testing.T, dir string) goldenCase {
	t.Helper()
	c := goldenCase{dir: dir, policy: Policy{DefaultMode: mode.Enforce}}
	if b, err := os.ReadFile(filepath.Join(dir, "pod.json")); err == nil {
		c.podJSON = b
	} else {
		c.podJSON = yamlToJSON(t, readFile(t, filepath.Join(dir, "pod.yaml")))
	}
	var meta struct {
		Metadata struct{ Namespace string } `json:"metadata"`
	}
	if err := json.Unmarshal(c.podJSON, &meta); err != nil {
		t.Fatalf("pod: %v", err)
	}
	ns := meta.Metadata.Namespace
	if ns == "" {
		ns = "demo"
	}
	c.namespace.Name = ns
	if b, ok := readOptional(t, filepath.Join(dir, "namespace.yaml")); ok {
		decodeYAML(t, b, &c.namespace)
	}
	c.store.Namespaces = []corev1.Namespace{c.namespace}
	c.store.Recommendations = readObjects[v1alpha1.MemoryRecommendation](t, filepath.Join(dir, "recommendation.yaml"), ns)
	c.store.LimitRangeList = readObjects[corev1.LimitRange](t, filepath.Join(dir, "limitranges.yaml"), ns)
	c.store.QuotaList = readObjects[corev1.ResourceQuota](t, filepath.Join(dir, "quotas.yaml"), ns)
	if b, ok := readOptional(t, filepath.Join(dir, "policy.yaml")); ok {
		p, err := DecodePolicy(bytes.NewReader(b), mode.Enforce)
		if err != nil {
			t.Fatal(err)
		}
		c.policy = p
	}
	return c
}

// TestGolden runs every case under testdata through the whole admission path: AdmissionReview
// JSON in, response JSON out (decoded with k8s.io/api's types), patch applied to the pod.
func TestGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		dir := filepath.Join("testdata", e.Name())
		if !e.IsDir() || !exists(filepath.Join(dir, "pod.yaml")) && !exists(filepath.Join(dir, "pod.json")) {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			c := loadCase(t, dir)
			got := runCase(t, c)
			wantFile := filepath.Join(dir, "want.yaml")
			gotYAML, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(wantFile, gotYAML, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantYAML := readFile(t, wantFile)
			var want golden
			if err := yaml.Unmarshal(wantYAML, &want); err != nil {
				t.Fatalf("%s: %v", wantFile, err)
			}
			var gotRound golden // compare in the same (YAML round-tripped) form
			if err := yaml.Unmarshal(gotYAML, &gotRound); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, gotRound); diff != "" {
				t.Errorf("%s differs (-want +got; rerun with -update to accept):\n%s", wantFile, diff)
			}
		})
	}
	if n < 10 {
		t.Fatalf("found %d golden cases under testdata, want at least 10", n)
	}
}

// runCase sends the case's pod through Handler.Review and checks what must hold for every case.
func runCase(t *testing.T, c goldenCase) golden {
	t.Helper()
	h := &Handler{Sizer: &Sizer{Policy: c.policy}, Store: &c.store}
	resp, outcome, err := h.Review(context.Background(), admissionReview("uid-1", c.namespace.Name, c.podJSON, false), nil)
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	got := golden{Outcome: outcome}
	patched, ops, warnings := checkResponse(t, resp, "uid-1", c.podJSON)
	got.Warnings = warnings
	if len(ops) > 0 {
		got.Patch = ops
		got.Pod = patched
	}
	var pod corev1.Pod
	if err := json.Unmarshal(mustJSON(t, patched), &pod); err != nil {
		t.Fatalf("patched pod does not decode as a Pod: %v", err)
	}
	for _, key := range []string{SizedKey, WouldSizeKey} {
		if v, ok := pod.Annotations[key]; ok && len(ops) > 0 {
			var rec map[string]any
			if err := json.Unmarshal([]byte(v), &rec); err != nil {
				t.Fatalf("annotation %s is not JSON: %v", key, err)
			}
			if got.Annotation == nil {
				got.Annotation = map[string]any{}
			}
			got.Annotation[key] = rec
		}
	}
	if err := validatePod(&pod, c.store.LimitRangeList); err != nil {
		t.Errorf("patched pod is not valid: %v", err)
	}

	// Reinvocation (reinvocationPolicy IfNeeded): the API server may send the pod again after a later
	// webhook changed it. The pod headroom already patched must come back unchanged: no patch at all.
	if len(ops) > 0 {
		again := mustJSON(t, patched)
		resp3, outcome3, err := h.Review(context.Background(), admissionReview("uid-2", c.namespace.Name, again, false), nil)
		if err != nil {
			t.Fatalf("review of the patched pod: %v", err)
		}
		if _, ops3, _ := checkResponse(t, resp3, "uid-2", again); len(ops3) > 0 {
			t.Errorf("the patched pod sent again (outcome %s) is patched again: %v", outcome3, ops3)
		}
	}

	// A dry-run request (kubectl --dry-run=server) gets the same answer: nothing has side effects.
	resp2, outcome2, err := h.Review(context.Background(), admissionReview("uid-1", c.namespace.Name, c.podJSON, true), nil)
	if err != nil || outcome2 != outcome || !bytes.Equal(resp2, resp) {
		t.Errorf("dry-run request answered differently: %v %s\n%s\n%s", err, outcome2, resp2, resp)
	}
	return got
}

// checkResponse decodes a response with k8s.io/api's types, checks that it allows the pod with
// a JSON patch of only add/replace operations, and returns the patched pod.
func checkResponse(t testing.TB, resp []byte, uid string, podJSON []byte) (map[string]any, []PatchOp, []string) {
	t.Helper()
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(resp, &review); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v\n%s", err, resp)
	}
	r := review.Response
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" || r == nil {
		t.Fatalf("bad response envelope: %s", resp)
	}
	if string(r.UID) != uid || !r.Allowed {
		t.Fatalf("response uid %q allowed %v, want %q true", r.UID, r.Allowed, uid)
	}
	for _, w := range r.Warnings {
		if len(w) > maxWarningLen {
			t.Errorf("warning longer than %d: %q", maxWarningLen, w)
		}
	}
	if len(r.Warnings) > maxWarnings {
		t.Errorf("%d warnings, want at most %d", len(r.Warnings), maxWarnings)
	}
	var pod map[string]any
	if err := json.Unmarshal(podJSON, &pod); err != nil {
		t.Fatalf("pod: %v", err)
	}
	if len(r.Patch) == 0 {
		if r.PatchType != nil {
			t.Errorf("patchType without a patch")
		}
		return pod, nil, r.Warnings
	}
	if r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch without patchType JSONPatch")
	}
	var ops []PatchOp
	if err := json.Unmarshal(r.Patch, &ops); err != nil {
		t.Fatalf("patch is not a JSON patch: %v\n%s", err, r.Patch)
	}
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			t.Fatalf("patch has a %q operation: %s", op.Op, r.Patch)
		}
	}
	if err := ApplyPatch(pod, ops); err != nil {
		t.Fatalf("patch does not apply: %v\n%s", err, r.Patch)
	}
	return pod, ops, r.Warnings
}

// validatePod checks what the API server (and the JVM) would refuse: memory quantities that are
// not positive, a request above the limit, a LimitRange violation, -Xmx at or above the limit.
func validatePod(pod *corev1.Pod, lrs []corev1.LimitRange) error {
	bounds := boundsFor(lrs, corev1.LimitTypeContainer)
	var errs []error
	for _, c := range allContainers(pod) {
		l, hasL := c.Resources.Limits[corev1.ResourceMemory]
		r, hasR := c.Resources.Requests[corev1.ResourceMemory]
		if hasL && l.Sign() <= 0 || hasR && r.Sign() < 0 {
			errs = append(errs, fmt.Errorf("%s: non-positive quantity", c.Name))
		}
		if hasL && hasR && l.Cmp(r) < 0 {
			errs = append(errs, fmt.Errorf("%s: request %s above limit %s", c.Name, &r, &l))
		}
		if hasL {
			if heap := jvm.Analyze(manifest.JVMContainer(c)); heap.MaxHeap > 0 && heap.MaxHeap >= l.Value() {
				errs = append(errs, fmt.Errorf("%s: -Xmx %d >= limit %s", c.Name, heap.MaxHeap, &l))
			}
		}
		lp, rp := &l, &r
		if !hasL {
			lp = nil
		}
		if !hasR {
			rp = lp // the API server defaults a missing request to the limit
		}
		if !bounds.empty() && (hasL || hasR) {
			if err := bounds.check(lp, rp); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// admissionReview builds the AdmissionReview the API server sends for a pod CREATE.
func admissionReview(uid, namespace string, podJSON []byte, dryRun bool) []byte {
	return fmt.Appendf(nil, `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":%q,`+
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},`+
		`"requestKind":{"group":"","version":"v1","kind":"Pod"},"requestResource":{"group":"","version":"v1","resource":"pods"},`+
		`"namespace":%q,"operation":"CREATE","userInfo":{"username":"system:serviceaccount:kube-system:replicaset-controller"},`+
		`"object":%s,"oldObject":null,"dryRun":%t,"options":{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1"}}}`,
		uid, namespace, podJSON, dryRun)
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readObjects decodes every YAML document of an optional file; an object without a namespace gets ns.
func readObjects[T any, P interface {
	*T
	GetNamespace() string
	SetNamespace(string)
}](t testing.TB, path, ns string) []T {
	t.Helper()
	b, ok := readOptional(t, path)
	if !ok {
		return nil
	}
	var out []T
	for _, doc := range splitYAML(t, b) {
		var obj T
		decodeYAML(t, doc, &obj)
		if p := P(&obj); p.GetNamespace() == "" {
			p.SetNamespace(ns)
		}
		out = append(out, obj)
	}
	return out
}

func readOptional(t testing.TB, name string) ([]byte, bool) {
	t.Helper()
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return b, true
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func yamlToJSON(t testing.TB, b []byte) []byte {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func decodeYAML(t testing.TB, b []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("decode %T: %v", into, err)
	}
}

func splitYAML(t testing.TB, b []byte) [][]byte {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(doc)) != "" {
			docs = append(docs, doc)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/mode"
)

// admissions reads headroom_webhook_admissions_total{outcome} from controller-runtime's registry.
func admissions(t *testing.T, o Outcome) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "headroom_webhook_admissions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == string(o) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no headroom_webhook_admissions_total{outcome=%q}", o)
	return 0
}

func serve(t *testing.T, h http.Handler, method, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, Path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHTTPErrorsAreNotDenials: a body that is not an AdmissionReview gets an HTTP error, which
// the API server treats as a failed call (failurePolicy Ignore: the pod is created), never an
// AdmissionResponse that denies.
func TestHTTPErrorsAreNotDenials(t *testing.T) {
	body, store := benchReview(t)
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: store}
	for _, tc := range []struct {
		name, method, contentType string
		body                      []byte
		code                      int
	}{
		{"GET", http.MethodGet, "application/json", body, http.StatusMethodNotAllowed},
		{"not JSON content type", http.MethodPost, "text/plain", body, http.StatusUnsupportedMediaType},
		{"malformed JSON", http.MethodPost, "application/json", []byte(`{"request":{"uid":`), http.StatusBadRequest},
		{"JSON without a request", http.MethodPost, "application/json", []byte(`{"kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"request without uid", http.MethodPost, "application/json", []byte(`{"request":{"object":{}}}`), http.StatusBadRequest},
		{"empty body", http.MethodPost, "application/json", nil, http.StatusBadRequest},
		{"too large", http.MethodPost, "application/json", bytes.Repeat([]byte(" "), maxBodyBytes+1), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, h, tc.method, tc.contentType, tc.body)
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d (%s)", rec.Code, tc.code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), `"allowed":false`) {
				t.Errorf("response denies: %s", rec.Body)
			}
		})
	}
}

// failingStore fails or panics in one method.
type failingStore struct {
	StaticStore
	err   error
	panic bool
}

func (s *failingStore) Recommendation(ctx context.Context, ns, name string) (*v1alpha1.MemoryRecommendation, error) {
	if s.panic {
		panic("store exploded")
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.StaticStore.Recommendation(ctx, ns, name)
}

// TestFailOpen: every kind of trouble allows the pod without a patch (or with only headroom's
// annotation), with a warning where it helps, and counts the outcome.
func TestFailOpen(t *testing.T) {
	body, store := benchReview(t)
	bad := func(mutate func(string) string) []byte { return []byte(mutate(string(body))) }
	for _, tc := range []struct {
		name            string
		store           Store
		body            []byte
		outcome         Outcome
		annotationOnly  bool
		warningContains string
	}{
		{name: "the store fails", store: &failingStore{StaticStore: *store, err: errors.New("cache broke")}, body: body,
			outcome: OutcomeError, warningContains: "cache broke"},
		{name: "the store panics", store: &failingStore{StaticStore: *store, panic: true}, body: body,
			outcome: OutcomeError, warningContains: "internal error"},
		{name: "caches not synced", store: &StaticStore{NotReady: true}, body: body,
			outcome: OutcomeNotReady, annotationOnly: true},
		{name: "namespace not in the cache yet", store: &StaticStore{Recommendations: store.Recommendations}, body: body,
			outcome: OutcomeNotReady, annotationOnly: true},
		{name: "a pod field of the wrong type", store: store,
			body:    bad(func(s string) string { return strings.Replace(s, `"name":"app"`, `"name":7`, 1) }),
			outcome: OutcomeError, warningContains: "cannot decode"},
		{name: "an invalid quantity", store: store,
			body:    bad(func(s string) string { return strings.Replace(s, `"memory":"3000Mi"`, `"memory":"3000Mx"`, 1) }),
			outcome: OutcomeError, warningContains: "3000Mx"},
		{name: "an UPDATE", store: store,
			body:    bad(func(s string) string { return strings.Replace(s, `"operation":"CREATE"`, `"operation":"UPDATE"`, 1) }),
			outcome: OutcomeIgnored},
		{name: "not a pod", store: store,
			body: bad(func(s string) string {
				return strings.Replace(s, `"kind":{"group":"","version":"v1","kind":"Pod"}`, `"kind":{"group":"","version":"v1","kind":"Service"}`, 1)
			}),
			outcome: OutcomeIgnored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: tc.store}
			before := admissions(t, tc.outcome)
			rec := serve(t, h, http.MethodPost, "application/json", tc.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if after := admissions(t, tc.outcome); after != before+1 {
				t.Errorf("outcome %s counted %v times, want 1", tc.outcome, after-before)
			}
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil {
				t.Fatal(err)
			}
			r := review.Response
			if !r.Allowed || r.UID != "705ab4f5-6393-11e8-b7cc-42010a800002" {
				t.Fatalf("not allowed or wrong uid: %s", rec.Body)
			}
			var ops []PatchOp
			if len(r.Patch) > 0 {
				if err := json.Unmarshal(r.Patch, &ops); err != nil {
					t.Fatal(err)
				}
			}
			for _, op := range ops {
				if !tc.annotationOnly || !strings.HasPrefix(op.Path, "/metadata/annotations") {
					t.Errorf("unexpected patch operation %v", op)
				}
			}
			if tc.annotationOnly && len(ops) != 1 {
				t.Errorf("want one annotation operation, got %v", ops)
			}
			if tc.warningContains != "" && (len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], tc.warningContains)) {
				t.Errorf("warnings %q, want one containing %q", r.Warnings, tc.warningContains)
			}
		})
	}
}

// TestSizeObjectMatchesWebhook: the offline path produces the pod the webhook's patch produces.
func TestSizeObjectMatchesWebhook(t *testing.T) {
	body, store := benchReview(t)
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: store}
	resp, _, err := h.Review(context.Background(), body, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := checkResponse(t, resp, "705ab4f5-6393-11e8-b7cc-42010a800002", mustJSON(t, benchPod()))

	var got map[string]any
	if err := json.Unmarshal(mustJSON(t, benchPod()), &got); err != nil {
		t.Fatal(err)
	}
	w := Workload{Kind: "Deployment", Name: "orders"}
	res, err := h.Sizer.SizeObject(got, Input{Namespace: NamespaceInfo{Name: "shop"}, Workload: &w, Recommendation: &store.Recommendations[0]})
	if err != nil || res.Outcome != OutcomeSized {
		t.Fatalf("%v %s", err, res.Outcome)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SizeObject differs from the webhook's patch (-webhook +offline):\n%s", diff)
	}
}

func TestReviewEchoesV1beta1(t *testing.T) {
	body, store := benchReview(t)
	body = bytes.Replace(body, []byte(`"apiVersion":"admission.k8s.io/v1"`), []byte(`"apiVersion":"admission.k8s.io/v1beta1"`), 1)
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: store}
	resp, _, err := h.Review(context.Background(), body, nil)
	if err != nil || !bytes.HasPrefix(resp, []byte(`{"apiVersion":"admission.k8s.io/v1beta1"`)) {
		t.Fatalf("%v %s", err, resp)
	}
}

// TestConcurrentReviews: admissions in parallel (the memo, the buffer pools) give the answers
// they give alone. Run with -race.
func TestConcurrentReviews(t *testing.T) {
	body, store := benchReview(t)
	// An invalid recommended limit is formatted into the annotation: the recommendation is shared
	// (an informer cache's object), and Quantity.String writes its cache into the Quantity. A fresh
	// one for the concurrent part, so that its first formatting happens there.
	invalid := func() { store.Recommendations[0].Status.Containers[2].Limit = ptrTo(resource.MustParse("5Mi")) }
	invalid()
	h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: mode.Enforce}}, Store: store}
	want, _, err := h.Review(context.Background(), body, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Replace(body, []byte("-Xmx96m"), []byte("-Xmx64m"), 1)
	wantOther, _, err := h.Review(context.Background(), other, nil)
	if err != nil {
		t.Fatal(err)
	}
	invalid()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				b, w := body, want
				if (g+i)%2 == 1 {
					b, w = other, wantOther
				}
				rec := serve(t, h, http.MethodPost, "application/json", b)
				if !bytes.Equal(rec.Body.Bytes(), w) {
					errs <- errors.New("a concurrent answer differs")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestNotReadyAnnotationFollowsTheMode: a pod admitted before the caches are ready is annotated
// with the key of its mode (would-size in dry-run), as far as the mode is known without the
// namespace: the default, lowered by the pod's annotation.
func TestNotReadyAnnotationFollowsTheMode(t *testing.T) {
	body, store := benchReview(t)
	dryRunPod := bytes.Replace(body, []byte(`"annotations":{`), []byte(`"annotations":{"headroom.dev/mode":"dry-run",`), 1)
	for _, tc := range []struct {
		name    string
		def     mode.Mode
		body    []byte
		store   Store
		wantKey string
	}{
		{"caches not synced, default dry-run", mode.DryRun, body, &StaticStore{NotReady: true}, WouldSizeKey},
		{"namespace not in the cache, default dry-run", mode.DryRun, body, &StaticStore{Recommendations: store.Recommendations}, WouldSizeKey},
		{"caches not synced, default enforce", mode.Enforce, body, &StaticStore{NotReady: true}, SizedKey},
		{"caches not synced, the pod asks for dry-run", mode.Enforce, dryRunPod, &StaticStore{NotReady: true}, WouldSizeKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Sizer: &Sizer{Policy: Policy{DefaultMode: tc.def}}, Store: tc.store}
			resp, outcome, err := h.Review(context.Background(), tc.body, nil)
			if err != nil || outcome != OutcomeNotReady {
				t.Fatalf("%v %s", err, outcome)
			}
			_, ops, _ := checkResponse(t, resp, "705ab4f5-6393-11e8-b7cc-42010a800002", mustJSON(t, benchPod()))
			var paths []string
			for _, op := range ops {
				paths = append(paths, op.Path)
			}
			want := []string{"/metadata/annotations/" + escapePointer(tc.wantKey)}
			if diff := cmp.Diff(want, paths); diff != "" {
				t.Errorf("patch paths (-want +got):\n%s", diff)
			}
		})
	}
}

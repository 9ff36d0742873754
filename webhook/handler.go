package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/headroom-dev/headroom/mode"
)

// Path is where the API server sends pod admissions.
const Path = "/mutate-v1-pod"

// maxBodyBytes bounds the request body: a pod is at most ~1.5 MB in etcd; the AdmissionReview
// around it is less than twice that.
const maxBodyBytes = 7 << 20

// Handler is the admission webhook: an http.Handler for AdmissionReview v1 requests on pod CREATE.
//
// It always allows the pod. Any problem of its own (an internal error or panic, a missing
// recommendation, an unparsable option, caches not synced yet) leaves the pod unchanged, says why
// in a warning and/or headroom's annotation, and counts the outcome. It never denies, because
// failurePolicy: Ignore covers a webhook that fails to answer, not one that says no. Only a body
// that is not an AdmissionReview at all gets an HTTP error, which the API server also ignores.
//
// It is written against the wire format rather than through controller-runtime's admission
// defaulter, which decodes the whole pod twice and diffs two JSON encodings for the patch: that
// costs a few hundred microseconds per pod; this costs tens (see BenchmarkAdmission).
type Handler struct {
	Sizer *Sizer
	Store Store
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		http.Error(w, "admission webhook: POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		http.Error(w, "admission webhook: Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	in := bufPool.Get().(*bytes.Buffer)
	defer putBuffer(in)
	in.Reset()
	if _, err := in.ReadFrom(io.LimitReader(r.Body, maxBodyBytes+1)); err != nil {
		http.Error(w, "admission webhook: read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if in.Len() > maxBodyBytes {
		http.Error(w, "admission webhook: body too large", http.StatusRequestEntityTooLarge)
		return
	}

	out := bufPool.Get().(*bytes.Buffer)
	defer putBuffer(out)
	out.Reset()
	out.Grow(4096)
	resp, outcome, err := h.Review(r.Context(), in.Bytes(), out.AvailableBuffer())
	if err != nil {
		observe(OutcomeError, time.Since(start))
		http.Error(w, "admission webhook: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(resp)
	observe(outcome, time.Since(start))
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // keep the pool from holding on to the odd huge pod
		bufPool.Put(b)
	}
}

// Review answers one AdmissionReview (JSON) and appends the response to dst. An error means the
// body is not an AdmissionReview with a request uid, so no response is possible.
func (h *Handler) Review(ctx context.Context, body, dst []byte) (resp []byte, outcome Outcome, err error) {
	defer func() { // admit recovers its own panics; this is for the decoder's
		if p := recover(); p != nil {
			resp, outcome, err = nil, OutcomeError, fmt.Errorf("internal error reading the AdmissionReview: %v", p)
		}
	}()
	rv, decodeErr := decodeReview(body)
	if rv.Request == nil || rv.Request.UID == "" {
		if decodeErr != nil {
			return nil, OutcomeError, fmt.Errorf("malformed AdmissionReview: %w", decodeErr)
		}
		return nil, OutcomeError, errNoRequest
	}
	req := rv.Request
	scratch := bufPool.Get().(*bytes.Buffer)
	defer putBuffer(scratch)
	scratch.Reset()
	scratch.Grow(2048)
	a := answer{patch: scratch.AvailableBuffer()}
	a.outcome = h.admit(ctx, req, decodeErr, &a)
	return a.appendResponse(dst, rv.APIVersion, string(req.UID)), a.outcome, nil
}

// answer is what goes into the AdmissionResponse; allowed is always true.
type answer struct {
	outcome  Outcome
	patch    []byte // empty: no patch; its capacity is scratch space for building one
	warnings []string
}

func (a *answer) appendResponse(b []byte, apiVersion, uid string) []byte {
	if apiVersion != "admission.k8s.io/v1beta1" {
		apiVersion = "admission.k8s.io/v1"
	}
	b = append(b, `{"apiVersion":`...)
	b = appendString(b, apiVersion)
	b = append(b, `,"kind":"AdmissionReview","response":{"uid":`...)
	b = appendString(b, uid)
	b = append(b, `,"allowed":true`...)
	if len(a.patch) > 0 {
		b = append(b, `,"patchType":"JSONPatch","patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, a.patch)
		b = append(b, '"')
	}
	if len(a.warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range a.warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...)
}

// admit runs the chain for one request and fills a. A panic anywhere in it allows the pod
// unchanged: whatever was computed so far is dropped.
func (h *Handler) admit(ctx context.Context, req *requestView, decodeErr error, a *answer) (outcome Outcome) {
	// The logger is only built when something is logged: most admissions log nothing.
	var owner *Workload
	base, err := logr.FromContext(ctx)
	if err != nil {
		base = log.Log // log.FromContext would do the same, at the price of three allocations
	}
	logger := func() logr.Logger {
		l := base.WithValues("namespace", req.Namespace)
		if m := req.Object.Metadata; m != nil {
			l = l.WithValues("generateName", m.GenerateName)
		}
		if owner != nil {
			l = l.WithValues("owner", owner.String())
		}
		return l
	}
	defer func() {
		if p := recover(); p != nil {
			logger().Error(fmt.Errorf("panic: %v", p), "Admission failed; pod allowed unchanged", "stack", string(debug.Stack()))
			*a = answer{warnings: []string{"headroom: internal error, pod not sized"}}
			outcome = OutcomeError
		}
	}()
	fail := func(err error, msg string) Outcome {
		logger().Error(err, msg)
		a.patch, a.warnings = nil, []string{truncate("headroom: pod not sized: " + err.Error())}
		return OutcomeError
	}

	if req.Operation != "CREATE" || req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.SubResource != "" {
		return OutcomeIgnored
	}
	if decodeErr != nil {
		return fail(decodeErr, "Cannot decode pod; pod allowed unchanged")
	}
	pod, err := req.Object.toPod(req.Namespace)
	if err != nil {
		return fail(err, "Cannot read pod; pod allowed unchanged")
	}

	var res Result
	if !h.Store.Ready() {
		res = h.notReady(pod, "caches not synced")
	} else {
		in, ok, err := h.lookup(ctx, pod)
		switch {
		case err != nil:
			return fail(err, "Lookup failed; pod allowed unchanged")
		case !ok:
			res = h.notReady(pod, "namespace not in cache yet")
		default:
			owner = in.Workload
			res = h.Sizer.Size(pod, in)
		}
	}

	var annotation string
	if res.AnnotationKey != "" {
		annotation = pod.Annotations[res.AnnotationKey]
	}
	patch, err := appendPatch(a.patch[:0], &req.Object, &res, annotation)
	if err != nil {
		return fail(err, "Cannot build patch; pod allowed unchanged")
	}
	a.patch, a.warnings = patch, res.Warnings
	if base.V(1).Enabled() {
		if res.Changed || res.Outcome == OutcomeDryRun {
			logger().V(1).Info("Sized pod", "outcome", res.Outcome, "mode", res.Mode.String(), "dryRunRequest", req.DryRun != nil && *req.DryRun)
		} else if res.Detail != "" {
			logger().V(1).Info("Pod not sized", "outcome", res.Outcome, "reason", res.Detail)
		}
	}
	return res.Outcome
}

// notReady leaves the pod unchanged when the caches cannot answer yet. The annotation says so on
// the pods headroom would have looked at: those of a workload that did not opt out. Its key is the
// mode's (would-size in dry-run) as far as it is known: the namespace's label is not, so the mode is
// the default one, lowered by the pod's annotation.
func (h *Handler) notReady(pod *corev1.Pod, detail string) Result {
	m, _ := resolveMode(h.Sizer.Policy.DefaultMode, NamespaceInfo{Name: pod.Namespace}, pod)
	res := Result{Mode: m, Outcome: OutcomeNotReady, Detail: detail}
	if len(ResolveWorkload(pod)) > 0 && m != mode.Off {
		res.Record.Skipped = "not-ready"
		res.annotate(pod, false)
	}
	return res
}

// lookup finds the namespace, the workload's recommendation, the LimitRanges and the
// ResourceQuotas; false when the namespace is not in the cache yet.
func (h *Handler) lookup(ctx context.Context, pod *corev1.Pod) (Input, bool, error) {
	ns, ok, err := h.Store.Namespace(ctx, pod.Namespace)
	if err != nil || !ok {
		return Input{}, false, err
	}
	in := Input{Namespace: ns}
	candidates := ResolveWorkload(pod)
	for i := range candidates {
		w := &candidates[i]
		rec, err := h.Store.Recommendation(ctx, pod.Namespace, w.RecommendationName())
		if err != nil {
			return Input{}, false, err
		}
		if w.Matches(rec) {
			in.Workload, in.Recommendation = w, rec
			break
		}
	}
	if in.Workload == nil && len(candidates) > 0 {
		in.Workload = &candidates[0]
	}
	if in.Recommendation != nil {
		if in.LimitRanges, err = h.Store.LimitRanges(ctx, pod.Namespace); err != nil {
			return Input{}, false, err
		}
		if in.ResourceQuotas, err = h.Store.ResourceQuotas(ctx, pod.Namespace); err != nil {
			return Input{}, false, err
		}
	}
	return in, true, nil
}

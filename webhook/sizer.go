package webhook

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/mode"
)

// RequestPolicy says how memory requests follow a new limit.
type RequestPolicy string

const (
	// RequestsRecommendation sets the recommendation's request (capped at the limit). Default.
	RequestsRecommendation RequestPolicy = "recommendation"
	// RequestsKeep keeps the current request, lowered to the limit when above it.
	RequestsKeep RequestPolicy = "keep"
)

// Policy is what the webhook and `headroom mutate` are configured with.
type Policy struct {
	// DefaultMode applies to namespaces without the headroom.dev/mode label.
	DefaultMode mode.Mode
	// SetMissingLimits gives a container without a memory limit the recommended limit and request.
	// This changes the pod's QoS class on purpose (a BestEffort pod becomes Burstable, and so on).
	// When false such a container keeps having no limit: a request it has is sized, a container
	// with neither a memory request nor a limit keeps having neither, and only -Xmx is sized.
	SetMissingLimits bool
	// Requests is RequestsRecommendation (the default when empty) or RequestsKeep.
	// A Guaranteed container's request always follows its limit, whatever this says.
	Requests RequestPolicy
}

// Validate reports a policy the sizer cannot follow.
func (p Policy) Validate() error {
	switch p.Requests {
	case "", RequestsRecommendation, RequestsKeep:
	default:
		return fmt.Errorf("requests policy %q is not one of recommendation, keep", p.Requests)
	}
	if !p.DefaultMode.Valid() {
		return fmt.Errorf("invalid default mode %q", p.DefaultMode)
	}
	return nil
}

// Sizer is the pure core of the webhook: it decides and applies the sizing of one pod.
type Sizer struct {
	Policy Policy
}

// NamespaceInfo is what the sizer needs to know about the pod's namespace.
type NamespaceInfo struct {
	Name   string
	Labels map[string]string
}

// Input is everything besides the pod that sizing depends on; the server fills it from
// informer caches, `headroom mutate` from files.
type Input struct {
	Namespace NamespaceInfo
	// Workload the pod belongs to; nil for a bare pod, which headroom leaves alone.
	Workload *Workload
	// Recommendation for the workload; nil when there is none.
	Recommendation *v1alpha1.MemoryRecommendation
	// LimitRanges of the namespace.
	LimitRanges []corev1.LimitRange
	// ResourceQuotas of the namespace, with their status (hard and used). Not known offline.
	ResourceQuotas []corev1.ResourceQuota
}

// Outcome is the bounded summary of one admission, used as the metric label.
type Outcome string

// Outcomes.
const (
	OutcomeSized            Outcome = "sized"             // enforce: at least one container changed
	OutcomeDryRun           Outcome = "dry-run"           // dry-run: at least one container would change
	OutcomeUnchanged        Outcome = "unchanged"         // recommendation found, nothing to change
	OutcomeNoRecommendation Outcome = "no-recommendation" // workload without a (usable) recommendation
	OutcomeNoWorkload       Outcome = "no-workload"       // bare pod or an owner headroom does not size
	OutcomeOptedOut         Outcome = "opted-out"         // mode off
	OutcomeSkippedInvalid   Outcome = "skipped-invalid"   // bad option, or every change would be invalid/unsafe
	OutcomeSkippedQuota     Outcome = "skipped-quota"     // the increase does not fit a ResourceQuota of the namespace
	OutcomeNotReady         Outcome = "not-ready"         // caches not synced, namespace not in cache
	OutcomeIgnored          Outcome = "ignored"           // not a pod CREATE
	OutcomeError            Outcome = "error"             // internal error or panic: pod allowed unchanged
)

// Outcomes lists every outcome (the metric's label values).
var Outcomes = []Outcome{OutcomeSized, OutcomeDryRun, OutcomeUnchanged, OutcomeNoRecommendation, OutcomeNoWorkload,
	OutcomeOptedOut, OutcomeSkippedInvalid, OutcomeSkippedQuota, OutcomeNotReady, OutcomeIgnored, OutcomeError}

// Result says what Size decided.
type Result struct {
	Mode    mode.Mode
	Outcome Outcome
	// Changed is true when the pod's spec was changed (enforce mode only).
	Changed bool
	// AnnotationKey is SizedKey or WouldSizeKey when Size set that annotation on the pod; empty otherwise.
	AnnotationKey string
	Record        Record
	// Warnings for the admission response (kubectl prints them); short, at most maxWarnings.
	Warnings []string
	// Detail explains a skip, for logs.
	Detail string

	changes []change // what changed, for the JSON patch
}

// slot locates a container in the pod spec.
type slot struct {
	init  bool // spec.initContainers, else spec.containers
	index int
}

// change is what Size changed in one container.
type change struct {
	slot
	limit, request *resource.Quantity
	heap           *heapEdit
}

const (
	maxWarnings   = 5
	maxWarningLen = 120
)

// Size decides the memory limits, requests and -Xmx of pod's containers and, in enforce mode,
// changes pod accordingly. It also sets the sized / would-size annotation on pod when useful:
// always when the spec changes, otherwise only if headroom's annotation is not there yet (a
// reinvocation must not overwrite the record of the first pass). It never returns an error: every
// problem leaves the spec unchanged and is said in the Result.
func (s *Sizer) Size(pod *corev1.Pod, in Input) Result {
	m, err := resolveMode(s.Policy.DefaultMode, in.Namespace, pod)
	res := Result{Mode: m}
	if m == mode.Off {
		res.Outcome = OutcomeOptedOut
		return res
	}
	if err != nil {
		return res.skip(pod, OutcomeSkippedInvalid, "invalid-option", err.Error())
	}
	if in.Workload == nil {
		res.Outcome = OutcomeNoWorkload
		return res
	}
	rec := in.Recommendation
	if rec == nil || !in.Workload.Matches(rec) {
		res.Record.Recommendation = in.Workload.RecommendationName()
		return res.skip(pod, OutcomeNoRecommendation, "no-recommendation", "no MemoryRecommendation "+in.Workload.RecommendationName())
	}
	res.Record.Recommendation = rec.Name
	if meta.IsStatusConditionTrue(rec.Status.Conditions, v1alpha1.ConditionInsufficientHistory) {
		return res.skip(pod, OutcomeNoRecommendation, "insufficient-history", "recommendation has insufficient history")
	}
	exclude, err := parseExclude(pod)
	if err != nil {
		return res.skip(pod, OutcomeSkippedInvalid, "invalid-option", err.Error())
	}

	bounds := boundsFor(in.LimitRanges, corev1.LimitTypeContainer)
	qos := manifest.QOSClass(&pod.Spec)
	plans := make([]plan, 0, len(rec.Status.Containers))
	targets := make([]*corev1.Container, 0, len(rec.Status.Containers))
	slots := make([]slot, 0, len(rec.Status.Containers))
	invalid, stale := false, false
	nInit := len(pod.Spec.InitContainers)
	for k, c := range allContainers(pod) {
		rc := findContainer(rec, c.Name)
		if rc == nil {
			continue // not named by the recommendation: init containers and sidecars included
		}
		var p plan
		if contains(exclude, c.Name) {
			p = skip(c.Name, "excluded", false)
		} else {
			p = s.planContainer(c, rc, bounds, qos == corev1.PodQOSGuaranteed)
		}
		invalid = invalid || p.skippedInvalid
		stale = stale || p.stale
		plans = append(plans, p)
		targets = append(targets, c)
		if k < nInit {
			slots = append(slots, slot{init: true, index: k})
		} else {
			slots = append(slots, slot{index: k - nInit})
		}
	}
	if len(plans) == 0 {
		return res.skip(pod, OutcomeNoRecommendation, "no-container-recommended", "the recommendation names none of the pod's containers")
	}

	// Pod-wide checks: the sum over containers must stay inside Pod LimitRanges and pod-level
	// resources, and the pod keeps its QoS class. When the changes would break one that held
	// before, nothing changes. Then the namespace's ResourceQuotas, which the API server checks
	// after the mutating webhooks: an increase they have no room for would get the pod rejected.
	changed := false
	for i := range plans {
		changed = changed || plans[i].changed()
	}
	quota := false
	if changed {
		err := podWideCheck(pod, targets, plans, in.LimitRanges)
		if err == nil {
			err = s.qosCheck(pod, qos, targets, plans)
		}
		if err == nil {
			if err = quotaCheck(pod, targets, plans, in.ResourceQuotas); err != nil {
				quota = true
			}
		}
		if err != nil {
			for i := range plans {
				if plans[i].changed() {
					plans[i] = skip(plans[i].record.Name, err.Error(), true)
				}
			}
			changed, invalid = false, true
		}
	}

	res.Record.Containers = make([]ContainerRecord, len(plans))
	for i := range plans {
		res.Record.Containers[i] = plans[i].record
	}
	switch {
	case changed && m == mode.Enforce:
		res.changes = make([]change, 0, len(plans))
		for i := range plans {
			if plans[i].changed() {
				plans[i].apply(targets[i])
				res.changes = append(res.changes, change{slot: slots[i], limit: plans[i].setLimit,
					request: plans[i].setRequest, heap: plans[i].heap})
			}
		}
		res.Outcome, res.Changed = OutcomeSized, true
	case changed:
		res.Outcome = OutcomeDryRun
		res.Warnings = dryRunWarnings(res.Record.Containers)
	case invalid:
		res.Outcome = OutcomeSkippedInvalid
		res.Detail = "no container could be sized safely"
		if quota {
			res.Outcome, res.Detail = OutcomeSkippedQuota, "the increase does not fit a ResourceQuota"
		}
		for _, c := range res.Record.Containers {
			if c.Skipped != "" && c.Skipped != "excluded" {
				res.Warnings = []string{truncate("headroom: " + c.Name + " not sized: " + c.Skipped)}
				break
			}
		}
	case stale:
		// A recommendation for another pod template is no usable recommendation.
		res.Outcome = OutcomeNoRecommendation
		res.Detail = "the recommendation was computed for another pod template"
	default:
		res.Outcome = OutcomeUnchanged
	}
	res.annotate(pod, changed)
	return res
}

// skip ends sizing early: the spec stays as it is and the annotation says why.
func (r Result) skip(pod *corev1.Pod, o Outcome, why, detail string) Result {
	r.Outcome, r.Detail = o, detail
	r.Record.Skipped = why
	if o == OutcomeSkippedInvalid {
		r.Record.Skipped = why + ": " + detail
		r.Warnings = []string{truncate("headroom: pod not sized: " + detail)}
	}
	r.annotate(pod, false)
	return r
}

// annotate sets the mode's annotation unless headroom's annotation is there and nothing changed.
func (r *Result) annotate(pod *corev1.Pod, changed bool) {
	key := SizedKey
	if r.Mode == mode.DryRun {
		key = WouldSizeKey
	}
	if !changed {
		if _, ok := pod.Annotations[SizedKey]; ok {
			return
		}
		if _, ok := pod.Annotations[WouldSizeKey]; ok {
			return
		}
	}
	prev, had := pod.Annotations[key]
	if had {
		r.Record.keepChanges(prev)
	}
	value := r.Record.Marshal()
	if had && value == prev {
		return // the pod sent again (reinvocation) already says this: no patch
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[key] = value
	r.AnnotationKey = key
}

// dryRunWarnings says per container what enforce mode would do, or why it would leave the
// container alone; at most maxWarnings lines.
func dryRunWarnings(recs []ContainerRecord) []string {
	var lines []string
	for i := range recs {
		c := &recs[i]
		switch {
		case c.changed():
			var b strings.Builder
			b.WriteString("headroom dry-run: ")
			b.WriteString(c.Name)
			sep := ": "
			pair := func(what, old, new string) {
				if new == "" {
					return
				}
				if old == "" {
					old = "none"
				}
				b.WriteString(sep + what + " " + old + " -> " + new)
				sep = ", "
			}
			pair("limit", c.OldLimit, c.Limit)
			pair("request", c.OldRequest, c.Request)
			pair("-Xmx", c.OldXmx, c.Xmx)
			lines = append(lines, truncate(b.String()))
		case c.Skipped != "" && c.Skipped != "excluded":
			lines = append(lines, truncate("headroom dry-run: "+c.Name+": not sized: "+c.Skipped))
		}
	}
	if len(lines) > maxWarnings {
		more := len(lines) - (maxWarnings - 1)
		lines = append(lines[:maxWarnings-1], fmt.Sprintf("headroom dry-run: and %d more containers (see annotation %s)", more, WouldSizeKey))
	}
	return lines
}

func truncate(s string) string {
	if len(s) <= maxWarningLen {
		return s
	}
	return s[:maxWarningLen-3] + "..."
}

// allContainers returns pointers to the init containers (sidecars included) and the containers.
func allContainers(pod *corev1.Pod) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		out = append(out, &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

func findContainer(rec *v1alpha1.MemoryRecommendation, name string) *v1alpha1.ContainerRecommendation {
	for i := range rec.Status.Containers {
		if rec.Status.Containers[i].Name == name {
			return &rec.Status.Containers[i]
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// podWideCheck returns an error when the planned changes would make the pod break a Pod
// LimitRange or its pod-level memory resources, and it did not before.
func podWideCheck(pod *corev1.Pod, targets []*corev1.Container, plans []plan, lrs []corev1.LimitRange) error {
	podBounds := boundsFor(lrs, corev1.LimitTypePod)
	var podLimit, podRequest *resource.Quantity
	if pr := pod.Spec.Resources; pr != nil {
		if q, ok := pr.Limits[corev1.ResourceMemory]; ok {
			podLimit = &q
		}
		if q, ok := pr.Requests[corev1.ResourceMemory]; ok {
			podRequest = &q
		}
	}
	if podBounds.empty() && podLimit == nil && podRequest == nil {
		return nil
	}
	before := podMemory(pod, targets, nil)
	after := podMemory(pod, targets, plans)
	if podBounds.check(after.limit, after.request) != nil && podBounds.check(before.limit, before.request) == nil {
		return fmt.Errorf("limitrange: pod total: %w", podBounds.check(after.limit, after.request))
	}
	if podLimit != nil {
		for i, c := range targets {
			l := plans[i].setLimit
			if l == nil {
				continue
			}
			if lessThan(*podLimit, *l) {
				return fmt.Errorf("pod-level limit %s below container %s limit %s", podLimit, c.Name, l)
			}
		}
	}
	if podRequest != nil && after.containerRequest != nil && lessThan(*podRequest, *after.containerRequest) &&
		(before.containerRequest == nil || !lessThan(*podRequest, *before.containerRequest)) {
		return fmt.Errorf("pod-level request %s below the containers' %s", podRequest, after.containerRequest)
	}
	return nil
}

type podTotals struct {
	limit, request   *resource.Quantity // as LimitRanger computes them (pod-level values win)
	containerRequest *resource.Quantity // aggregated over containers, ignoring pod-level values
}

// podMemory aggregates memory limits and requests over the pod's containers the way LimitRanger
// does (manifest.Aggregate), with the planned values for targets.
func podMemory(pod *corev1.Pod, targets []*corev1.Container, plans []plan) podTotals {
	value := func(c *corev1.Container, limit bool) (resource.Quantity, bool) {
		for i, t := range targets {
			if t == c && plans != nil {
				if q := plans[i].setLimit; limit && q != nil {
					return *q, true
				}
				if q := plans[i].setRequest; !limit && q != nil {
					return *q, true
				}
			}
		}
		if limit {
			q, ok := c.Resources.Limits[corev1.ResourceMemory]
			return q, ok
		}
		q, ok := c.Resources.Requests[corev1.ResourceMemory]
		if !ok { // the API server defaults a missing request to the limit
			q, ok = c.Resources.Limits[corev1.ResourceMemory]
		}
		return q, ok
	}
	aggregate := func(limit bool) *resource.Quantity {
		sum, ok := manifest.Aggregate(&pod.Spec, func(c *corev1.Container) (resource.Quantity, bool) { return value(c, limit) })
		if !ok {
			return nil
		}
		return &sum
	}
	t := podTotals{limit: aggregate(true), request: aggregate(false)}
	t.containerRequest = t.request
	if pr := pod.Spec.Resources; pr != nil {
		if q, ok := pr.Limits[corev1.ResourceMemory]; ok {
			t.limit = &q
		}
		if q, ok := pr.Requests[corev1.ResourceMemory]; ok {
			t.request = &q
		}
	}
	return t
}

// qosCheck returns an error when the planned changes would change the pod's QoS class, which
// headroom keeps (DESIGN.md §5): e.g. a Burstable pod whose lowered limit meets its request in
// every container would become Guaranteed. Adding a missing limit under the SetMissingLimits policy
// changes the class on purpose.
func (s *Sizer) qosCheck(pod *corev1.Pod, before corev1.PodQOSClass, targets []*corev1.Container, plans []plan) error {
	for i := range plans {
		if plans[i].addsLimit && s.Policy.SetMissingLimits {
			return nil
		}
	}
	// Only memory changes here, never to nothing, and a Guaranteed pod's requests follow its
	// limits: the one move left is Burstable to Guaranteed, which needs every container's CPU
	// request equal to its limit already (or pod-level resources). Other pods need no copy.
	if before != corev1.PodQOSBurstable || pod.Spec.Resources == nil && !cpuGuaranteed(&pod.Spec) {
		return nil
	}
	after := manifest.QOSClass(plannedSpec(pod, targets, plans))
	if after != before {
		return fmt.Errorf("qos: the changes would make the pod %s instead of %s", after, before)
	}
	return nil
}

// cpuGuaranteed reports whether every container has a non-zero CPU limit and a CPU request equal
// to it (or none, which defaults to it).
func cpuGuaranteed(spec *corev1.PodSpec) bool {
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			r := &list[i].Resources
			l, ok := r.Limits[corev1.ResourceCPU]
			if !ok || l.IsZero() {
				return false
			}
			if q, ok := r.Requests[corev1.ResourceCPU]; ok && !q.Equal(l) {
				return false
			}
		}
	}
	return true
}

// plannedSpec returns a shallow copy of the pod's spec with the planned memory limits and requests;
// pod is not changed.
func plannedSpec(pod *corev1.Pod, targets []*corev1.Container, plans []plan) *corev1.PodSpec {
	spec := pod.Spec
	spec.InitContainers = slices.Clone(pod.Spec.InitContainers)
	spec.Containers = slices.Clone(pod.Spec.Containers)
	lists := [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers}
	copies := [][]corev1.Container{spec.InitContainers, spec.Containers}
	for i, t := range targets {
		p := &plans[i]
		if p.setLimit == nil && p.setRequest == nil {
			continue
		}
		for l := range lists {
			for j := range lists[l] {
				if &lists[l][j] != t {
					continue
				}
				r := &copies[l][j].Resources
				if p.setLimit != nil {
					r.Limits = withMemory(r.Limits, *p.setLimit)
				}
				if p.setRequest != nil {
					r.Requests = withMemory(r.Requests, *p.setRequest)
				}
			}
		}
	}
	return &spec
}

func withMemory(list corev1.ResourceList, q resource.Quantity) corev1.ResourceList {
	out := make(corev1.ResourceList, len(list)+1)
	for k, v := range list {
		out[k] = v
	}
	out[corev1.ResourceMemory] = q
	return out
}

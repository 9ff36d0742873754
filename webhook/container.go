package webhook

import (
	"errors"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/jvm"
)

// minLimitBytes is the smallest memory limit headroom sets: runc refuses to start a container
// with less than 6 MiB, so a smaller recommendation is broken, not small.
const minLimitBytes = 6 << 20

// plan is what headroom does with one container: the record for the annotation and, when
// the container changes, its new limit, request and JVM options.
type plan struct {
	record ContainerRecord
	// skippedInvalid is true when the container was left alone because a change would not have
	// been valid or safe (as opposed to excluded or unchanged).
	skippedInvalid bool
	// stale is true when the recommendation was computed for another pod template.
	stale bool
	// addsLimit is true when the container gets a memory limit it did not have (policy
	// SetMissingLimits), which may change the pod's QoS class on purpose.
	addsLimit bool

	setLimit, setRequest *resource.Quantity
	heap                 *heapEdit // nil: JVM options unchanged
}

func (p *plan) changed() bool { return p.setLimit != nil || p.setRequest != nil || p.heap != nil }

func skip(name, why string, invalid bool) plan {
	return plan{record: ContainerRecord{Name: name, Skipped: why}, skippedInvalid: invalid}
}

// planContainer decides the limit, request and -Xmx of one container from its recommendation.
// followLimit is true when the pod is Guaranteed: its requests must stay equal to its limits.
// It does not change c. Every path that cannot guarantee a valid, safe container returns a skip.
func (s *Sizer) planContainer(c *corev1.Container, rc *v1alpha1.ContainerRecommendation, bounds memoryBounds, followLimit bool) plan {
	p := plan{record: ContainerRecord{Name: c.Name}}
	oldLimit, hasLimit := c.Resources.Limits[corev1.ResourceMemory]
	oldRequest, hasRequest := c.Resources.Requests[corev1.ResourceMemory]
	// rc points into the informer cache, shared by concurrent admissions: Quantity.String caches
	// its text in the Quantity, so only copies are formatted.
	if rc.Limit != nil && (rc.Limit.Sign() <= 0 || rc.Limit.Value() < minLimitBytes) {
		q := *rc.Limit
		return skip(c.Name, "invalid-recommendation: limit "+quantityString(&q), true)
	}
	if rc.Request != nil && rc.Request.Sign() <= 0 {
		q := *rc.Request
		return skip(c.Name, "invalid-recommendation: request "+quantityString(&q), true)
	}
	if why := staleRecommendation(c, rc, bounds.defaults); why != "" {
		p := skip(c.Name, why, false)
		p.stale = true
		return p
	}

	// Limit: the recommendation's when the container has a limit, or when the policy adds missing
	// ones. Otherwise the container keeps having no limit; its request (if it has one) and -Xmx are
	// still sized (the recommender does the same when its policy does not add missing limits).
	// A container with neither a memory request nor a limit keeps having neither: a request alone
	// would move a BestEffort pod to Burstable, and the pod keeps its QoS class (DESIGN.md §5). Only
	// the SetMissingLimits policy adds memory to such a container, changing the class on purpose.
	var limit, request *resource.Quantity
	if hasLimit {
		l := oldLimit.DeepCopy()
		limit = &l
	}
	if hasRequest {
		r := oldRequest.DeepCopy()
		request = &r
	}
	noMemory := !hasLimit && !hasRequest && !s.Policy.SetMissingLimits
	if noMemory {
		if rc.Limit != nil || rc.Request != nil {
			p.record.Reason = "no memory request or limit: none added (the pod keeps its QoS class)"
		}
	} else if rc.Limit != nil {
		if hasLimit || s.Policy.SetMissingLimits {
			l := rc.Limit.DeepCopy()
			limit = &l
			p.addsLimit = !hasLimit
		} else {
			p.record.Reason = "no memory limit: none added"
		}
	}

	// Request: in a Guaranteed pod it follows the limit (the pod keeps its QoS class); otherwise the
	// recommendation's (policy "recommendation") or the current one; never above the limit. Without
	// a request and a recommended one, the API server's defaulting makes a missing request equal to
	// the limit.
	switch {
	case noMemory:
	case limit != nil && followLimit:
		r := limit.DeepCopy()
		request = &r
	case s.Policy.Requests != RequestsKeep && rc.Request != nil:
		r := rc.Request.DeepCopy()
		request = &r
	}
	if limit != nil && request != nil && lessThan(*limit, *request) {
		r := limit.DeepCopy()
		request = &r
	}
	limitChanged := limit != nil && (!hasLimit || limit.Cmp(oldLimit) != 0)
	requestChanged := request != nil && (!hasRequest || request.Cmp(oldRequest) != 0)
	if limitChanged || requestChanged {
		what, err := bounds.clamp(limit, request)
		if err != nil {
			return skip(c.Name, err.Error(), true)
		}
		p.record.Reason = join(p.record.Reason, what)
		limitChanged = limit != nil && (!hasLimit || limit.Cmp(oldLimit) != 0)
		requestChanged = request != nil && (!hasRequest || request.Cmp(oldRequest) != 0)
	}
	lowers := limitChanged && (!hasLimit || limit.Cmp(oldLimit) < 0) // no limit is no bound: adding one lowers it

	// -Xmx: rewrite it where the JVM reads it; whatever the heap ends up being, heap plus non-heap
	// must fit in the limit less the page cache the application keeps active (DESIGN.md §5:
	// xmx + nonHeap <= limit - activeFilePeak), or the container is left alone.
	nonHeap := max(rc.Observed.NonHeapBytes, 0)
	activeFile := max(rc.Observed.ActiveFilePeakBytes, 0)
	var limitBytes int64 // 0: no limit
	if limit != nil {
		limitBytes = limit.Value()
	}
	room := func(heap string) string {
		s := heap + " + non-heap " + formatBytes(nonHeap)
		if activeFile > 0 {
			s += " + active file " + formatBytes(activeFile)
		}
		return s + " >= limit " + quantityString(limit)
	}
	heapSet := false // the heap is explicitly what the recommendation says (now or after rewriting)
	heapUnknown := false
	cannot := ""
	if rc.Xmx != "" {
		want, err := jvm.ParseSize(rc.Xmx)
		if err != nil || want <= 0 {
			return skip(c.Name, "invalid-recommendation: xmx "+rc.Xmx, true)
		}
		if limitBytes > 0 && want+nonHeap+activeFile >= limitBytes {
			return skip(c.Name, "heap-exceeds-limit: "+room("xmx "+rc.Xmx), true)
		}
		edit, err := rewriteHeap(c, want)
		switch {
		case err != nil:
			cannot = "cannot-rewrite: " + err.Error()
			// Where -Xmx could only be added by hiding envFrom's JAVA_TOOL_OPTIONS, envFrom may
			// also set the heap: it is not known.
			heapUnknown = errors.Is(err, errShadowsEnvFrom)
		case edit != nil && edit.uncertain != "" && lowers:
			return skip(c.Name, "heap-uncertain: -Xmx"+edit.xmx+" added to "+edit.at+" may not apply: "+edit.uncertain+"; limit not lowered", true)
		default:
			heapSet = true
			if edit != nil {
				p.heap = edit
				p.record.OldXmx, p.record.Xmx, p.record.XmxAt = edit.oldXmx, edit.xmx, edit.at
				p.record.Reason = join(p.record.Reason, edit.note)
				if edit.uncertain != "" {
					p.record.Reason = join(p.record.Reason, "the -Xmx may not apply: "+edit.uncertain)
				}
			}
		}
	}
	if !heapSet && limitChanged {
		cur := analyzeHeap(c)
		// A heap setting the spec does not show (valueFrom, envFrom, an options file) may be
		// anything: only a limit that does not shrink is safe then.
		if (!cur.certain || heapUnknown) && lowers {
			why := cannot
			if why == "" {
				why = "heap-unknown: the heap may be set where the spec does not show it"
			}
			return skip(c.Name, why+"; limit not lowered", true)
		}
		if heap := cur.effective(limitBytes); heap+nonHeap+activeFile >= limitBytes {
			why := cannot
			if why == "" {
				why = "heap-exceeds-limit"
			}
			return skip(c.Name, why+": "+room("heap "+formatBytes(heap)), true)
		}
	}
	p.record.Reason = join(p.record.Reason, cannot)
	p.skippedInvalid = cannot != ""

	if limitChanged {
		p.setLimit = limit
		p.record.Limit = quantityString(limit)
		if hasLimit {
			p.record.OldLimit = quantityString(&oldLimit)
		}
	} else {
		p.addsLimit = false
	}
	if requestChanged {
		p.setRequest = request
		p.record.Request = quantityString(request)
		if hasRequest {
			p.record.OldRequest = quantityString(&oldRequest)
		}
	}
	if !p.changed() && p.record.Reason == "" {
		p.record.Reason = "unchanged"
	}
	return p
}

// staleRecommendation says why a recommendation computed for another pod template must not be
// applied, or "". The recommender records in current the limit and -Xmx it computed against; a
// user who since raised the limit (or changed -Xmx) after OOM kills must not get the old values
// back until the next cycle, or for as long as the recommender is down. A recommendation without
// current (written before it existed) is applied as it is. A template without a limit gets the
// namespace LimitRange's default before the webhook sees the pod (defaultLimits): that is the same
// template.
func staleRecommendation(c *corev1.Container, rc *v1alpha1.ContainerRecommendation, defaultLimits []int64) string {
	cur := rc.Current
	if cur == nil {
		return ""
	}
	var now, then int64 // bytes; 0: none
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		now = q.Value()
	}
	if cur.Limit != nil {
		then = cur.Limit.Value()
	}
	if now != then && !(then == 0 && slices.Contains(defaultLimits, now)) {
		return "stale-recommendation: the pod template changed since the recommendation (limit " + bytesOrNone(now, formatBytes) +
			", recommended for " + bytesOrNone(then, formatBytes) + ")"
	}
	// -Xmx: compared when the recommender saw an explicit one, or recommends one (then it read the
	// container's spec). Without the spec (from history alone) it cannot tell "no -Xmx" from "not
	// known", and sets neither.
	if cur.Xmx == "" && rc.Xmx == "" {
		return ""
	}
	then = 0
	if cur.Xmx != "" {
		b, err := jvm.ParseSize(cur.Xmx)
		if err != nil {
			return "invalid-recommendation: current xmx " + cur.Xmx
		}
		then = b
	}
	if now = analyzeHeap(c).heap.MaxHeap; now != then {
		was := cur.Xmx
		if was == "" {
			was = "none"
		}
		return "stale-recommendation: the pod template changed since the recommendation (-Xmx " + bytesOrNone(now, jvm.FormatSize) +
			", recommended for " + was + ")"
	}
	return ""
}

func bytesOrNone(b int64, format func(int64) string) string {
	if b == 0 {
		return "none"
	}
	return format(b)
}

// apply writes a plan into the container.
func (p *plan) apply(c *corev1.Container) {
	if p.setLimit != nil {
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Limits[corev1.ResourceMemory] = *p.setLimit
	}
	if p.setRequest != nil {
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[corev1.ResourceMemory] = *p.setRequest
	}
	if p.heap != nil {
		p.heap.apply(c)
	}
}

// heapEdit is a rewritten heap setting: the container's new command, args and env (same names,
// in the same order, maybe with variables appended), and what the annotation says about it.
type heapEdit struct {
	command, args   []string
	env             []envPair
	oldXmx, xmx, at string
	note            string // e.g. that -Xms was lowered, and package jvm's caveats
	// uncertain says why the -Xmx, appended where no explicit size applied, may not be the one the JVM
	// uses (see appendedMayLose); "" when it is.
	uncertain string
}

type envPair struct{ name, value string }

func (e *heapEdit) apply(c *corev1.Container) {
	// Copies: an edit may be shared through the memo, and the caller owns its pod.
	c.Command, c.Args = slices.Clone(e.command), slices.Clone(e.args)
	for j, ev := range e.env {
		if j < len(c.Env) {
			c.Env[j].Value = ev.value
		} else {
			c.Env = append(c.Env, corev1.EnvVar{Name: ev.name, Value: ev.value})
		}
	}
}

func formatBytes(b int64) string {
	return resource.NewQuantity(b, resource.BinarySI).String()
}

// quantityString is q.String() with one allocation instead of three for the common case, a
// whole number of bytes in binary SI (what memory quantities are); anything else goes to String.
func quantityString(q *resource.Quantity) string {
	v, ok := q.AsInt64()
	if !ok || v < 0 || q.Format != resource.BinarySI {
		return q.String()
	}
	exp := 0
	if v >= 1024 {
		for v%1024 == 0 && exp < 6 {
			v /= 1024
			exp++
		}
	}
	var buf [24]byte
	b := strconv.AppendInt(buf[:0], v, 10)
	b = append(b, binarySuffixes[exp]...)
	return string(b)
}

var binarySuffixes = [...]string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}

package webhook

import (
	"fmt"
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

// defaultMaxRAMPercentage is the JVM's heap size, in percent of the container limit, when nothing
// sets the heap (JDK 10+ default -XX:MaxRAMPercentage=25).
const defaultMaxRAMPercentage = 25

// plan is what headroom does with one container: the record for the annotation and, when
// the container changes, its new limit, request and JVM options.
type plan struct {
	record ContainerRecord
	// skippedInvalid is true when the container was left alone because a change would not have
	// been valid or safe (as opposed to excluded or unchanged).
	skippedInvalid bool

	setLimit, setRequest *resource.Quantity
	heap                 *heapEdit // nil: JVM options unchanged
}

func (p *plan) changed() bool { return p.setLimit != nil || p.setRequest != nil || p.heap != nil }

func skip(name, why string, invalid bool) plan {
	return plan{record: ContainerRecord{Name: name, Skipped: why}, skippedInvalid: invalid}
}

// planContainer decides the limit, request and -Xmx of one container from its recommendation.
// It does not change c. Every path that cannot guarantee a valid, safe container returns a skip.
func (s *Sizer) planContainer(c *corev1.Container, rc *v1alpha1.ContainerRecommendation, bounds memoryBounds) plan {
	p := plan{record: ContainerRecord{Name: c.Name}}
	oldLimit, hasLimit := c.Resources.Limits[corev1.ResourceMemory]
	oldRequest, hasRequest := c.Resources.Requests[corev1.ResourceMemory]
	if rc.Limit != nil && (rc.Limit.Sign() <= 0 || rc.Limit.Value() < minLimitBytes) {
		return skip(c.Name, "invalid-recommendation: limit "+rc.Limit.String(), true)
	}
	if rc.Request != nil && rc.Request.Sign() <= 0 {
		return skip(c.Name, "invalid-recommendation: request "+rc.Request.String(), true)
	}

	// Limit: the recommendation's when the container has a limit, or when the policy adds missing
	// ones. Otherwise the container keeps having no limit; its request and -Xmx are still sized
	// (the recommender does the same when its policy does not add missing limits).
	var limit, request *resource.Quantity
	if hasLimit {
		l := oldLimit.DeepCopy()
		limit = &l
	}
	if hasRequest {
		r := oldRequest.DeepCopy()
		request = &r
	}
	if rc.Limit != nil {
		if hasLimit || s.Policy.SetMissingLimits {
			l := rc.Limit.DeepCopy()
			limit = &l
		} else {
			p.record.Reason = "no memory limit: none added"
		}
	}

	// Request: a Guaranteed container's follows the limit (the pod keeps its QoS class);
	// otherwise the recommendation's (policy "recommendation") or the current one; never above
	// the limit. Without a request and a recommended one, the API server's defaulting makes a
	// missing request equal to the limit.
	switch {
	case limit != nil && guaranteed(c):
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

	// -Xmx: rewrite it where the JVM reads it; whatever the heap ends up being, heap plus
	// non-heap must stay below the limit, or the container is left alone.
	nonHeap := max(rc.Observed.NonHeapBytes, 0)
	var limitBytes int64 // 0: no limit
	if limit != nil {
		limitBytes = limit.Value()
	}
	heapSet := false // the heap is explicitly what the recommendation says (now or after rewriting)
	cannot := ""
	if rc.Xmx != "" {
		want, err := jvm.ParseSize(rc.Xmx)
		if err != nil || want <= 0 {
			return skip(c.Name, "invalid-recommendation: xmx "+rc.Xmx, true)
		}
		if limitBytes > 0 && want+nonHeap >= limitBytes {
			return skip(c.Name, fmt.Sprintf("heap-exceeds-limit: xmx %s + non-heap %s >= limit %s",
				rc.Xmx, formatBytes(nonHeap), limit), true)
		}
		if edit, err := rewriteHeap(c, want); err != nil {
			cannot = "cannot-rewrite: " + err.Error()
		} else {
			heapSet = true
			if edit != nil {
				p.heap = edit
				p.record.OldXmx, p.record.Xmx, p.record.XmxAt = edit.oldXmx, edit.xmx, edit.at
				p.record.Reason = join(p.record.Reason, edit.note)
			}
		}
	}
	if !heapSet && limitChanged {
		cur := analyzeHeap(c)
		// A heap setting the spec does not show (valueFrom, envFrom, an options file) may be
		// anything: only a limit that does not shrink is safe then.
		if !cur.certain && (!hasLimit || limit.Cmp(oldLimit) < 0) {
			why := cannot
			if why == "" {
				why = "heap-unknown: the heap may be set where the spec does not show it"
			}
			return skip(c.Name, why+"; limit not lowered", true)
		}
		if heap := cur.effective(limitBytes); heap+nonHeap >= limitBytes {
			why := cannot
			if why == "" {
				why = "heap-exceeds-limit"
			}
			return skip(c.Name, fmt.Sprintf("%s: heap %s + non-heap %s >= limit %s",
				why, formatBytes(heap), formatBytes(nonHeap), limit), true)
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

// guaranteed reports whether a container's cpu and memory requests equal its limits (all set).
func guaranteed(c *corev1.Container) bool {
	for _, r := range [...]corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		l, ok1 := c.Resources.Limits[r]
		q, ok2 := c.Resources.Requests[r]
		if !ok1 || !ok2 || l.Cmp(q) != 0 {
			return false
		}
	}
	return true
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
	note            string // e.g. that -Xms was lowered
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

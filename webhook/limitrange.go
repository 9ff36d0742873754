package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The API server's LimitRanger validates pods after the mutating webhooks ran, so a limit we set
// outside a namespace's LimitRange gets the pod rejected. These functions keep memory limits and
// requests inside every LimitRange of the namespace, with the same comparisons LimitRanger makes
// (plugin/pkg/admission/limitranger: minConstraint, maxConstraint, limitRequestRatioConstraint).
// Defaults of a LimitRange need no handling when sizing: LimitRanger's mutating half runs before the
// webhooks (and again after them), and only fills in values that are missing. They matter when
// telling whether a pod is still the template a recommendation saw (staleRecommendation).

// memoryBounds are the tightest memory constraints of a namespace's LimitRanges for one kind of limit,
// and the default memory limits LimitRanger may have given a container that had none.
type memoryBounds struct {
	min, max, ratio *resource.Quantity
	defaults        []int64 // bytes
}

func (b memoryBounds) empty() bool { return b.min == nil && b.max == nil && b.ratio == nil }

// boundsFor merges the memory constraints of type typ (Container or Pod) of all LimitRanges.
func boundsFor(lrs []corev1.LimitRange, typ corev1.LimitType) memoryBounds {
	var b memoryBounds
	for i := range lrs {
		for j := range lrs[i].Spec.Limits {
			item := &lrs[i].Spec.Limits[j]
			if item.Type != typ {
				continue
			}
			if q, ok := item.Min[corev1.ResourceMemory]; ok && (b.min == nil || q.Cmp(*b.min) > 0) {
				b.min = &q
			}
			if q, ok := item.Max[corev1.ResourceMemory]; ok && (b.max == nil || q.Cmp(*b.max) < 0) {
				b.max = &q
			}
			if q, ok := item.MaxLimitRequestRatio[corev1.ResourceMemory]; ok && (b.ratio == nil || q.Cmp(*b.ratio) < 0) {
				b.ratio = &q
			}
			if q, ok := item.Default[corev1.ResourceMemory]; ok {
				b.defaults = append(b.defaults, q.Value())
			}
		}
	}
	return b
}

// check returns an error when LimitRanger would reject a limit and request (nil = not set).
func (b memoryBounds) check(limit, request *resource.Quantity) error {
	if b.min != nil {
		if request == nil {
			return fmt.Errorf("min %s needs a request", b.min)
		}
		if lessThan(*request, *b.min) {
			return fmt.Errorf("request %s below min %s", request, b.min)
		}
		if limit != nil && lessThan(*limit, *b.min) {
			return fmt.Errorf("limit %s below min %s", limit, b.min)
		}
	}
	if b.max != nil {
		if limit == nil {
			return fmt.Errorf("max %s needs a limit", b.max)
		}
		if lessThan(*b.max, *limit) {
			return fmt.Errorf("limit %s above max %s", limit, b.max)
		}
		if request != nil && lessThan(*b.max, *request) {
			return fmt.Errorf("request %s above max %s", request, b.max)
		}
	}
	if b.ratio != nil {
		if request == nil || request.IsZero() || limit == nil || limit.IsZero() {
			return fmt.Errorf("max limit/request ratio %s needs a limit and a request", b.ratio)
		}
		if ratioExceeds(*limit, *request, *b.ratio) {
			return fmt.Errorf("limit/request ratio above %s", b.ratio)
		}
	}
	return nil
}

// clamp moves a limit and request into the bounds: the limit into [min, max], the request up to
// min and up to limit/ratio, never above the limit. A nil request stays nil: the API server's
// defaulting sets a missing request to the limit, which satisfies every bound the limit does.
// A nil limit stays nil (LimitRanger then judges the request alone).
// It returns what it did (empty when nothing) and an error when no values satisfy the bounds.
func (b memoryBounds) clamp(limit, request *resource.Quantity) (what string, err error) {
	if b.empty() {
		return "", nil
	}
	if limit == nil {
		if b.min != nil && request != nil && lessThan(*request, *b.min) {
			*request = b.min.DeepCopy()
			what = "request raised to LimitRange min " + b.min.String()
		}
		if err := b.check(nil, request); err != nil {
			return "", fmt.Errorf("limitrange: %w", err)
		}
		return what, nil
	}
	if b.max != nil && lessThan(*b.max, *limit) {
		*limit = b.max.DeepCopy()
		what = "limit clamped to LimitRange max " + b.max.String()
	}
	if b.min != nil && lessThan(*limit, *b.min) {
		*limit = b.min.DeepCopy()
		what = "limit raised to LimitRange min " + b.min.String()
	}
	if request != nil {
		if b.min != nil && lessThan(*request, *b.min) {
			*request = b.min.DeepCopy()
			what = join(what, "request raised to LimitRange min "+b.min.String())
		}
		if b.ratio != nil && (request.IsZero() || ratioExceeds(*limit, *request, *b.ratio)) {
			if need, ok := minRequestForRatio(*limit, *b.ratio); ok {
				*request = need
				what = join(what, "request raised for LimitRange maxLimitRequestRatio "+b.ratio.String())
			}
		}
		if lessThan(*limit, *request) {
			*request = limit.DeepCopy()
		}
	} else {
		request = limit
	}
	if err := b.check(limit, request); err != nil {
		return "", fmt.Errorf("limitrange: %w", err)
	}
	return what, nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// lessThan compares like LimitRanger: in milli-units when no value overflows them.
func lessThan(a, b resource.Quantity) bool {
	av, bv := a.Value(), b.Value()
	if av <= resource.MaxMilliValue && bv <= resource.MaxMilliValue {
		return a.MilliValue() < b.MilliValue()
	}
	return av < bv
}

// ratioExceeds reports whether limit/request > ratio, computed as LimitRanger does.
func ratioExceeds(limit, request, ratio resource.Quantity) bool {
	l, r := limit.Value(), request.Value()
	if l <= resource.MaxMilliValue && r <= resource.MaxMilliValue && ratio.Value() <= resource.MaxMilliValue {
		l, r = limit.MilliValue(), request.MilliValue()
	}
	if r == 0 {
		return true
	}
	observed := float64(l) / float64(r)
	max := float64(ratio.Value())
	if ratio.Value() <= resource.MaxMilliValue {
		observed *= 1000
		max = float64(ratio.MilliValue())
	}
	return observed > max
}

// minRequestForRatio is the smallest request, rounded up to a whole MiB, that keeps limit/request
// within ratio; false when the ratio is below 1 (no request up to the limit satisfies it).
func minRequestForRatio(limit, ratio resource.Quantity) (resource.Quantity, bool) {
	if ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
		return resource.Quantity{}, false
	}
	lb := limit.Value()
	const mi = 1 << 20
	if ratio.Value() > 1<<30 || lb <= mi { // any request of a MiB (or the limit itself) will do
		return *resource.NewQuantity(min(lb, mi), resource.BinarySI), true
	}
	rm := ratio.MilliValue()
	// ceil(lb * 1000 / rm) without overflow for realistic sizes: divide first, then correct.
	need := lb / rm * 1000
	if rest := lb % rm; rest != 0 {
		need += (rest*1000 + rm - 1) / rm
	}
	need = (need + mi - 1) / mi * mi
	for i := 0; i < 4 && need <= lb; i++ {
		q := *resource.NewQuantity(need, resource.BinarySI)
		if !ratioExceeds(limit, q, ratio) {
			return q, true
		}
		need += mi
	}
	return limit.DeepCopy(), true
}

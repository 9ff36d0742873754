package sizing

import "sort"

// maxTheilSenPoints bounds the points a Theil-Sen fit uses (evenly subsampled): 24 points are
// 276 pairwise slopes, enough for a robust slope and cheap enough for 10,000 workloads a cycle.
const maxTheilSenPoints = 24

// theilSen returns the median of the pairwise slopes dy/dx of the points (xs strictly increasing).
// It tolerates up to ~29% outliers. buf is scratch space; the result is 0 for fewer than 2 points.
func theilSen(xs, ys []float64, buf []float64) (float64, []float64) {
	return theilSenN(xs, ys, buf, maxTheilSenPoints)
}

// theilSenN is theilSen with at most maxPts points.
func theilSenN(xs, ys []float64, buf []float64, maxPts int) (float64, []float64) {
	n := len(xs)
	if n < 2 {
		return 0, buf
	}
	idx := func(i int) int { return i }
	if n > maxPts {
		m := n
		n = maxPts
		idx = func(i int) int { return i * (m - 1) / (maxPts - 1) }
	}
	buf = buf[:0]
	for i := 0; i < n; i++ {
		xi, yi := xs[idx(i)], ys[idx(i)]
		for j := i + 1; j < n; j++ {
			if dx := xs[idx(j)] - xi; dx > 0 {
				buf = append(buf, (ys[idx(j)]-yi)/dx)
			}
		}
	}
	if len(buf) == 0 {
		return 0, buf
	}
	return medianInPlace(buf), buf
}

// medianInPlace returns the median of v, reordering v. The median of an even count is the mean
// of the two middle values.
func medianInPlace(v []float64) float64 {
	n := len(v)
	if n == 0 {
		return 0
	}
	k := n / 2
	hi := selectK(v, k)
	if n%2 == 1 {
		return hi
	}
	lo := v[0]
	for _, x := range v[:k] {
		lo = max(lo, x)
	}
	return (lo + hi) / 2
}

// selectK reorders v so that v[k] is the k-th smallest value and everything before it is not larger
// (Hoare's quickselect with a median-of-three pivot; deterministic).
func selectK(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// quantileInPlace returns the q-quantile (nearest rank, rounding up) of v, reordering v.
func quantileInPlace(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	k := int(q*float64(len(v))+0.999999) - 1
	k = min(max(k, 0), len(v)-1)
	return selectK(v, k)
}

// weightedMedian returns the lower weighted median of values with positive weights: the smallest
// value whose cumulative weight reaches half of the total. It is monotone: raising any value
// never lowers the result.
func weightedMedian(values, weights []float64) float64 {
	n := len(values)
	if n == 0 {
		return 0
	}
	order := make([]int, n)
	var total float64
	for i := range order {
		order[i] = i
		total += weights[i]
	}
	sort.SliceStable(order, func(a, b int) bool { return values[order[a]] < values[order[b]] })
	var acc float64
	for _, i := range order {
		acc += weights[i]
		if acc >= total/2 {
			return values[i]
		}
	}
	return values[order[n-1]]
}

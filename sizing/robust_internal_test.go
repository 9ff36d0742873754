package sizing

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSelectKAgreesWithSorting(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		v := make([]float64, 1+r.IntN(60))
		for j := range v {
			v[j] = float64(r.IntN(20)) // many ties
		}
		sorted := slices.Clone(v)
		slices.Sort(sorted)
		k := r.IntN(len(v))
		if got := selectK(slices.Clone(v), k); got != sorted[k] {
			t.Fatalf("selectK(%v, %d) = %v, want %v", v, k, got, sorted[k])
		}
		want := sorted[len(v)/2]
		if len(v)%2 == 0 {
			want = (sorted[len(v)/2-1] + sorted[len(v)/2]) / 2
		}
		if got := medianInPlace(slices.Clone(v)); got != want {
			t.Fatalf("median(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestTheilSenIgnoresOutliers(t *testing.T) {
	var xs, ys []float64
	for i := 0; i < 40; i++ {
		xs = append(xs, float64(i))
		ys = append(ys, 3*float64(i)+10)
	}
	// A quarter of the points are wild (a spike, a dip).
	for _, i := range []int{3, 7, 11, 19, 23, 29, 31, 37, 38, 39} {
		ys[i] = 1000 * float64(i%3-1)
	}
	g, _ := theilSen(xs, ys, nil)
	if g < 2.9 || g > 3.1 {
		t.Errorf("slope = %v, want about 3 despite outliers", g)
	}
}

func TestWeightedMedian(t *testing.T) {
	tests := map[string]struct {
		v, w []float64
		want float64
	}{
		"equal weights":             {v: []float64{5, 1, 3}, w: []float64{1, 1, 1}, want: 3},
		"a heavy value wins":        {v: []float64{5, 1, 3}, w: []float64{10, 1, 1}, want: 5},
		"the lower median on a tie": {v: []float64{1, 2}, w: []float64{1, 1}, want: 1},
		"one value":                 {v: []float64{7}, w: []float64{0.1}, want: 7},
	}
	for name, tt := range tests {
		if got := weightedMedian(tt.v, tt.w); got != tt.want {
			t.Errorf("%s: weightedMedian = %v, want %v", name, got, tt.want)
		}
	}
}

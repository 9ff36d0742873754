package backtest

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// chartSeries is one strategy's usage over time (the most of any pod per sample) and its limit.
type chartSeries struct {
	strategy Strategy
	limit    int64
	points   []point
}

// Chart geometry in SVG user units; the SVG scales to the page width.
const (
	chartW, chartH                       = 960, 240
	padLeft, padRight, padTop, padBottom = 64, 12, 10, 26
	// chartBuckets bounds the points drawn per line: the highest usage of each bucket, so that
	// peaks survive (one bucket per two units of width).
	chartBuckets = (chartW - padLeft - padRight) / 2
)

var chartColors = map[Strategy]string{Current: "#c2410c", HeadroomAgent: "#15803d"}

// svgChart draws usage under current and headroom+agent against their limits (solid) and alert
// lines (dashed, targetUtilization of the limit) from start to end.
func svgChart(id string, series []chartSeries, start, end time.Time, step time.Duration, tu float64) template.HTML {
	t0, t1 := start.UnixMilli(), end.UnixMilli()
	if t1 <= t0 {
		t1 = t0 + 1
	}
	var top float64
	for _, s := range series {
		top = max(top, float64(s.limit))
		for _, p := range s.points {
			top = max(top, p.v)
		}
	}
	yStep := niceStep(top * 1.05 / 4)
	yMax := math.Ceil(top*1.05/yStep) * yStep
	if yMax <= 0 {
		yMax, yStep = 1<<30, 1<<28
	}
	x := func(t int64) float64 {
		return padLeft + float64(t-t0)/float64(t1-t0)*(chartW-padLeft-padRight)
	}
	y := func(v float64) float64 { return padTop + (1-v/yMax)*(chartH-padTop-padBottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" id="%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title">`, id, chartW, chartH, id)
	fmt.Fprintf(&b, `<title id="%s-title">Usage under current and headroom+agent against their limits and alert lines</title>`, id)
	// Grid and axes.
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartW-padRight, y(v), y(v))
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, padLeft-6, y(v), axisBytes(v))
	}
	day := 24 * time.Hour
	for d := start.UTC().Truncate(day); !d.After(end); d = d.Add(day) {
		if d.Before(start) {
			continue
		}
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, x(d.UnixMilli()), x(d.UnixMilli()), padTop, chartH-padBottom)
		anchor := "middle" // labels at the edges stay inside the chart
		switch xd := x(d.UnixMilli()); {
		case xd > chartW-padRight-20:
			anchor = "end"
		case xd < padLeft+20:
			anchor = "start"
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x(d.UnixMilli()), chartH-8, anchor, d.Format("Jan 2"))
	}
	for _, s := range series {
		color := chartColors[s.strategy]
		if s.limit > 0 {
			l := float64(s.limit)
			for _, ln := range []struct {
				class string
				v     float64
			}{{"limit", l}, {"alert", tu * l}} {
				fmt.Fprintf(&b, `<line class="%s" data-strategy="%s" data-bytes="%.0f" stroke="%s" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`,
					ln.class, s.strategy, ln.v, color, padLeft, chartW-padRight, y(ln.v), y(ln.v))
			}
		}
		fmt.Fprintf(&b, `<path class="usage" data-strategy="%s" stroke="%s" d="%s"/>`, s.strategy, color, pathData(s.points, t0, t1, step, x, y))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and our own strategy names only
}

// pathData draws the points as one path, bucketed to chartBuckets (the highest of each bucket) and
// broken where samples are missing for more than two steps (no pod ran).
func pathData(pts []point, t0, t1 int64, step time.Duration, x func(int64) float64, y func(float64) float64) string {
	width := max((t1-t0)/chartBuckets, 1)
	var b strings.Builder
	var bucket int64 = math.MinInt64
	var bt int64
	var bv float64
	last := int64(math.MinInt64)
	gap := 2 * step.Milliseconds()
	flush := func(move bool) {
		if bucket == math.MinInt64 {
			return
		}
		if move {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		b.WriteString(strconv.FormatFloat(x(bt), 'f', 1, 64))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(y(bv), 'f', 1, 64))
	}
	move := true
	for _, p := range pts {
		k := (p.t - t0) / width
		broken := last != math.MinInt64 && p.t-last > gap
		if k != bucket || broken {
			flush(move)
			move = broken || bucket == math.MinInt64
			bucket, bt, bv = k, p.t, p.v
		} else if p.v > bv {
			bt, bv = p.t, p.v
		}
		last = p.t
	}
	flush(move)
	return b.String()
}

// niceStep rounds a raw tick step up to a power of two of MiB (64Mi, 128Mi, ... 1Gi, 2Gi), so that
// tick labels stay round in binary units.
func niceStep(raw float64) float64 {
	s := float64(1 << 20)
	for s < raw {
		s *= 2
	}
	return s
}

// axisBytes labels a tick: MiB below 1 GiB, GiB with up to one decimal above.
func axisBytes(v float64) string {
	if v >= 1<<30 {
		return strings.TrimSuffix(strconv.FormatFloat(v/(1<<30), 'f', 1, 64), ".0") + "Gi"
	}
	return strconv.FormatFloat(v/(1<<20), 'f', 0, 64) + "Mi"
}

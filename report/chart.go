package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/sizing"
)

// Chart geometry in SVG user units; the SVG scales to the page width.
const (
	chartW      = 960
	chartH      = 240
	chartLeft   = 62
	chartRight  = 12
	chartTop    = 10
	chartBottom = 28
)

// chart is one container's SVG chart: stacked RSS and cache over the window, the heap in use,
// and horizontal lines for the current limit, the recommended limit and the alert threshold.
type chart struct {
	W, H                  int
	Left, Right, Top, Bot float64
	YLabelX, XLabelY      float64
	RSS, Cache, Heap      string // path data; "" when there is nothing to draw
	Lines                 []chartLine
	YTicks, XTicks        []tick
	Empty                 bool
}

type chartLine struct {
	Class, Label string
	Bytes        int64
	Y            float64
}

type tick struct {
	Pos   float64
	Label string
}

func newChart(r Row, w Window, p PolicySummary) chart {
	c := chart{W: chartW, H: chartH, Left: chartLeft, Right: chartW - chartRight, Top: chartTop, Bot: chartH - chartBottom}
	c.YLabelX, c.XLabelY = c.Left-8, c.Bot+18
	if len(r.Series) == 0 || !w.End.After(w.Start) {
		c.Empty = true
		return c
	}
	var top int64
	for _, pt := range r.Series {
		top = max(top, pt.RSS+pt.Cache, pt.HeapUsed)
	}
	threshold := int64(p.TargetUtilization * float64(r.LimitBytes))
	top = max(top, r.LimitBytes, r.RecommendedLimitBytes, r.XmxBytes, r.RecommendedXmxBytes)
	step := yStep(top)
	ymax := (top/step + 1) * step
	if float64(ymax-top) < 0.04*float64(ymax) {
		ymax += step // keep a line at the top off the frame
	}
	start, end := w.Start.UnixMilli(), w.End.UnixMilli()
	x := func(t int64) float64 { return c.Left + (c.Right-c.Left)*float64(t-start)/float64(end-start) }
	y := func(v int64) float64 { return c.Bot - (c.Bot-c.Top)*float64(v)/float64(ymax) }

	// A gap of more than three bins (no pod ran) breaks the areas.
	bin := (end - start) / chartPoints
	if s := w.Step.Milliseconds(); s > bin {
		bin = s
	}
	var segs [][]Point
	for i, pt := range r.Series {
		if i == 0 || pt.T-r.Series[i-1].T > 3*bin {
			segs = append(segs, nil)
		}
		segs[len(segs)-1] = append(segs[len(segs)-1], pt)
	}
	var rss, cache, heap strings.Builder
	for _, seg := range segs {
		// Each bin is drawn as a step of its width, so a single point still shows.
		half := bin / 2
		area := func(b *strings.Builder, lower, upper func(Point) int64) {
			for i, pt := range seg {
				cmd := "L"
				if i == 0 {
					cmd = "M"
				}
				fmt.Fprintf(b, "%s%s %s L%s %s ", cmd, f1(x(pt.T-half)), f1(y(upper(pt))), f1(x(pt.T+half)), f1(y(upper(pt))))
			}
			for i := len(seg) - 1; i >= 0; i-- {
				pt := seg[i]
				fmt.Fprintf(b, "L%s %s L%s %s ", f1(x(pt.T+half)), f1(y(lower(pt))), f1(x(pt.T-half)), f1(y(lower(pt))))
			}
			b.WriteString("Z ")
		}
		area(&rss, func(Point) int64 { return 0 }, func(p Point) int64 { return p.RSS })
		area(&cache, func(p Point) int64 { return p.RSS }, func(p Point) int64 { return p.RSS + p.Cache })
		first := true
		for _, pt := range seg {
			if pt.HeapUsed <= 0 {
				first = true
				continue
			}
			cmd := "L"
			if first {
				cmd, first = "M", false
			}
			fmt.Fprintf(&heap, "%s%s %s ", cmd, f1(x(pt.T)), f1(y(pt.HeapUsed)))
		}
	}
	c.RSS, c.Cache, c.Heap = strings.TrimSpace(rss.String()), strings.TrimSpace(cache.String()), strings.TrimSpace(heap.String())

	if r.JVM && r.XmxBytes > 0 {
		c.Lines = append(c.Lines, chartLine{Class: "xmx-current", Label: "-Xmx now " + jvm.FormatSize(r.XmxBytes), Bytes: r.XmxBytes})
	}
	if r.JVM && r.RecommendedXmxBytes > 0 && r.RecommendedXmxBytes != r.XmxBytes {
		c.Lines = append(c.Lines, chartLine{Class: "xmx-recommended", Label: "recommended -Xmx " + jvm.FormatSize(r.RecommendedXmxBytes), Bytes: r.RecommendedXmxBytes})
	}
	if r.LimitBytes > 0 {
		c.Lines = append(c.Lines,
			chartLine{Class: "alert-threshold", Label: "alert line (" + percent(p.TargetUtilization) + " of the limit) " + approx(threshold), Bytes: threshold},
			chartLine{Class: "limit-current", Label: "current limit " + qty(r.LimitBytes), Bytes: r.LimitBytes})
	}
	if r.RecommendedLimitBytes > 0 {
		label := "recommended limit " + qty(r.RecommendedLimitBytes)
		if r.RecommendedLimitBytes == r.LimitBytes {
			label = "recommended limit: unchanged"
		}
		c.Lines = append(c.Lines, chartLine{Class: "limit-recommended", Label: label, Bytes: r.RecommendedLimitBytes})
	}
	for i := range c.Lines {
		c.Lines[i].Y = y(c.Lines[i].Bytes)
	}
	for v := int64(0); v <= ymax; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: y(v), Label: axisBytes(v)})
	}
	for _, t := range timeTicks(w.Start, w.End) {
		// A label centred on either edge would run into the y axis labels or off the chart.
		if pos := x(t.UnixMilli()); pos > c.Left+24 && pos < c.Right-24 {
			c.XTicks = append(c.XTicks, tick{Pos: pos, Label: timeLabel(t, w.End.Sub(w.Start))})
		}
	}
	return c
}

// yStep picks a round step for 3 to 6 grid lines up to top.
func yStep(top int64) int64 {
	steps := []int64{16 * sizing.Mi, 32 * sizing.Mi, 64 * sizing.Mi, 128 * sizing.Mi, 256 * sizing.Mi, 512 * sizing.Mi}
	for g := sizing.Gi; g < 1<<50; g *= 2 {
		steps = append(steps, g)
	}
	for _, s := range steps {
		if top/s < 6 {
			return s
		}
	}
	return steps[len(steps)-1]
}

func axisBytes(v int64) string {
	switch {
	case v == 0:
		return "0"
	case v%sizing.Gi == 0:
		return strconv.FormatInt(v/sizing.Gi, 10) + "Gi"
	case v >= sizing.Gi:
		return strconv.FormatFloat(float64(v)/float64(sizing.Gi), 'f', 1, 64) + "Gi"
	}
	return strconv.FormatInt(v/sizing.Mi, 10) + "Mi"
}

// timeTicks are round instants (UTC) within the window, at most eight.
func timeTicks(start, end time.Time) []time.Time {
	span := end.Sub(start)
	step := time.Hour
	for _, s := range []time.Duration{time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour} {
		step = s
		if span/s <= 8 {
			break
		}
	}
	var out []time.Time
	for t := start.UTC().Truncate(step); !t.After(end); t = t.Add(step) {
		if !t.Before(start) {
			out = append(out, t)
		}
	}
	return out
}

func timeLabel(t time.Time, span time.Duration) string {
	if span > 2*24*time.Hour || t.Hour() == 0 && t.Minute() == 0 {
		return t.UTC().Format("Jan 2")
	}
	return t.UTC().Format("15:04")
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

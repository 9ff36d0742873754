package backtest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/internal/browser"
)

// TestHTMLInARealBrowser renders three namespaces (one workload with two containers among them)
// and checks the page in headless Chromium: it loads nothing from elsewhere, fits the 1280px width,
// has one chart per container with both usage lines, both limits and both alert lines drawn inside
// the plot, shows the verdicts and the assumptions.
func TestHTMLInARealBrowser(t *testing.T) {
	r := report(t, true, "seed-jvm-logs", "jvm-without-heap-metrics", "too-little-history")
	var buf bytes.Buffer
	if err := backtest.WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"<script", "http://", "https://", "src="} {
		if strings.Contains(buf.String(), banned) {
			t.Errorf("the page must be self-contained, but it has %q", banned)
		}
	}
	containers := 0
	for _, ns := range r.Namespaces {
		for _, w := range ns.Workloads {
			containers += len(w.Containers)
		}
	}
	path := filepath.Join(t.TempDir(), "backtest.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := browser.Start(t)
	browser.Open(ctx, t, path)
	if got := browser.Eval[string](ctx, t, `document.title`); got != "headroom backtest" {
		browser.Errorf(ctx, t, "title %q", got)
	}
	if n := browser.Eval[int](ctx, t, `document.querySelectorAll("script[src], link[href], img[src], iframe, object").length +
		performance.getEntriesByType("resource").length`); n != 0 {
		browser.Errorf(ctx, t, "the page loaded %d resources; it must be self-contained", n)
	}
	if w := browser.Eval[int](ctx, t, `document.documentElement.scrollWidth`); w > browser.Width {
		browser.Errorf(ctx, t, "page is %dpx wide at a %dpx window: it scrolls sideways", w, browser.Width)
	}
	wide := browser.Eval[[]string](ctx, t, `[...document.querySelectorAll("table")].filter(t => t.getBoundingClientRect().right > innerWidth).map(t => t.className)`)
	if len(wide) > 0 {
		browser.Errorf(ctx, t, "tables overflow the window: %v", wide)
	}
	verdicts := browser.Eval[[]string](ctx, t, `[...document.querySelectorAll(".verdict")].filter(e => e.offsetHeight > 0).map(e => e.innerText)`)
	if len(verdicts) != len(r.Namespaces) {
		browser.Errorf(ctx, t, "%d visible verdicts for %d namespaces", len(verdicts), len(r.Namespaces))
	}
	for i, v := range verdicts {
		if !strings.Contains(v, r.Namespaces[i].Verdict) {
			browser.Errorf(ctx, t, "verdict %d shows %q, want %q", i, v, r.Namespaces[i].Verdict)
		}
	}
	type chart struct {
		Width, Height                  float64
		Usage, Limits, Alerts, Outside int
		UsageLengths                   []float64
		Strategies                     []string
		// Misplaced counts limit and alert lines drawn out of order: a line for more bytes must sit
		// higher on the screen.
		Misplaced int
	}
	charts := browser.Eval[[]chart](ctx, t, `[...document.querySelectorAll("svg.chart")].map(svg => {
		const box = svg.getBoundingClientRect();
		const plot = svg.viewBox.baseVal;
		const lines = [...svg.querySelectorAll("line.limit, line.alert")];
		return {
			Width: box.width, Height: box.height,
			Usage: svg.querySelectorAll("path.usage").length,
			Limits: svg.querySelectorAll("line.limit").length,
			Alerts: svg.querySelectorAll("line.alert").length,
			Outside: lines.filter(l => l.y1.baseVal.value < 0 || l.y1.baseVal.value > plot.height).length,
			UsageLengths: [...svg.querySelectorAll("path.usage")].map(p => p.getTotalLength()),
			Strategies: [...svg.querySelectorAll("path.usage")].map(p => p.dataset.strategy),
			Misplaced: (() => {
				const ls = lines.map(l => ({b: Number(l.dataset.bytes), y: l.getBoundingClientRect().top})).sort((a, b) => b.b - a.b);
				return ls.filter((l, i) => i > 0 && l.b < ls[i-1].b && l.y <= ls[i-1].y).length;
			})(),
		};
	})`)
	if len(charts) != containers {
		browser.Errorf(ctx, t, "%d charts for %d containers", len(charts), containers)
	}
	for i, c := range charts {
		if c.Width < 1000 || c.Height < 200 || c.Usage != 2 || c.Limits != 2 || c.Alerts != 2 || c.Outside != 0 || c.Misplaced != 0 ||
			strings.Join(c.Strategies, ",") != "current,headroom+agent" {
			browser.Errorf(ctx, t, "chart %d: %+v", i, c)
		}
		for _, l := range c.UsageLengths {
			if l < 10 { // a week of history is ~900 units; too-little-history's 10h about 60
				browser.Errorf(ctx, t, "chart %d: a usage line %.0f units long: nothing drawn", i, l)
			}
		}
	}
	if n := browser.Eval[int](ctx, t, `document.querySelectorAll("#assumptions li").length`); n != len(backtest.Assumptions) {
		browser.Errorf(ctx, t, "%d assumptions shown, want %d", n, len(backtest.Assumptions))
	}
	browser.Screenshot(ctx, t, "backtest")
}

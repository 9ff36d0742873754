package backtest

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page (no scripts, no external resources):
// per namespace the verdict and totals, per container the strategies and a chart of usage under
// current and headroom+agent against their limits and alert lines, and the model's assumptions.
// Charts need a report built with Options.Charts.
func WriteHTML(w io.Writer, r Report) error {
	data := htmlData{Report: r}
	for i, ns := range r.Namespaces {
		hn := htmlNamespace{Namespace: ns, ID: "ns-" + strconv.Itoa(i)}
		for j, wl := range ns.Workloads {
			hw := htmlWorkload{WorkloadResult: wl, ID: fmt.Sprintf("%s-w%d", hn.ID, j)}
			for k, c := range wl.Containers {
				hc := htmlContainer{ContainerResult: c}
				if len(c.charts) > 0 {
					hc.Chart = svgChart(fmt.Sprintf("%s-c%d", hw.ID, k), c.charts, ns.Start, ns.End, r.Settings.step, r.Settings.TargetUtilization)
				}
				hw.Containers = append(hw.Containers, hc)
			}
			hn.Workloads = append(hn.Workloads, hw)
		}
		data.Namespaces = append(data.Namespaces, hn)
	}
	if err := page.Execute(w, data); err != nil {
		return fmt.Errorf("write backtest html: %w", err)
	}
	return nil
}

type htmlData struct {
	Report
	Namespaces []htmlNamespace
}

type htmlNamespace struct {
	Namespace
	ID        string
	Workloads []htmlWorkload
}

type htmlWorkload struct {
	WorkloadResult
	ID         string
	Containers []htmlContainer
}

type htmlContainer struct {
	ContainerResult
	Chart template.HTML
}

var page = template.Must(template.New("backtest").Funcs(template.FuncMap{
	"size":    Size,
	"xmx":     Xmx,
	"minutes": Minutes,
	"percent": Percent,
	"date":    func(t time.Time) string { return t.Format("2006-01-02 15:04 MST") },
	"color":   func(s Strategy) string { return chartColors[s] },
	"plural": func(n any, word string) string {
		if n == 1 || n == 1.0 {
			return word
		}
		return word + "s"
	},
	"assumptions": func() []string {
		return Assumptions
	},
}).Parse(pageTemplate))

const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>headroom backtest</title>
<style>
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg-soft: #f9fafb; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 6px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 24px 0 4px; }
h4 { font-size: 13px; margin: 12px 0 4px; font-weight: 600; color: var(--muted); }
p { margin: 4px 0; }
.muted { color: var(--muted); }
.verdict { margin: 10px 0; padding: 10px 14px; background: #ecfdf5; border-left: 4px solid #15803d; font-size: 15px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 8px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { font-weight: 600; background: var(--bg-soft); font-size: 12px; }
th:first-child, td:first-child, td.note, th.note { text-align: left; }
td.note { white-space: normal; color: var(--muted); }
tr.headroom-agent td { font-weight: 600; }
.swatch { display: inline-block; width: 18px; height: 0; border-top: 3px solid; vertical-align: middle; margin-right: 4px; }
.swatch.dashed { border-top-style: dashed; border-top-width: 2px; }
figure { margin: 4px 0 16px; }
figcaption { font-size: 12px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 16px; }
svg.chart { display: block; width: 100%; height: auto; background: #fff; border: 1px solid var(--line); }
svg.chart .grid { stroke: #eef0f3; stroke-width: 1; vector-effect: non-scaling-stroke; }
svg.chart .tick { fill: var(--muted); font-size: 11px; }
svg.chart .usage { fill: none; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg.chart .limit { stroke-width: 1.5; opacity: .9; vector-effect: non-scaling-stroke; }
svg.chart .alert { stroke-width: 1.2; stroke-dasharray: 6 4; opacity: .8; vector-effect: non-scaling-stroke; }
ul.assumptions li { margin: 4px 0; }
</style>
</head>
<body>
<header>
<h1>headroom backtest</h1>
<p class="muted">History replayed under each strategy. Alert line {{percent .Settings.TargetUtilization}} of the limit; headroom sized for a {{.Settings.Horizon}} horizon, headroom+agent for {{.Settings.AgentHorizon}}, with the agent reclaiming above {{percent .Settings.AgentThreshold}} down to {{percent .Settings.AgentTarget}}, at most every {{.Settings.AgentMinInterval}} per pod. Step {{.Settings.Step}}.</p>
</header>
<main>
{{range .Namespaces}}
<section class="namespace" id="{{.ID}}">
<h2>Namespace {{.Name}}</h2>
<p class="muted">{{date .Start}} to {{date .End}}</p>
{{if .Verdict}}<p class="verdict"><strong>Verdict:</strong> {{.Verdict}}.</p>{{end}}
{{if .Workloads}}
<table class="totals">
<thead><tr><th>strategy</th><th>reserved</th><th>OOM-risk min</th><th>alert min (usage)</th><th>alert min (working set)</th><th>reclaims</th></tr></thead>
<tbody>
{{range .Totals}}<tr class="{{if eq .Strategy "headroom+agent"}}headroom-agent{{end}}"><td>{{.Strategy}}</td><td>{{size .Reserved}}</td><td>{{minutes .OOMRiskMinutes}}</td><td>{{minutes .AlertUsageMinutes}}</td><td>{{minutes .AlertWorkingSetMinutes}}</td><td>{{.Reclaims}}</td></tr>
{{end}}</tbody>
</table>
{{else}}<p>No containers with history.</p>{{end}}
{{range .Workloads}}
<article class="workload" id="{{.ID}}">
<h3>{{.Kind}}/{{.Name}}</h3>
{{range .Containers}}
<h4>container {{.Name}}: {{.Replicas}} {{plural .Replicas "replica"}} at once, {{.Pods}} {{plural .Pods "pod"}} in the window</h4>
<table class="outcomes">
<thead><tr><th>strategy</th><th>limit</th><th>request</th><th>-Xmx</th><th>reserved</th><th>OOM-risk min</th><th>alert min (usage)</th><th>alert min (working set)</th><th>reclaims</th><th class="note">note</th></tr></thead>
<tbody>
{{range .Outcomes}}<tr class="{{if eq .Strategy "headroom+agent"}}headroom-agent{{end}}"><td>{{.Strategy}}</td><td>{{size .Limit}}</td><td>{{size .Request}}</td><td>{{xmx .Xmx}}</td><td>{{size .Reserved}}</td><td>{{minutes .OOMRiskMinutes}}</td><td>{{minutes .AlertUsageMinutes}}</td><td>{{minutes .AlertWorkingSetMinutes}}</td><td>{{.Reclaims}}</td><td class="note">{{.Note}}</td></tr>
{{end}}</tbody>
</table>
{{if .Chart}}<figure>
{{.Chart}}
<figcaption><span><i class="swatch" style="border-color: {{color "current"}}"></i>usage under current (highest pod)</span><span><i class="swatch" style="border-color: {{color "headroom+agent"}}"></i>usage under headroom+agent (highest pod)</span><span>solid: limit</span><span><i class="swatch dashed" style="border-color: var(--muted)"></i>alert line ({{percent $.Settings.TargetUtilization}} of the limit)</span></figcaption>
</figure>{{end}}
{{end}}
</article>
{{end}}
</section>
{{end}}
<section id="assumptions">
<h2>How the replay works</h2>
<p class="muted">What the replay assumes (docs/backtest.md explains each).</p>
<ul class="assumptions">
{{range assumptions}}<li>{{.}}</li>
{{end}}</ul>
</section>
</main>
</body>
</html>
`

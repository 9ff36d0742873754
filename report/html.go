package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"approx":  approx,
	"qty":     qty,
	"percent": percent,
	"f1":      f1,
}).Parse(pageTemplate))

// htmlPage is what the template renders.
type htmlPage struct {
	Title      string
	Meta       string
	Report     *Report
	Namespaces []htmlNamespace
	Total      *Summary
	Rows       []htmlRow
	Actions    []ActionMeaning
	HowTo      []string
	Alert      string
	// Multi: more than one namespace (a namespace column and a table of namespaces).
	Multi bool
	Top   htmlSummary
}

// htmlSummary is the headline tiles: one namespace, or all of them.
type htmlSummary struct {
	Summary
	Name, Mode, Meaning string
}

type htmlNamespace struct {
	NamespaceReport
	Meaning string
}

type htmlRow struct {
	Row
	ID, Key, Workload               string
	LimitText, XmxText, RequestText string
	RiskText, RiskAfterText         string
	RiskValue, RiskAfterValue       string
	XmxWhereText, GrowthText        string
	GrowthValue                     int64
	Facts                           []fact
	Chart                           chart
	ChartLabel                      string
}

type fact struct{ Label, Value string }

// ActionMeaning is one action and what it means, for the page's legend.
type ActionMeaning struct{ Name, Meaning string }

// ActionMeanings says what each action means, in the order the docs list them.
var ActionMeanings = []ActionMeaning{
	{ActionRaise, "the limit goes up (by more than the change threshold): cache or RSS needs more room"},
	{ActionLower, "the limit goes down, or a limit is added where there was none"},
	{ActionXmxOnly, "the limit stays; -Xmx changes (and maybe the request)"},
	{ActionRequestOnly, "only the memory request (what the scheduler reserves) changes"},
	{ActionKeep, "the computed values are within the change threshold of today's: nothing changes"},
	{ActionOptedOut, "the namespace, the workload or the container is off: headroom leaves it alone"},
	{ActionNoHistory, "less history than the policy's minHistory: nothing changes yet"},
	{ActionCannotRewrite, "the webhook cannot apply the recommended -Xmx to this pod spec (set it by hand)"},
}

// WriteHTML writes the report as one self-contained HTML page: no external scripts, styles or
// fonts. It has the summary, a sortable table and per container an SVG chart.
func WriteHTML(w io.Writer, r *Report) error {
	p := htmlPage{Report: r, Actions: ActionMeanings, Alert: percent(r.Policy.TargetUtilization)}
	var names []string
	for _, ns := range r.Namespaces {
		names = append(names, ns.Name)
		p.Namespaces = append(p.Namespaces, htmlNamespace{NamespaceReport: ns, Meaning: modeMeaning[ns.Mode]})
	}
	p.Top = htmlSummary{Summary: r.Summary, Name: "All namespaces"}
	switch len(names) {
	case 0:
		p.Title = "headroom report"
	case 1:
		p.Title = "headroom report · " + names[0]
		ns := r.Namespaces[0]
		p.Top = htmlSummary{Summary: ns.Summary, Name: ns.Name, Mode: cmpOr(string(ns.Mode), "unknown"), Meaning: modeMeaning[ns.Mode]}
	default:
		p.Title = fmt.Sprintf("headroom report · %d namespaces", len(names))
		p.Multi = true
	}
	p.Meta = fmt.Sprintf("History %s to %s (%s) · alert line at %s of the limit · cache horizon %s · generated %s",
		r.Window.Start.Format("2006-01-02 15:04"), r.Window.End.Format("2006-01-02 15:04 MST"), r.Policy.Lookback,
		percent(r.Policy.TargetUtilization), r.Policy.Horizon, r.GeneratedAt.Format("2006-01-02 15:04 MST"))
	p.HowTo = howToParagraphs(r.Policy)
	n := 0
	for _, ns := range r.Namespaces {
		for _, row := range ns.Rows {
			n++
			p.Rows = append(p.Rows, newHTMLRow(n, row, r))
		}
	}
	return page.Execute(w, p)
}

func newHTMLRow(n int, r Row, rep *Report) htmlRow {
	cells := tableCells(r)
	for i, c := range cells {
		if c == "-" {
			cells[i] = "–"
		}
	}
	h := htmlRow{
		Row: r, ID: "c" + strconv.Itoa(n), Key: r.Namespace + "/" + r.Kind + "/" + r.Workload + "/" + r.Container,
		Workload: cells[0], LimitText: cells[4], XmxText: cells[5], RequestText: cells[6],
		RiskText: "–", RiskAfterText: "–", GrowthText: cells[9], GrowthValue: r.CacheGrowthBytesPerDay,
		Chart: newChart(r, rep.Window, rep.Policy),
	}
	if r.model.PlateauKnown {
		h.GrowthValue = 0 // "flat" sorts with no growth
	}
	h.ChartLabel = fmt.Sprintf("Memory of %s container %s over the window", h.Workload, r.Container)
	if r.Risk != nil {
		h.RiskText, h.RiskValue = percent(*r.Risk), strconv.FormatFloat(*r.Risk, 'f', 3, 64)
	}
	if r.RiskRecommended != nil {
		h.RiskAfterText, h.RiskAfterValue = percent(*r.RiskRecommended), strconv.FormatFloat(*r.RiskRecommended, 'f', 3, 64)
	}
	add := func(label, value string) {
		if value != "" {
			h.Facts = append(h.Facts, fact{label, value})
		}
	}
	if r.JVM {
		if r.XmxBytes > 0 {
			h.XmxWhereText = "set in " + r.XmxWhere
		} else {
			h.XmxWhereText = r.XmxWhere
		}
	}
	if r.Pods > 0 {
		add("RSS peak / now", approx(r.RSSPeakBytes)+" / "+approx(r.RSSNowBytes))
		add("cache peak / now", approx(r.CachePeakBytes)+" / "+approx(r.CacheNowBytes))
		switch {
		case r.model.PlateauKnown:
			add("cache levels off at", approx(r.model.Plateau))
		case r.CacheGrowthBytesPerDay > 0:
			add("cache growth", approx(r.CacheGrowthBytesPerDay)+" per day")
		}
		if r.ActiveFilePeakBytes > 0 {
			add("active file peak", approx(r.ActiveFilePeakBytes))
		}
		if r.HeapUsedPeakBytes > 0 {
			add("heap used / committed peak", approx(r.HeapUsedPeakBytes)+" / "+approx(r.HeapCommittedPeakBytes))
		}
		if r.LimitBound {
			add("cache", "limit-bound (usage sat at the limit)")
		}
		if r.OOMKills > 0 {
			add("OOM kills", strconv.Itoa(r.OOMKills))
		}
		add("history", fmt.Sprintf("%d %s, %dh", r.Pods, plural(r.Pods, "pod", "pods"), r.HistoryHours))
	}
	add("replicas", strconv.Itoa(r.Replicas))
	add("mode", string(r.Mode))
	add("current spec from", r.SpecSource)
	return h
}

func howToParagraphs(p PolicySummary) []string {
	tu := percent(p.TargetUtilization)
	return []string{
		"RSS is the memory a process holds for itself. The kernel cannot take it back: when RSS reaches the container's limit, the container is OOM-killed.",
		"Page cache is file data — logs being written, files being read — that the kernel keeps in memory nobody else is using, and drops as soon as memory is needed. " +
			"It fills any limit without harm, but the usual \"% of the limit\" alerts, dashboards and kubectl top count it, so a pod whose cache is at the limit alerts while nothing is wrong. " +
			"When usage sits at the limit the kernel is reclaiming cache, and the cache seen is limit-bound: with more room it would grow further.",
		"A Java process's RSS follows its -Xmx, not the heap it uses: the JVM grows its heap towards -Xmx and does not give it back. A mostly empty heap with a large -Xmx wastes memory that page cache could use.",
		"Risk is RSS plus the page cache expected over the next " + p.Horizon + ", as a share of the limit: above " + tu + " (the alert line) the pod alerts. " +
			"headroom sizes the limit so that this stays under " + tu + ", and lowers -Xmx when heap metrics show the heap is mostly empty.",
		"In each chart the blue area is RSS and the amber area above it is page cache: together they are what the alert sees. " +
			"The dark line is the current limit, the red dotted line the alert line, and the green dashed line the limit headroom recommends. " +
			"For a JVM the purple lines are -Xmx now (solid) and recommended (dashed), and the purple dots the heap actually in use.",
	}
}

// RiskClass marks the risk now: over the alert line or not.
func (h htmlRow) RiskClass() string {
	switch {
	case h.Risk == nil:
		return ""
	case h.AtRisk:
		return "bad"
	}
	return "ok"
}

// RiskAfterClass marks the risk after the change.
func (h htmlRow) RiskAfterClass(target float64) string {
	switch {
	case h.RiskRecommended == nil:
		return ""
	case *h.RiskRecommended > target:
		return "bad"
	}
	return "ok"
}

// ActionClass is the CSS class of the action's badge.
func (h htmlRow) ActionClass() string { return "action-" + strings.ToLower(h.Action) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

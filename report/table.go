package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
)

// TableOptions control the terminal table.
type TableOptions struct {
	// Color adds ANSI colours (the caller decides: stdout is a terminal and NO_COLOR is unset).
	Color bool
	// Width is where explanations wrap (default 120).
	Width int
}

// ANSI SGR sequences.
const (
	sgrBold   = "\x1b[1m"
	sgrDim    = "\x1b[2m"
	sgrRed    = "\x1b[31m"
	sgrGreen  = "\x1b[32m"
	sgrYellow = "\x1b[33m"
	sgrCyan   = "\x1b[36m"
	sgrReset  = "\x1b[0m"
)

// shortKinds are kubectl's short names, to keep the workload column narrow.
var shortKinds = map[string]string{
	"Deployment": "deploy", "StatefulSet": "sts", "DaemonSet": "ds", "ReplicaSet": "rs",
	"CronJob": "cj", "Job": "job", "Pod": "pod",
}

// WriteTable writes the report as aligned text: per namespace a summary and one line per
// container (riskiest first), each followed by where its -Xmx lives and a plain-words
// explanation wrapped at the width.
func WriteTable(w io.Writer, r *Report, o TableOptions) error {
	if o.Width <= 0 {
		o.Width = 120
	}
	t := &tableWriter{w: w, o: o}
	t.printf("%s\n", t.c(sgrBold, "headroom dry-run report"))
	t.printf("history %s to %s (%s) · alert line %s of the limit · cache horizon %s\n",
		r.Window.Start.Format("2006-01-02 15:04"), r.Window.End.Format("2006-01-02 15:04 MST"), r.Policy.Lookback,
		percent(r.Policy.TargetUtilization), r.Policy.Horizon)
	for _, ns := range r.Namespaces {
		t.printf("\n")
		t.namespace(ns)
	}
	if len(r.Namespaces) > 1 {
		t.printf("\n%s %s\n", t.c(sgrBold, "ALL NAMESPACES"), summaryLine(r.Summary))
		t.printf("%s\n", memoryLine(r.Summary))
	}
	if len(r.Namespaces) == 0 {
		t.printf("\nNo workloads with memory history or manifests in the window.\n")
	}
	t.printf("\n%s\n%s\n", t.c(sgrBold, "HOW TO READ THIS"), t.wrap(HowToRead(r.Policy), 2))
	return t.err
}

type tableWriter struct {
	w   io.Writer
	o   TableOptions
	err error
}

func (t *tableWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// c colours s when colour is on.
func (t *tableWriter) c(sgr, s string) string {
	if !t.o.Color || s == "" {
		return s
	}
	return sgr + s + sgrReset
}

func summaryLine(s Summary) string {
	return fmt.Sprintf("%d %s, %d %s · %d at risk · %d changing · %d opted out · %d without history",
		s.Workloads, plural(s.Workloads, "workload", "workloads"), s.Containers, plural(s.Containers, "container", "containers"),
		s.AtRisk, s.Changing, s.OptedOut, s.NoHistory)
}

func memoryLine(s Summary) string {
	return fmt.Sprintf("memory requested (× replicas) %s -> %s · limits %s -> %s",
		approx(s.RequestsNowBytes), approx(s.RequestsRecommendedBytes), approx(s.LimitsNowBytes), approx(s.LimitsRecommendedBytes))
}

var modeMeaning = map[mode.Mode]string{
	mode.Enforce: "the webhook applies changes to new pods",
	mode.DryRun:  "the webhook only annotates pods with what it would change",
	mode.Off:     "headroom leaves the namespace alone",
}

func (t *tableWriter) namespace(ns NamespaceReport) {
	m := ns.Mode
	if m == "" {
		m = "unknown"
	}
	t.printf("%s %s · mode %s", t.c(sgrBold, "NAMESPACE"), t.c(sgrBold, ns.Name), m)
	if m := modeMeaning[ns.Mode]; m != "" {
		t.printf(" (%s)", m)
	}
	t.printf("\n%s\n%s\n", summaryLine(ns.Summary), memoryLine(ns.Summary))
	if len(ns.Rows) == 0 {
		return
	}
	// RSS, CACHE and HEAP are peaks over the window (the footer says so); CACHE/D is cache growth per day.
	header := []string{"WORKLOAD", "CONTAINER", "ACTION", "RISK", "LIMIT", "XMX", "REQUEST", "RSS", "CACHE", "CACHE/D", "HEAP"}
	cells := make([][]string, len(ns.Rows))
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for i, r := range ns.Rows {
		cells[i] = tableCells(r)
		for j, c := range cells[i] {
			widths[j] = max(widths[j], utf8.RuneCountInString(c))
		}
	}
	t.printf("\n")
	t.line(header, widths, func(int, string) string { return sgrBold })
	for i, r := range ns.Rows {
		t.line(cells[i], widths, func(col int, _ string) string {
			switch col {
			case 2:
				return actionColor[r.Action]
			case 3:
				if r.AtRisk {
					return sgrRed
				}
			}
			return ""
		})
		if d := details(r); d != "" {
			t.printf("%s\n", t.c(sgrDim, t.wrap(d, 4)))
		}
		if r.Explanation != "" {
			t.printf("%s\n", t.wrap(r.Explanation, 4))
		}
	}
}

var actionColor = map[string]string{
	ActionRaise: sgrYellow, ActionLower: sgrCyan, ActionXmxOnly: sgrCyan, ActionRequestOnly: sgrCyan,
	ActionKeep: sgrGreen, ActionOptedOut: sgrDim, ActionNoHistory: sgrDim, ActionCannotRewrite: sgrRed,
}

// line prints cells padded to the widths (padding outside the colour, so colour does not
// disturb the alignment); the last column is not padded.
func (t *tableWriter) line(cells []string, widths []int, color func(col int, s string) string) {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(t.c(color(i, c), c))
		if i < len(cells)-1 {
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		}
	}
	t.printf("%s\n", strings.TrimRight(b.String(), " "))
}

// wrap breaks text into lines of at most the table width, each indented.
func (t *tableWriter) wrap(text string, indent int) string {
	pad := strings.Repeat(" ", indent)
	limit := t.o.Width - indent
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(text) {
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+1+utf8.RuneCountInString(word) > limit {
			lines = append(lines, pad+cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, pad+cur.String())
	}
	return strings.Join(lines, "\n")
}

func tableCells(r Row) []string {
	kind := shortKinds[r.Kind]
	if kind == "" {
		kind = strings.ToLower(r.Kind)
	}
	dash := func(n int64, f func(int64) string) string {
		if n <= 0 {
			return "-"
		}
		return f(n)
	}
	change := func(from, to int64, f func(int64) string) string {
		a, b := dash(from, f), dash(to, f)
		if from == to || to == 0 {
			return a
		}
		return a + "→" + b
	}
	risk := "-"
	if r.Risk != nil {
		risk = percent(*r.Risk)
		if r.RiskRecommended != nil && (r.RecommendedLimitBytes != r.LimitBytes || r.RecommendedXmxBytes != r.XmxBytes) &&
			r.Action != ActionOptedOut {
			risk += "→" + percent(*r.RiskRecommended)
		}
	}
	growth := "-"
	switch {
	case r.model.PlateauKnown:
		growth = "flat"
	case r.CacheGrowthBytesPerDay > 0:
		growth = "+" + approx(r.CacheGrowthBytesPerDay)
	}
	xmx := "-"
	if r.JVM {
		xmx = change(r.XmxBytes, r.RecommendedXmxBytes, jvm.FormatSize)
		if r.XmxBytes == 0 && r.RecommendedXmxBytes == 0 {
			xmx = "none"
		}
	}
	return []string{
		kind + "/" + r.Workload,
		r.Container,
		r.Action,
		risk,
		change(r.LimitBytes, r.RecommendedLimitBytes, qty),
		xmx,
		change(r.RequestBytes, r.RecommendedRequestBytes, qty),
		dash(r.RSSPeakBytes, approx),
		dash(r.CachePeakBytes, approx),
		growth,
		dash(r.HeapUsedPeakBytes, approx),
	}
}

// details is the line of facts under a row that do not fit the columns.
func details(r Row) string {
	var d []string
	if r.JVM && r.XmxWhere != "" {
		if r.XmxBytes > 0 {
			d = append(d, "-Xmx "+jvm.FormatSize(r.XmxBytes)+" set in "+r.XmxWhere)
		} else {
			d = append(d, "heap "+r.XmxWhere)
		}
	}
	if r.Pods > 0 {
		d = append(d, fmt.Sprintf("cache now %s", approx(r.CacheNowBytes)))
		if r.ActiveFilePeakBytes > 0 {
			d = append(d, "active file peak "+approx(r.ActiveFilePeakBytes))
		}
		if r.HeapCommittedPeakBytes > 0 {
			d = append(d, "heap committed peak "+approx(r.HeapCommittedPeakBytes))
		}
		if r.LimitBound {
			d = append(d, "cache limit-bound")
		}
		d = append(d, fmt.Sprintf("%d %s, %dh of history", r.Pods, plural(r.Pods, "pod", "pods"), r.HistoryHours))
	}
	d = append(d, "mode "+string(r.Mode), "spec from "+r.SpecSource)
	return strings.Join(d, " · ")
}

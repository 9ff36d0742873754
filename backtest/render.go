package backtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/headroom-dev/headroom/jvm"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write backtest json: %w", err)
	}
	return nil
}

// WriteTable writes the report as text: per namespace, one row per container and strategy, the
// totals per strategy and the verdict.
func WriteTable(w io.Writer, r Report) error {
	s := r.Settings
	ew := &errWriter{w: w}
	for k, ns := range r.Namespaces {
		if k > 0 {
			fmt.Fprintln(ew)
		}
		fmt.Fprintf(ew, "Namespace %s: %s to %s, step %s. Alert line %s of the limit; agent at %s, down to %s, at most every %s per pod; headroom+agent sized for a %s horizon.\n",
			ns.Name, ns.Start.Format("2006-01-02T15:04Z"), ns.End.Format("2006-01-02T15:04Z"), s.Step,
			Percent(s.TargetUtilization), Percent(s.AgentThreshold), Percent(s.AgentTarget), s.AgentMinInterval, s.AgentHorizon)
		if len(ns.Workloads) == 0 {
			fmt.Fprintln(ew, "No containers with history.")
			continue
		}
		fmt.Fprintln(ew)
		table(ew, func(tw io.Writer) {
			fmt.Fprintln(tw, "WORKLOAD\tCONTAINER\tSTRATEGY\tLIMIT\tREQUEST\tXMX\tREPLICAS\tRESERVED\tOOM-RISK MIN\tALERT MIN (USAGE)\tALERT MIN (WS)\tRECLAIMS\tNOTE")
			for _, wl := range ns.Workloads {
				for _, c := range wl.Containers {
					for i, o := range c.Outcomes {
						name, cname, reps := "", "", ""
						if i == 0 {
							name, cname, reps = wl.Kind+"/"+wl.Name, c.Name, strconv.FormatFloat(c.Replicas, 'f', -1, 64)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", name, cname, o.Strategy,
							Size(o.Limit), Size(o.Request), Xmx(o.Xmx), reps, Size(o.Reserved), Minutes(o.OOMRiskMinutes),
							Minutes(o.AlertUsageMinutes), Minutes(o.AlertWorkingSetMinutes), o.Reclaims, o.Note)
					}
				}
			}
		})
		fmt.Fprintln(ew)
		table(ew, func(tw io.Writer) {
			fmt.Fprintf(tw, "TOTAL %s\tRESERVED\tOOM-RISK MIN\tALERT MIN (USAGE)\tALERT MIN (WS)\tRECLAIMS\n", ns.Name)
			for _, t := range ns.Totals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", t.Strategy, Size(t.Reserved), Minutes(t.OOMRiskMinutes),
					Minutes(t.AlertUsageMinutes), Minutes(t.AlertWorkingSetMinutes), t.Reclaims)
			}
		})
		fmt.Fprintf(ew, "\nVerdict: %s.\n", ns.Verdict)
	}
	return ew.err
}

// Size formats bytes in whole MiB, so that strategies compare at a glance; "-" for none.
func Size(n int64) string {
	if n <= 0 {
		return "-"
	}
	return strconv.FormatInt((n+(1<<19))>>20, 10) + "Mi"
}

// Xmx formats a heap size as the JVM spells it; "-" for none.
func Xmx(n int64) string {
	if n <= 0 {
		return "-"
	}
	return jvm.FormatSize(n)
}

// Percent formats a fraction as a percentage ("80%").
func Percent(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(100*f, 'f', 1, 64), ".0") + "%"
}

// table writes rows through a tabwriter and then w, without the spaces tabwriter pads before an
// empty last cell (the note).
func table(w io.Writer, rows func(tw io.Writer)) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	rows(tw)
	tw.Flush() // writes to a bytes.Buffer cannot fail
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		body, nl := strings.CutSuffix(line, "\n")
		io.WriteString(w, strings.TrimRight(body, " "))
		if nl {
			io.WriteString(w, "\n")
		}
	}
}

// errWriter keeps the first write error so that the renderers can write freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

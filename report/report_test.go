package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

// scenarioInput builds the report input of a committed scenario the way `headroom report -f`
// does: history from the generated OpenMetrics, current specs as the generated manifests say
// (the JVM started by `sh -c 'exec java $JAVA_OPTS -jar ...'`).
func scenarioInput(t *testing.T, name string) Input {
	t.Helper()
	spec, err := scenario.Load(filepath.Join("..", "testdata", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var om bytes.Buffer
	if err := scenario.Write(&om, spec); err != nil {
		t.Fatal(err)
	}
	f, err := history.ReadFile(&om, history.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := sizing.Default()
	w, err := history.NewWindow(f.End(), p.Lookback.D(), history.DefaultStep(p.Lookback.D()))
	if err != nil {
		t.Fatal(err)
	}
	h, err := f.Load(context.Background(), spec.Namespace, w)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{GeneratedAt: w.End, Window: Window{Start: w.Start, End: w.End, Step: w.Step}, Policy: p}
	ns := NamespaceInput{Name: spec.Namespace, Mode: mode.DryRun}
	for _, swl := range spec.Workloads {
		wl := WorkloadInput{Kind: swl.Kind, Name: swl.Name, Replicas: swl.Replicas}
		hw := h.Workload(swl.Kind, swl.Name)
		for _, sc := range swl.Containers {
			ci := ContainerInput{Name: sc.Name, Source: SourceManifest}
			if hw != nil {
				if c := hw.Container(sc.Name); c != nil {
					ci.History = *c
				}
			}
			cur := sizing.Current{Limit: int64(sc.Limit), Request: int64(sc.Request)}
			if cur.Request == 0 {
				cur.Request = cur.Limit
			}
			jc := jvm.Container{}
			if sc.JVM != nil {
				jc = jvm.Container{
					Command: []string{"/bin/sh", "-c", "exec java $JAVA_OPTS -jar /opt/app.jar"},
					Env:     []jvm.EnvVar{{Name: "JAVA_OPTS", Value: "-Xmx" + jvm.FormatSize(int64(sc.JVM.Xmx)) + " -XX:+UseG1GC"}},
				}
				cur.JVM, cur.Xmx = true, int64(sc.JVM.Xmx)
			}
			ci.Current, ci.JVM = &cur, &jc
			wl.Containers = append(wl.Containers, ci)
		}
		ns.Workloads = append(ns.Workloads, wl)
	}
	in.Namespaces = []NamespaceInput{ns}
	return in
}

func onlyRow(t *testing.T, r *Report) Row {
	t.Helper()
	if len(r.Namespaces) != 1 || len(r.Namespaces[0].Rows) != 1 {
		t.Fatalf("want one row, report has %+v", r.Namespaces)
	}
	return r.Namespaces[0].Rows[0]
}

func TestActions(t *testing.T) {
	tests := map[string]struct {
		scenario  string
		container string // the row to check ("" when there is one)
		edit      func(*Input)
		action    string
		mode      mode.Mode
		explain   []string // phrases the explanation must have
	}{
		"the seed's limit goes up and -Xmx down": {
			scenario: "seed-jvm-logs", action: ActionRaise, mode: mode.DryRun,
			explain: []string{"heap is mostly empty", "RSS follows -Xmx", "limit-bound", "from 3000Mi to 3776Mi", "-Xmx from 2000m to 320m", "78% of the new limit"},
		},
		"a bounded cache needs a smaller limit": {
			scenario: "service-bounded-cache", action: ActionLower, explain: []string{"levels off"},
		},
		"a well-used heap keeps its limit and gets a smaller -Xmx": {
			scenario: "jvm-without-heap-metrics", container: "ledger", action: ActionXmxOnly,
		},
		"a JVM without heap metrics only gets a new request": {
			scenario: "jvm-without-heap-metrics", container: "billing", action: ActionRequestOnly,
			explain: []string{"no heap metrics", "keeps -Xmx 1024m"},
		},
		"ten hours of history change nothing": {
			scenario: "too-little-history", action: ActionNoHistory, explain: []string{"only about 9h of memory history", "needs 24h"},
		},
		"a limit within the change threshold is kept": {
			scenario: "service-bounded-cache", action: ActionKeep,
			edit: func(in *Input) {
				c := &in.Namespaces[0].Workloads[0].Containers[0]
				rec, _ := sizing.Recommend(in.Policy, c.History, *c.Current)
				c.Current.Limit, c.Current.Request = rec.Model.Limit, rec.Request
			},
			explain: []string{"headroom changes nothing"},
		},
		"a namespace that is off": {
			scenario: "seed-jvm-logs", action: ActionOptedOut, mode: mode.Off,
			edit:    func(in *Input) { in.Namespaces[0].Mode = mode.Off },
			explain: []string{"The namespace is off", "otherwise it would change the limit from 3000Mi to 3776Mi"},
		},
		"a workload annotated off": {
			scenario: "seed-jvm-logs", action: ActionOptedOut, mode: mode.Off,
			edit: func(in *Input) {
				in.Namespaces[0].Mode, in.Namespaces[0].Workloads[0].Mode = mode.Enforce, string(mode.Off)
			},
			explain: []string{"The workload opted out"},
		},
		"a workload annotated dry-run in an enforce namespace": {
			scenario: "seed-jvm-logs", action: ActionRaise, mode: mode.DryRun,
			edit: func(in *Input) {
				in.Namespaces[0].Mode, in.Namespaces[0].Workloads[0].Mode = mode.Enforce, string(mode.DryRun)
			},
		},
		"an annotation cannot raise the namespace's mode": {
			scenario: "seed-jvm-logs", action: ActionRaise, mode: mode.DryRun,
			edit: func(in *Input) { in.Namespaces[0].Workloads[0].Mode = string(mode.Enforce) },
		},
		"an excluded container": {
			scenario: "seed-jvm-logs", action: ActionOptedOut, mode: mode.Off,
			edit:    func(in *Input) { in.Namespaces[0].Workloads[0].Exclude = []string{"sidecar", "app"} },
			explain: []string{"exclude-containers"},
		},
		"-Xmx from a ConfigMap cannot be rewritten": {
			scenario: "seed-jvm-logs", action: ActionCannotRewrite,
			edit: func(in *Input) {
				c := &in.Namespaces[0].Workloads[0].Containers[0]
				c.JVM.Env = []jvm.EnvVar{{Name: "JAVA_OPTS", FromSource: true}}
				c.Current.Xmx = 0 // the spec does not show it
			},
			explain: []string{"cannot change it in this pod spec", "by hand"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			in := scenarioInput(t, tt.scenario)
			if tt.edit != nil {
				tt.edit(&in)
			}
			r := Build(in)
			var row *Row
			for i, rr := range r.Namespaces[0].Rows {
				if tt.container == "" || rr.Container == tt.container {
					row = &r.Namespaces[0].Rows[i]
					break
				}
			}
			if row == nil {
				t.Fatalf("no row %q", tt.container)
			}
			if row.Action != tt.action {
				t.Errorf("action = %s, want %s (reason: %s)", row.Action, tt.action, row.Reason)
			}
			if tt.mode != "" && row.Mode != tt.mode {
				t.Errorf("mode = %s, want %s", row.Mode, tt.mode)
			}
			for _, want := range tt.explain {
				if !strings.Contains(row.Explanation, want) {
					t.Errorf("explanation lacks %q:\n%s", want, row.Explanation)
				}
			}
		})
	}
}

func TestSeedFiguresAndRisk(t *testing.T) {
	r := Build(scenarioInput(t, "seed-jvm-logs"))
	row := onlyRow(t, r)
	if row.LimitBytes != 3000*sizing.Mi || row.XmxBytes != 2000*sizing.Mi || row.XmxWhere != "env JAVA_OPTS via sh -c" {
		t.Errorf("current = %d, -Xmx %d in %q", row.LimitBytes, row.XmxBytes, row.XmxWhere)
	}
	if row.RecommendedLimitBytes != 3776*sizing.Mi || row.RecommendedXmxBytes != 320*sizing.Mi || row.RecommendedRequestBytes != 592*sizing.Mi {
		t.Errorf("recommended = %s / %s / -Xmx %d", qty(row.RecommendedLimitBytes), qty(row.RecommendedRequestBytes), row.RecommendedXmxBytes)
	}
	if !row.LimitBound || row.HeapUsedPeakBytes == 0 || row.HeapUsedPeakBytes > row.XmxBytes/10 {
		t.Errorf("limitBound %v, heap used %d", row.LimitBound, row.HeapUsedPeakBytes)
	}
	// Risk is the projection over the current limit; the row is at risk above the alert line.
	want := float64(row.ProjectedBytes) / float64(row.LimitBytes)
	if row.Risk == nil || *row.Risk < want-0.001 || *row.Risk > want+0.001 || !row.AtRisk {
		t.Errorf("risk = %v, want %.3f and at risk", row.Risk, want)
	}
	if row.RiskRecommended == nil || *row.RiskRecommended > r.Policy.TargetUtilization {
		t.Errorf("risk after = %v, want under %v", row.RiskRecommended, r.Policy.TargetUtilization)
	}
	if row.Replicas != 2 || row.CacheNowBytes == 0 || row.CacheNowBytes > row.CachePeakBytes {
		t.Errorf("replicas %d, cache now %d, peak %d", row.Replicas, row.CacheNowBytes, row.CachePeakBytes)
	}
	s := r.Namespaces[0].Summary
	if s.AtRisk != 1 || s.Changing != 1 || s.LimitsNowBytes != 2*3000*sizing.Mi || s.LimitsRecommendedBytes != 2*3776*sizing.Mi {
		t.Errorf("summary = %+v", s)
	}
	if r.Summary != s {
		t.Errorf("the total of one namespace differs from it: %+v vs %+v", r.Summary, s)
	}
}

func TestChartSeries(t *testing.T) {
	r := Build(scenarioInput(t, "rolling-restarts"))
	row := onlyRow(t, r)
	if n := len(row.Series); n == 0 || n > chartPoints+1 {
		t.Fatalf("%d chart points, want 1..%d", n, chartPoints+1)
	}
	for i, p := range row.Series {
		if i > 0 && p.T <= row.Series[i-1].T {
			t.Fatalf("points out of order at %d", i)
		}
		// The stack is one pod's RSS + cache, which the kernel keeps under the limit.
		if p.RSS+p.Cache > row.LimitBytes+row.LimitBytes/20 {
			t.Errorf("point %d stacks %d over the %d limit: two pods added up?", i, p.RSS+p.Cache, row.LimitBytes)
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(row)
	if bytes.Contains(js, []byte(`"Series"`)) || bytes.Contains(js, []byte(`"series"`)) {
		t.Errorf("the chart series leaked into JSON")
	}
}

func TestSortRiskiestFirst(t *testing.T) {
	in := scenarioInput(t, "jvm-without-heap-metrics")
	r := Build(in)
	var risks []float64
	for _, row := range r.Namespaces[0].Rows {
		risks = append(risks, *row.Risk)
	}
	if !slices.IsSortedFunc(risks, func(a, b float64) int { return cmpFloat(b, a) }) {
		t.Errorf("risks not highest first: %v", risks)
	}
	// A row without history goes last.
	in.Namespaces[0].Workloads = append(in.Namespaces[0].Workloads, WorkloadInput{Kind: "Deployment", Name: "aaa-new",
		Containers: []ContainerInput{{Name: "app", Current: &sizing.Current{Limit: 64 * sizing.Mi}}}})
	rows := Build(in).Namespaces[0].Rows
	if last := rows[len(rows)-1]; last.Workload != "aaa-new" || last.Action != ActionNoHistory {
		t.Errorf("last row = %s %s", last.Workload, last.Action)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestCSVMatchesJSON(t *testing.T) {
	r := Build(scenarioInput(t, "seed-jvm-logs"))
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int
		Namespaces    []struct{ Rows []map[string]any }
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != SchemaVersion {
		t.Errorf("schemaVersion = %d", doc.SchemaVersion)
	}
	var c bytes.Buffer
	if err := WriteCSV(&c, r); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&c).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d CSV lines, want header + 1", len(recs))
	}
	jsonRow := doc.Namespaces[0].Rows[0]
	var keys []string
	for k := range jsonRow {
		keys = append(keys, k)
	}
	if diff := cmp.Diff(sortedStrings(keys), sortedStrings(recs[0])); diff != "" {
		t.Errorf("CSV columns differ from JSON row fields (-json +csv):\n%s", diff)
	}
	for i, col := range recs[0] {
		var want string
		switch v := jsonRow[col].(type) {
		case nil:
		case float64:
			if col == "risk" || col == "riskRecommended" {
				want = fmt.Sprintf("%.3f", v)
			} else {
				want = fmt.Sprintf("%.0f", v)
			}
		default:
			want = fmt.Sprint(v)
		}
		if recs[1][i] != want {
			t.Errorf("%s: CSV %q, JSON %q", col, recs[1][i], want)
		}
	}
}

func sortedStrings(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestTable(t *testing.T) {
	r := Build(scenarioInput(t, "seed-jvm-logs"))
	var plain, color bytes.Buffer
	if err := WriteTable(&plain, r, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteTable(&color, r, TableOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("colour codes without Color")
	}
	if !strings.Contains(color.String(), sgrYellow+ActionRaise+sgrReset) || !strings.Contains(color.String(), sgrRed+"154%→78%"+sgrReset) {
		t.Errorf("no colour on the action or the risk:\n%s", color.String())
	}
	// Colour must not move the columns: without the escapes both are the same text.
	stripped := color.String()
	for _, sgr := range []string{sgrBold, sgrDim, sgrRed, sgrGreen, sgrYellow, sgrCyan, sgrReset} {
		stripped = strings.ReplaceAll(stripped, sgr, "")
	}
	if stripped != plain.String() {
		t.Errorf("coloured table differs from the plain one:\n%s", cmp.Diff(plain.String(), stripped))
	}
	for i, line := range strings.Split(plain.String(), "\n") {
		if n := len([]rune(line)); n > 120 {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
		}
	}
}

func TestHandler(t *testing.T) {
	r := Build(scenarioInput(t, "seed-jvm-logs"))
	h := Handler(func(_ context.Context, ns string) (*Report, error) {
		switch ns {
		case "", "shop":
			return r, nil
		case "down":
			return nil, errors.New("prometheus unavailable")
		}
		return nil, fmt.Errorf("%w %q", ErrUnknownNamespace, ns)
	})
	tests := map[string]struct {
		method, url string
		code        int
		ctype, body string
	}{
		"the page":             {"GET", "/report?namespace=shop", 200, "text/html; charset=utf-8", "<svg class=\"chart\""},
		"all namespaces":       {"GET", "/report", 200, "text/html; charset=utf-8", "deploy/orders"},
		"JSON":                 {"GET", "/report?namespace=shop&format=json", 200, "application/json", `"schemaVersion": 1`},
		"CSV":                  {"GET", "/report?namespace=shop&format=csv", 200, "text/csv; charset=utf-8", "namespace,mode,kind"},
		"an unknown format":    {"GET", "/report?namespace=shop&format=xml", 400, "", "format"},
		"an unknown namespace": {"GET", "/report?namespace=nope", 404, "", "unknown namespace"},
		"a failing load":       {"GET", "/report?namespace=down", 503, "", "prometheus unavailable"},
		"a POST":               {"POST", "/report", 405, "", "method not allowed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.url, nil))
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.code, rec.Body.String())
			}
			if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
		})
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	r := Build(scenarioInput(t, "seed-jvm-logs"))
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script src", "<link", "http://", "https://", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page has %q: it must not load anything", bad)
		}
	}
	if b.Len() > 200<<10 {
		t.Errorf("one container's page is %d KiB", b.Len()>>10)
	}
	for _, want := range []string{`data-series="rss"`, `data-series="cache"`, `data-series="heap-used"`, `class="limit-current"`,
		`class="limit-recommended"`, `class="alert-threshold"`, "How to read this"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	in := scenarioInput(t, "rolling-restarts")
	var a, b bytes.Buffer
	if err := WriteJSON(&a, Build(in)); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&b, Build(in)); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Error("two builds of the same input differ")
	}
}

// TestDocsListEveryField keeps docs/report.md in step with the JSON and CSV field names.
func TestDocsListEveryField(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, col := range CSVColumns() {
		if !strings.Contains(doc, "`"+col+"`") {
			t.Errorf("docs/report.md does not describe the field %s", col)
		}
	}
	for _, f := range []string{"schemaVersion", "workloadsAtRisk", "workloadsChanging", "workloadsOptedOut", "workloadsWithoutHistory",
		"requestsNowBytes", "requestsRecommendedBytes", "limitsNowBytes", "limitsRecommendedBytes"} {
		if !strings.Contains(doc, "`"+f+"`") {
			t.Errorf("docs/report.md does not describe %s", f)
		}
	}
	for _, a := range ActionMeanings {
		if !strings.Contains(doc, "| `"+a.Name+"` |") {
			t.Errorf("docs/report.md does not define the action %s", a.Name)
		}
	}
}

// TestHeapFor: the heap the report (like the webhook) assumes when -Xmx cannot be rewritten is what
// HotSpot takes at the new limit (FACTS.md B.4), not a flat 25 % of it.
func TestHeapFor(t *testing.T) {
	const mi = int64(1) << 20
	tests := map[string]struct {
		cur   sizing.Current
		c     *jvm.Container
		limit int64
		want  int64
	}{
		"not a JVM": {sizing.Current{}, nil, 512 * mi, 0},
		"an explicit -Xmx": {sizing.Current{JVM: true, Xmx: 1200 * mi},
			&jvm.Container{Command: []string{"java", "-Xmx1200m", "-jar", "a.jar"}}, 3000 * mi, 1200 * mi},
		"the JVM default at 3000 MiB is 25 %": {sizing.Current{JVM: true},
			&jvm.Container{Command: []string{"java", "-jar", "a.jar"}}, 3000 * mi, 750 * mi},
		"the JVM default at 128 MiB is 50 %": {sizing.Current{JVM: true},
			&jvm.Container{Command: []string{"java", "-jar", "a.jar"}}, 128 * mi, 64 * mi},
		"MaxRAM=8g replaces a 3000 MiB limit": {sizing.Current{JVM: true},
			&jvm.Container{Command: []string{"java", "-XX:MaxRAM=8g", "-jar", "a.jar"}}, 3000 * mi, 2048 * mi},
		"no spec known: the -Xmx": {sizing.Current{JVM: true, Xmx: 700 * mi}, nil, 3000 * mi, 700 * mi},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var h *jvm.Heap
			if tt.c != nil {
				a := jvm.Analyze(*tt.c)
				h = &a
			}
			if got := heapFor(tt.cur, h, tt.limit); got != tt.want {
				t.Errorf("heapFor = %d MiB, want %d MiB", got/mi, tt.want/mi)
			}
		})
	}
}

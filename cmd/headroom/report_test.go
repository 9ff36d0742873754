package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/internal/browser"
	"github.com/headroom-dev/headroom/internal/inventory"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/report"
)

// writeAllScenarios generates the history and manifests of every committed scenario into one
// file each (their namespaces differ), for reports over all namespaces.
func writeAllScenarios(t *testing.T) (historyFile, manifests string) {
	t.Helper()
	paths, _ := filepath.Glob("../../testdata/scenarios/*.yaml")
	var specs []*scenario.Spec
	for _, p := range paths {
		s, err := scenario.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	dir := t.TempDir()
	historyFile, manifests = filepath.Join(dir, "history.om"), filepath.Join(dir, "manifests.yaml")
	if err := scenario.WriteFile(historyFile, specs...); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(manifests)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := scenario.WriteManifests(f, specs...); err != nil {
		t.Fatal(err)
	}
	return historyFile, manifests
}

// TestReportHTMLInBrowser opens the HTML report of every scenario in headless Chromium and checks
// through the DevTools protocol what a reader sees: one table row per container, riskiest first,
// sorting by a click, and per container a chart with RSS and cache areas and the limit lines.
func TestReportHTMLInBrowser(t *testing.T) {
	hist, manifests := writeAllScenarios(t)
	page := filepath.Join(t.TempDir(), "report.html")
	if _, err := run(t, "report", "--history", hist, "-f", manifests, "-A", "-o", "html", "--out", page); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "report", "--history", hist, "-f", manifests, "-A", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var want report.Report
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err)
	}
	var wantKeys []string
	limits := map[string]int64{}
	for _, ns := range want.Namespaces {
		for _, r := range ns.Rows {
			key := r.Namespace + "/" + r.Kind + "/" + r.Workload + "/" + r.Container
			wantKeys = append(wantKeys, key)
			limits[key] = r.LimitBytes
		}
	}

	ctx := browser.Start(t)
	browser.Open(ctx, t, page)

	t.Run("self-contained", func(t *testing.T) {
		external := browser.Eval[int](ctx, t, `document.querySelectorAll("script[src], link[href], img[src], iframe, object").length +
			performance.getEntriesByType("resource").length`)
		if external != 0 {
			t.Errorf("the page loads %d external resources", external)
		}
		if w := browser.Eval[int](ctx, t, `document.documentElement.scrollWidth`); w > browser.Width {
			t.Errorf("the page is %dpx wide at a %dpx window: it scrolls sideways", w, browser.Width)
		}
	})

	rowKeys := func() []string {
		return browser.Eval[[]string](ctx, t, `Array.from(document.querySelectorAll("#rows tbody tr")).map(tr => tr.dataset.row)`)
	}
	t.Run("rows", func(t *testing.T) {
		got := rowKeys()
		if diff := cmp.Diff(sortedCopy(wantKeys), sortedCopy(got)); diff != "" {
			t.Errorf("table rows differ from the JSON report's (-want +got):\n%s", diff)
		}
		// The page lists rows riskiest first, within each namespace (namespaces by name).
		if !slices.Equal(got, wantKeys) {
			t.Errorf("row order = %v, want the report's order %v", got, wantKeys)
		}
		if first := browser.Eval[string](ctx, t, `document.querySelector("#rows tbody tr[data-row^='shop/'] td:nth-child(4)").textContent`); first != report.ActionRaise {
			t.Errorf("shop's orders/app action = %q, want %q", first, report.ActionRaise)
		}
	})

	t.Run("sorting", func(t *testing.T) {
		values := func(key string) []string {
			return browser.Eval[[]string](ctx, t, `(() => { const th = document.querySelector("#rows th[data-key='`+key+`']");
				return Array.from(document.querySelectorAll("#rows tbody tr")).map(tr => tr.cells[th.cellIndex].dataset.value ?? tr.cells[th.cellIndex].textContent.trim()); })()`)
		}
		click := func(key string) {
			browser.Eval[bool](ctx, t, `(document.querySelector("#rows th[data-key='`+key+`']").click(), true)`)
		}
		click("workload")
		got := values("workload")
		if !slices.IsSortedFunc(got, strings.Compare) {
			t.Errorf("after one click on Workload the rows are not A to Z: %v", got)
		}
		click("workload")
		got = values("workload")
		if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("after two clicks on Workload the rows are not Z to A: %v", got)
		}
		click("limit")
		lim := values("limit")
		for i := 1; i < len(lim); i++ {
			if num(t, lim[i]) > num(t, lim[i-1]) {
				t.Errorf("after a click on Limit the limits do not go down: %v", lim)
				break
			}
		}
		if sort := browser.Eval[string](ctx, t, `document.querySelector("#rows th[data-key='limit']").getAttribute("aria-sort")`); sort != "descending" {
			t.Errorf("Limit's aria-sort = %q, want descending", sort)
		}
		if n := len(rowKeys()); n != len(wantKeys) {
			t.Errorf("sorting changed the number of rows to %d", n)
		}
	})

	t.Run("charts", func(t *testing.T) {
		type line struct {
			Bytes int64
			Y     float64
		}
		type chartInfo struct {
			Row                 string
			RSS, Cache, Heap    int // length of the path data
			Current, Rec, Alert *line
			Axis                []string
		}
		charts := browser.Eval[[]chartInfo](ctx, t, `Array.from(document.querySelectorAll("svg.chart")).map(svg => {
			const d = s => { const p = svg.querySelector("path[data-series='" + s + "']"); return p ? p.getAttribute("d").length : 0; };
			const l = c => { const e = svg.querySelector("line." + c); if (!e) return null;
				const r = e.getBoundingClientRect(); return {Bytes: Number(e.dataset.bytes), Y: r.top + r.height / 2}; };
			return {Row: svg.dataset.row, RSS: d("rss"), Cache: d("cache"), Heap: d("heap-used"),
				Current: l("limit-current"), Rec: l("limit-recommended"), Alert: l("alert-threshold"),
				Axis: Array.from(svg.querySelectorAll("text.axis")).map(t => t.textContent)};
		})`)
		seen := map[string]chartInfo{}
		for _, c := range charts {
			seen[c.Row] = c
			if c.RSS == 0 || c.Cache == 0 {
				t.Errorf("%s: chart without the RSS (%d) or cache (%d) series", c.Row, c.RSS, c.Cache)
			}
			if len(c.Axis) < 4 {
				t.Errorf("%s: axis labels %v", c.Row, c.Axis)
			}
			if limits[c.Row] > 0 {
				if c.Current == nil || c.Rec == nil || c.Alert == nil {
					t.Errorf("%s: limit lines current=%v recommended=%v alert=%v", c.Row, c.Current, c.Rec, c.Alert)
					continue
				}
				if c.Current.Bytes != limits[c.Row] {
					t.Errorf("%s: current limit line at %d bytes, want %d", c.Row, c.Current.Bytes, limits[c.Row])
				}
				// Screen y grows downwards: the alert line (80%) lies below the limit.
				if !(c.Alert.Y > c.Current.Y) {
					t.Errorf("%s: alert line at y=%.1f is not below the limit at y=%.1f", c.Row, c.Alert.Y, c.Current.Y)
				}
				if (c.Rec.Bytes > c.Current.Bytes) != (c.Rec.Y < c.Current.Y) && c.Rec.Bytes != c.Current.Bytes {
					t.Errorf("%s: recommended limit %d at y=%.1f vs current %d at y=%.1f", c.Row, c.Rec.Bytes, c.Rec.Y, c.Current.Bytes, c.Current.Y)
				}
			}
		}
		for _, k := range wantKeys {
			if _, ok := seen[k]; !ok {
				t.Errorf("no chart for %s", k)
			}
		}
		seed := seen["shop/Deployment/orders/app"]
		if seed.Heap == 0 || seed.Rec == nil || seed.Rec.Bytes != 3776<<20 {
			t.Errorf("seed chart: heap series %d, recommended line %+v; want a heap line and 3776Mi", seed.Heap, seed.Rec)
		}
	})

	t.Run("seed explanation", func(t *testing.T) {
		text := browser.Eval[string](ctx, t, `document.querySelector("article[data-row='shop/Deployment/orders/app'] .explain").innerText`)
		for _, want := range []string{"heap is mostly empty", "RSS follows -Xmx", "limit-bound", "from 3000Mi to 3776Mi", "-Xmx from 2000m to 320m"} {
			if !strings.Contains(text, want) {
				t.Errorf("the seed's explanation lacks %q:\n%s", want, text)
			}
		}
	})

	// Back to the page's own order for the picture.
	browser.Open(ctx, t, page)
	browser.Screenshot(ctx, t, "report")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return f
}

// TestReportGolden renders every committed scenario (with its manifests) as table, JSON and CSV
// and compares them with testdata/report/<scenario>.{txt,json,csv} (-update rewrites them).
func TestReportGolden(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/scenarios/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no scenarios")
	}
	formats := map[string]string{"table": "txt", "json": "json", "csv": "csv"}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		t.Run(name, func(t *testing.T) {
			spec, hist, manifests := writeScenario(t, name)
			for format, ext := range formats {
				out, err := run(t, "report", "--history", hist, "-f", manifests, "-n", spec.Namespace, "-o", format)
				if err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("..", "..", "testdata", "report", name+"."+ext)
				if updateGolden() {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), out); diff != "" {
					t.Errorf("%s differs (-want +got; -update accepts):\n%s", golden, diff)
				}
				if format == "table" {
					for i, line := range strings.Split(out, "\n") {
						if n := len([]rune(line)); n > 120 {
							t.Errorf("%s line %d is %d columns wide", golden, i+1, n)
						}
					}
				}
			}
		})
	}
}

// TestReportSeedInPlainWords checks that the seed scenario's table tells a newcomer what is
// going on: the heap is mostly empty, RSS follows -Xmx, the cache is limit-bound, and what the
// new limit and -Xmx are.
func TestReportSeedInPlainWords(t *testing.T) {
	spec, hist, manifests := writeScenario(t, "seed-jvm-logs")
	out, err := run(t, "report", "--history", hist, "-f", manifests, "-n", spec.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"The Java heap is mostly empty: at most 153Mi of the 2000Mi that -Xmx2000m allows was ever in use (8%).",
		"so RSS follows -Xmx",
		"the cache is limit-bound",
		"154% of the 3000Mi limit",
		"headroom would change the limit from 3000Mi to 3776Mi, -Xmx from 2000m to 320m",
		"78% of the new limit: under the 80% alert line",
		"-Xmx 2000m set in env JAVA_OPTS via sh -c",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the seed report lacks %q:\n%s", want, out)
		}
	}
}

func TestReportOptOutAndHistoryOnly(t *testing.T) {
	spec, hist, manifests := writeScenario(t, "seed-jvm-logs")
	rows := func(t *testing.T, args ...string) []report.Row {
		t.Helper()
		out, err := run(t, append([]string{"report", "--history", hist, "-n", spec.Namespace, "-o", "json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var r report.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Namespaces) != 1 {
			t.Fatalf("namespaces = %+v", r.Namespaces)
		}
		return r.Namespaces[0].Rows
	}
	b, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	annotate := func(t *testing.T, annotations string) string {
		edited := strings.Replace(string(b), "    metadata:\n      labels:\n", "    metadata:\n      annotations:\n"+annotations+"      labels:\n", 1)
		if edited == string(b) {
			t.Fatal("no pod template metadata to annotate")
		}
		p := filepath.Join(t.TempDir(), "manifests.yaml")
		if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("a workload annotated off", func(t *testing.T) {
		got := rows(t, "-f", annotate(t, "        headroom.dev/mode: \"off\"\n"))
		if got[0].Action != report.ActionOptedOut || got[0].Mode != mode.Off {
			t.Errorf("row = %s in %s", got[0].Action, got[0].Mode)
		}
	})
	t.Run("an excluded container", func(t *testing.T) {
		got := rows(t, "-f", annotate(t, "        headroom.dev/exclude-containers: \"other, app\"\n"))
		if got[0].Action != report.ActionOptedOut {
			t.Errorf("action = %s", got[0].Action)
		}
	})
	t.Run("a namespace in enforce mode", func(t *testing.T) {
		got := rows(t, "-f", manifests, "--default-mode", "enforce")
		if got[0].Mode != mode.Enforce || got[0].Action != report.ActionRaise || got[0].Replicas != 2 {
			t.Errorf("row = %s in %s, %d replicas", got[0].Action, got[0].Mode, got[0].Replicas)
		}
	})
	t.Run("history alone", func(t *testing.T) {
		got := rows(t, "--cluster=false")
		r := got[0]
		// Without a spec -Xmx is unknown: the limit comes from history and is sized for the RSS it has.
		if r.SpecSource != report.SourceHistory || r.XmxBytes != 0 || r.LimitBytes != 3000<<20 || r.RecommendedXmxBytes != 0 {
			t.Errorf("row = %+v", r)
		}
		if r.Action != report.ActionRaise || r.RecommendedLimitBytes != 6000<<20 {
			t.Errorf("action %s to %d", r.Action, r.RecommendedLimitBytes)
		}
	})
}

func TestReportOutFileAndErrors(t *testing.T) {
	spec, hist, manifests := writeScenario(t, "too-little-history")
	out := filepath.Join(t.TempDir(), "r.html")
	stdout, err := run(t, "report", "--history", hist, "-f", manifests, "-n", spec.Namespace, "-o", "html", "--out", out)
	if err != nil || stdout != "" {
		t.Fatalf("err %v, stdout %q", err, stdout)
	}
	if b, err := os.ReadFile(out); err != nil || !strings.Contains(string(b), "no-history") {
		t.Errorf("--out file: %v", err)
	}
	tests := map[string]struct {
		args []string
		want string
	}{
		"no source":                 {[]string{"-A"}, "give exactly one of --history FILE and --prometheus-url URL"},
		"no namespace":              {[]string{"--history", hist}, "give -n NAMESPACE or -A"},
		"both -n and -A":            {[]string{"--history", hist, "-n", "x", "-A"}, "give -n NAMESPACE or -A"},
		"a bad output format":       {[]string{"--history", hist, "-A", "-o", "yaml"}, "-o yaml: want table, json, csv or html"},
		"a bad default mode":        {[]string{"--history", hist, "-A", "--default-mode", "audit"}, `invalid argument "audit" for "--default-mode" flag`},
		"a bad end":                 {[]string{"--history", hist, "-A", "--end", "soon"}, "--end"},
		"a missing manifest":        {[]string{"--history", hist, "-A", "-f", hist + ".yaml"}, "read manifests"},
		"a missing history file":    {[]string{"--history", hist + ".missing", "-A"}, "no such file"},
		"an unwritable --out":       {[]string{"--history", hist, "-A", "-f", manifests, "--out", filepath.Join(hist, "x")}, "not a directory"},
		"an unreachable Prometheus": {[]string{"--prometheus-url", "http://127.0.0.1:1", "-n", "shop", "--cluster=false"}, "connection refused"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, append([]string{"report"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestReportFromCluster reads current specs, the namespace's mode and the published
// MemoryRecommendation from a real API server (etcd + kube-apiserver) instead of -f.
func TestReportFromCluster(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{CRDPaths: []string{filepath.Join(root, "config", "crd")}})
	c, err := client.New(cp.Config, client.Options{Scheme: inventory.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spec, hist, manifests := writeScenario(t, "seed-jvm-logs")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: spec.Namespace, Labels: map[string]string{"headroom.dev/mode": "enforce"}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(manifests)
	if err != nil {
		t.Fatal(err)
	}
	workloads, err := manifest.Decode(f, manifests)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range workloads {
		if err := c.Create(ctx, w.Object.(client.Object)); err != nil {
			t.Fatalf("create %s/%s: %v", w.Kind, w.Name, err)
		}
	}
	mr := &v1alpha1.MemoryRecommendation{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.NameFor("Deployment", "orders"), Namespace: spec.Namespace},
		Spec:       v1alpha1.MemoryRecommendationSpec{TargetRef: v1alpha1.TargetRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "orders"}},
	}
	if err := c.Create(ctx, mr); err != nil {
		t.Fatal(err)
	}
	limit := resource.MustParse("3584Mi")
	updated := metav1.NewTime(time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC))
	mr.Status = v1alpha1.MemoryRecommendationStatus{
		Containers:     []v1alpha1.ContainerRecommendation{{Name: "app", Limit: &limit, Xmx: "384m", Reason: "earlier"}},
		LastUpdateTime: &updated,
	}
	if err := c.Status().Update(ctx, mr); err != nil {
		t.Fatal(err)
	}

	// --kubeconfig is controller-runtime's global flag: put it back for the other tests.
	t.Cleanup(func() { _ = flag.CommandLine.Set(config.KubeconfigFlagName, "") })
	out, err := run(t, "report", "--history", hist, "-n", spec.Namespace, "-o", "json", "--kubeconfig", cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Namespaces) != 1 || len(r.Namespaces[0].Rows) != 1 {
		t.Fatalf("report = %s", out)
	}
	if got := r.Namespaces[0].Mode; got != mode.Enforce {
		t.Errorf("namespace mode = %q, want the label's enforce", got)
	}
	row := r.Namespaces[0].Rows[0]
	if row.SpecSource != report.SourceCluster || row.XmxBytes != 2000<<20 || row.XmxWhere != "env JAVA_OPTS via sh -c" || row.Replicas != 2 {
		t.Errorf("current from the cluster: source %s, -Xmx %d in %q, %d replicas", row.SpecSource, row.XmxBytes, row.XmxWhere, row.Replicas)
	}
	if row.Action != report.ActionRaise || row.RecommendedLimitBytes != 3776<<20 || row.RecommendedXmxBytes != 320<<20 {
		t.Errorf("action %s to %d, -Xmx %d", row.Action, row.RecommendedLimitBytes, row.RecommendedXmxBytes)
	}
	if row.PublishedLimitBytes != 3584<<20 || row.PublishedXmxBytes != 384<<20 || row.PublishedUpdated != "2026-11-19T12:00:00Z" {
		t.Errorf("published = %d / %d at %q", row.PublishedLimitBytes, row.PublishedXmxBytes, row.PublishedUpdated)
	}
	if !strings.Contains(row.Explanation, "The MemoryRecommendation in the cluster (what the webhook applies today) says limit 3584Mi, -Xmx 384m.") {
		t.Errorf("explanation: %s", row.Explanation)
	}
}

package backtest_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/sizing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// report backtests scenarios, each in its own namespace, with the default options.
func report(t *testing.T, charts bool, names ...string) backtest.Report {
	t.Helper()
	var r backtest.Report
	for _, name := range names {
		spec := loadSpec(t, name)
		h := load(t, spec, 0)
		o := backtest.DefaultOptions(sizing.Default(), h.Window.Step)
		o.Charts = charts
		r.Settings = o.Settings()
		r.Namespaces = append(r.Namespaces, runScenario(t, spec, h, o))
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; -update accepts):\n%s", path, diff)
	}
}

// TestGolden renders every scenario as a table (testdata/<scenario>.txt) and the seed scenario as
// JSON too.
func TestGolden(t *testing.T) {
	for _, name := range scenarios(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := backtest.WriteTable(&buf, report(t, false, name)); err != nil {
				t.Fatal(err)
			}
			checkColumns(t, buf.String())
			golden(t, name+".txt", buf.Bytes())
		})
	}
	t.Run("seed-jvm-logs.json", func(t *testing.T) {
		var buf bytes.Buffer
		if err := backtest.WriteJSON(&buf, report(t, false, "seed-jvm-logs")); err != nil {
			t.Fatal(err)
		}
		golden(t, "seed-jvm-logs.json", buf.Bytes())
	})
}

func TestStrategiesAreDeterministic(t *testing.T) {
	render := func() [3][]byte {
		r := report(t, true, "seed-jvm-logs", "bursty-oom", "jvm-without-heap-metrics")
		var out [3]bytes.Buffer
		for i, write := range []func(*bytes.Buffer, backtest.Report) error{
			func(b *bytes.Buffer, r backtest.Report) error { return backtest.WriteTable(b, r) },
			func(b *bytes.Buffer, r backtest.Report) error { return backtest.WriteJSON(b, r) },
			func(b *bytes.Buffer, r backtest.Report) error { return backtest.WriteHTML(b, r) },
		} {
			if err := write(&out[i], r); err != nil {
				t.Fatal(err)
			}
		}
		return [3][]byte{out[0].Bytes(), out[1].Bytes(), out[2].Bytes()}
	}
	a, b := render(), render()
	for i, format := range []string{"table", "json", "html"} {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("two runs on the same history differ in %s", format)
		}
	}
}

// TestDocsStateTheAssumptions keeps docs/backtest.md and the HTML's list of assumptions in step.
func TestDocsStateTheAssumptions(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "backtest.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range backtest.Assumptions {
		if !strings.Contains(string(doc), a) {
			t.Errorf("docs/backtest.md does not state: %q", a)
		}
	}
}

// checkColumns checks the layout a golden file cannot (it is written by the code under test):
// every strategy name starts in the STRATEGY column, and no line ends in spaces.
func checkColumns(t *testing.T, table string) {
	t.Helper()
	col, headers := -1, 0
	for _, line := range strings.Split(table, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("line ends in spaces: %q", line)
		}
		if strings.HasPrefix(line, "WORKLOAD  ") {
			col = strings.Index(line, "  STRATEGY  ") + 2
			headers++
			continue
		}
		if line == "" {
			col = -1
		}
		if col < 0 || len(line) <= col {
			continue
		}
		if f := strings.Fields(line[col:]); len(f) == 0 || !slices.Contains(backtest.Strategies, backtest.Strategy(f[0])) || line[col-1] != ' ' {
			t.Errorf("a row's strategy is not in the STRATEGY column (%d): %q", col, line)
		}
	}
	if want := strings.Count(table, "\nVerdict: "); headers != want {
		t.Errorf("%d header rows with spaced columns (WORKLOAD  CONTAINER  STRATEGY ...) for %d namespaces", headers, want)
	}
}

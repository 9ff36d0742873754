package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/internal/scenario"
)

// TestBacktestSeedScenario runs the command on the seed scenario with its manifests: the current
// limits and -Xmx now come from the pod spec (through the jvm package), and the table must be the
// backtest package's golden, which takes them from the scenario spec.
func TestBacktestSeedScenario(t *testing.T) {
	spec, hist, manifests := writeScenario(t, "seed-jvm-logs")
	out, err := run(t, "backtest", "--history", hist, "-f", manifests, "-n", spec.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "backtest", "testdata", "seed-jvm-logs.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out); diff != "" {
		t.Errorf("backtest -n shop differs from backtest/testdata/seed-jvm-logs.txt (-want +got):\n%s", diff)
	}
}

func TestBacktestAllNamespacesAsJSONAndHTML(t *testing.T) {
	dir := t.TempDir()
	var specs []*scenario.Spec
	for _, name := range []string{"seed-jvm-logs", "bursty-oom"} {
		s, err := scenario.Load(filepath.Join("..", "..", "testdata", "scenarios", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	hist := filepath.Join(dir, "history.om")
	if err := scenario.WriteFile(hist, specs...); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "backtest", "--history", hist, "-A", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Namespaces []struct {
			Name, Verdict string
			Workloads     []struct {
				Containers []struct {
					Outcomes []struct {
						Strategy string
						Xmx      int64 `json:"xmxBytes"`
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json is not JSON: %v", err)
	}
	if len(r.Namespaces) != 2 || r.Namespaces[0].Name != "batch" || r.Namespaces[1].Name != "shop" {
		t.Fatalf("namespaces: %+v", r.Namespaces)
	}
	for _, ns := range r.Namespaces {
		outs := ns.Workloads[0].Containers[0].Outcomes
		if len(outs) != 5 || outs[0].Strategy != "current" || outs[4].Strategy != "headroom+agent" || !strings.HasPrefix(ns.Verdict, "headroom+agent: ") {
			t.Errorf("%s: outcomes %+v, verdict %q", ns.Name, outs, ns.Verdict)
		}
		// Without manifests -Xmx is unknown: no strategy sets one.
		for _, o := range outs {
			if o.Xmx != 0 {
				t.Errorf("%s: %s sets -Xmx %d without manifests", ns.Name, o.Strategy, o.Xmx)
			}
		}
	}
	page, err := run(t, "backtest", "--history", hist, "-n", "shop", "-o", "html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page, "<!doctype html>") || strings.Count(page, `<svg class="chart"`) != 1 || !strings.Contains(page, "Verdict:") {
		t.Errorf("-o html: %.300s...", page)
	}
}

func TestBacktestFailsClearly(t *testing.T) {
	_, hist, _ := writeScenario(t, "too-little-history")
	badPolicy := filepath.Join(t.TempDir(), "policy.yaml")
	_ = os.WriteFile(badPolicy, []byte("targetUtilization: 2\n"), 0o644)
	tests := map[string]struct {
		args []string
		want string
	}{
		"no source":               {[]string{"-A"}, "give exactly one of --history FILE and --prometheus-url URL"},
		"no namespace":            {[]string{"--history", hist}, "give -n NAMESPACE or -A"},
		"a bad output format":     {[]string{"--history", hist, "-A", "-o", "yaml"}, "-o yaml: want table, json or html"},
		"a bad policy":            {[]string{"--history", hist, "-A", "--policy", badPolicy}, "targetUtilization 2"},
		"a target above the line": {[]string{"--history", hist, "-A", "--agent-threshold", "0.6", "--agent-target", "0.7"}, "agent thresholds: need 0 < target (0.7) < threshold (0.6)"},
		"a missing history file":  {[]string{"--history", hist + ".missing", "-A"}, "no such file"},
		"a missing manifest":      {[]string{"--history", hist, "-A", "-f", hist + ".yaml"}, "read manifests"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, append([]string{"backtest"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/internal/scenario"
)

// updateGolden reports whether -update was given (the flag is defined once for the package).
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// writeScenario generates a committed scenario's history and manifests into a temp directory.
func writeScenario(t *testing.T, name string) (spec *scenario.Spec, historyFile, manifests string) {
	t.Helper()
	spec, err := scenario.Load(filepath.Join("..", "..", "testdata", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	historyFile, manifests = filepath.Join(dir, "history.om"), filepath.Join(dir, "manifests.yaml")
	if err := scenario.WriteFile(historyFile, spec); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(manifests)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := scenario.WriteManifests(f, spec); err != nil {
		t.Fatal(err)
	}
	return spec, historyFile, manifests
}

// TestRecommendScenarios runs `headroom recommend` on every committed scenario with its manifests
// and compares the output with testdata/scenarios/recommend/<name>.yaml (-update rewrites them).
func TestRecommendScenarios(t *testing.T) {
	paths, _ := filepath.Glob("../../testdata/scenarios/*.yaml")
	type goldenRun struct{ scenario, golden, policy string }
	var runs []goldenRun
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		runs = append(runs, goldenRun{scenario: name, golden: name + ".yaml"})
	}
	// With the agent running the chart sets a 2h horizon: the same history gives smaller limits.
	runs = append(runs, goldenRun{scenario: "seed-jvm-logs", golden: "seed-jvm-logs-agent.yaml", policy: "horizon: 2h\n"})
	for _, r := range runs {
		t.Run(r.golden, func(t *testing.T) {
			spec, hist, manifests := writeScenario(t, r.scenario)
			args := []string{"recommend", "--history", hist, "-f", manifests, "-n", spec.Namespace}
			if r.policy != "" {
				p := filepath.Join(t.TempDir(), "policy.yaml")
				if err := os.WriteFile(p, []byte(r.policy), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--policy", p)
			}
			out, err := run(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("..", "..", "testdata", "scenarios", "recommend", r.golden)
			if updateGolden() {
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
		})
	}
}

func TestRecommendJSONAndWithoutManifests(t *testing.T) {
	_, hist, _ := writeScenario(t, "seed-jvm-logs")
	out, err := run(t, "recommend", "--history", hist, "-A", "-o", "json", "--end", "2026-11-20T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		APIVersion, Kind string
		Items            []struct {
			Kind   string
			Status struct {
				Containers []struct{ Limit, Xmx, Reason string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("-o json is not JSON: %v", err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != 1 || list.Items[0].Kind != "MemoryRecommendation" {
		t.Fatalf("list = %+v", list)
	}
	c := list.Items[0].Status.Containers[0]
	// Without manifests -Xmx is unknown: it stays, and the limit is sized for the RSS the big heap has.
	if c.Xmx != "" || c.Limit != "6000Mi" || !strings.Contains(c.Reason, "capped at 2x the current limit") || strings.Contains(out, `\u003e`) {
		t.Errorf("container = %+v", c)
	}
}

func TestRecommendFailsClearly(t *testing.T) {
	_, hist, _ := writeScenario(t, "too-little-history")
	truncated := filepath.Join(t.TempDir(), "truncated.om")
	b, _ := os.ReadFile(hist)
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	badPolicy := filepath.Join(t.TempDir(), "policy.yaml")
	_ = os.WriteFile(badPolicy, []byte("horizn: 2h\n"), 0o644)
	tests := map[string]struct {
		args []string
		want string
	}{
		"no source":                 {[]string{"-A"}, "give exactly one of --history FILE and --prometheus-url URL"},
		"two sources":               {[]string{"--history", hist, "--prometheus-url", "http://x", "-A"}, "exactly one"},
		"no namespace":              {[]string{"--history", hist}, "give -n NAMESPACE or -A"},
		"an unknown flag":           {[]string{"--history", hist, "-A", "--frobnicate"}, "unknown flag: --frobnicate"},
		"a missing history file":    {[]string{"--history", hist + ".missing", "-A"}, "no such file"},
		"a truncated history":       {[]string{"--history", truncated, "-A"}, "history file " + truncated},
		"a bad end":                 {[]string{"--history", hist, "-A", "--end", "yesterday"}, "--end"},
		"a bad output format":       {[]string{"--history", hist, "-A", "-o", "table"}, "-o table: want yaml or json"},
		"a bad policy":              {[]string{"--history", hist, "-A", "--policy", badPolicy}, "field horizn not found"},
		"a bad lookback":            {[]string{"--history", hist, "-A", "--lookback", "a week"}, "invalid duration"},
		"a missing manifest":        {[]string{"--history", hist, "-A", "-f", hist + ".yaml"}, "read manifests"},
		"an unreachable Prometheus": {[]string{"--prometheus-url", "http://127.0.0.1:1", "-n", "shop"}, "connection refused"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := run(t, append([]string{"recommend"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

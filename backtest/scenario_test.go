package backtest_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/backtest"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/scenario"
	"github.com/headroom-dev/headroom/sizing"
)

// loadSpec reads a committed scenario.
func loadSpec(t testing.TB, name string) *scenario.Spec {
	t.Helper()
	spec, err := scenario.Load(filepath.Join("..", "testdata", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// load generates a scenario's history and reads it back through the file source at the given step
// (0: the default step of the policy's lookback), over the policy's lookback ending where the
// scenario ends.
func load(t testing.TB, spec *scenario.Spec, step time.Duration) *history.Namespace {
	t.Helper()
	var buf bytes.Buffer
	if err := scenario.Write(&buf, spec); err != nil {
		t.Fatal(err)
	}
	src, err := history.ReadFile(&buf, history.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lookback := sizing.Default().Lookback.D()
	if step == 0 {
		step = history.DefaultStep(lookback)
	}
	w, err := history.NewWindow(spec.End, lookback, step)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := src.Load(context.Background(), spec.Namespace, w)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// workloads pairs history with the scenario's settings.
func workloads(spec *scenario.Spec, h *history.Namespace) []backtest.Workload {
	var out []backtest.Workload
	for _, wl := range h.Workloads {
		bw := backtest.Workload{Kind: wl.Key.Kind, Name: wl.Key.Name}
		for _, c := range wl.Containers {
			bw.Containers = append(bw.Containers, backtest.Container{History: c, Current: spec.Current(wl.Key.Name, c.Name)})
		}
		out = append(out, bw)
	}
	return out
}

// runScenario backtests a scenario with the default options at the history's step.
func runScenario(t testing.TB, spec *scenario.Spec, h *history.Namespace, o backtest.Options) backtest.Namespace {
	t.Helper()
	ns, err := backtest.Run(o, spec.Namespace, h.Window.Start, h.Window.End, workloads(spec, h))
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

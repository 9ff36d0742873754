package recommender

import (
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/sizing"
)

func TestServes(t *testing.T) {
	tests := map[string]struct {
		o      Options
		ns     string
		labels map[string]string
		want   bool
	}{
		"unlabelled, default dry-run":               {Options{DefaultMode: mode.DryRun}, "shop", nil, true},
		"unlabelled, default off":                   {Options{DefaultMode: mode.Off}, "shop", nil, false},
		"labelled enforce, default off":             {Options{DefaultMode: mode.Off}, "shop", map[string]string{mode.Key: string(mode.Enforce)}, true},
		"labelled off":                              {Options{DefaultMode: mode.Enforce}, "shop", map[string]string{mode.Key: string(mode.Off)}, false},
		"a label typo is served (webhook: dry-run)": {Options{DefaultMode: mode.Off}, "shop", map[string]string{mode.Key: "enforcee"}, true},
		"excluded":                            {Options{DefaultMode: mode.DryRun, ExcludeNamespaces: []string{"kube-system", "shop"}}, "shop", nil, false},
		"not among --namespaces":              {Options{DefaultMode: mode.DryRun, Namespaces: []string{"a", "b"}}, "shop", nil, false},
		"among --namespaces":                  {Options{DefaultMode: mode.DryRun, Namespaces: []string{"a", "shop"}}, "shop", nil, true},
		"among --namespaces but labelled off": {Options{DefaultMode: mode.DryRun, Namespaces: []string{"shop"}}, "shop", map[string]string{mode.Key: string(mode.Off)}, false},
	}
	for name, tt := range tests {
		if got := tt.o.serves(tt.ns, tt.labels); got != tt.want {
			t.Errorf("%s: %v", name, got)
		}
	}
}

func TestNamespacePolicy(t *testing.T) {
	global := sizing.Default()
	global.TargetUtilization = 0.7
	got, err := NamespacePolicy(global, "horizon: 2h\nmaxLimit: 8Gi\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.Horizon.D() != 2*time.Hour || got.MaxLimit != 8*sizing.Bytes(sizing.Gi) || got.TargetUtilization != 0.7 {
		t.Errorf("overrides not applied on the global policy: %+v", got)
	}
	if got, err := NamespacePolicy(global, " "); err != nil || got != global {
		t.Errorf("empty annotation: %+v, %v", got, err)
	}
	for name, in := range map[string]string{
		"an unknown key":       "horizn: 2h",
		"an invalid value":     "{targetUtilization: 1.5}",
		"two documents":        "horizon: 2h\n---\nhorizon: 3h\n",
		"not a mapping":        "[1, 2]",
		"a malformed quantity": "{maxLimit: lots}",
	} {
		if _, err := NamespacePolicy(global, in); err == nil || !strings.Contains(err.Error(), PolicyKey) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Source: &fakeSource{}}
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	if o.Interval != time.Hour || o.Workers != 4 || o.WriteWorkers != 8 || o.DefaultMode != mode.DryRun || o.Refresh != 24*time.Hour ||
		o.RetryMin != 30*time.Second || o.Policy != sizing.Default() {
		t.Errorf("defaults %+v", o)
	}
	for name, bad := range map[string]Options{
		"no source":           {},
		"a short interval":    {Source: &fakeSource{}, Interval: time.Second},
		"a bad mode":          {Source: &fakeSource{}, DefaultMode: "on"},
		"a bad policy":        {Source: &fakeSource{}, Policy: sizing.Policy{TargetUtilization: 2}},
		"a negative lookback": {Source: &fakeSource{}, Lookback: -time.Hour},
	} {
		if err := bad.defaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

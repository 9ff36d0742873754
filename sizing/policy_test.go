package sizing_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/sizing"
)

func TestDefaultPolicyIsValidAndMatchesTheDesign(t *testing.T) {
	p := sizing.Default()
	if err := p.Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	// DESIGN.md section 5 defaults.
	if p.TargetUtilization != 0.8 || p.RSSMargin != 0.15 || p.HeapMargin != 1.0 || p.Horizon.D() != 24*time.Hour ||
		p.Lookback.D() != 7*24*time.Hour || p.MinHistory.D() != 24*time.Hour || p.ChangeThreshold != 0.10 ||
		p.Step != sizing.Bytes(16*sizing.Mi) || p.MaxIncreaseFactor != 2 || p.MinLimit != sizing.Bytes(64*sizing.Mi) {
		t.Errorf("defaults drifted from DESIGN.md section 5: %+v", p)
	}
}

func TestSamplePolicyFileIsTheDefault(t *testing.T) {
	f, err := os.Open("../config/policy/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := sizing.DecodePolicy(f)
	if err != nil {
		t.Fatalf("decode config/policy/policy.yaml: %v", err)
	}
	if diff := cmp.Diff(sizing.Default(), p); diff != "" {
		t.Errorf("config/policy/policy.yaml differs from sizing.Default() (-default +file):\n%s", diff)
	}
}

func TestDecodePolicy(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    func(*sizing.Policy)
		wantErr string
	}{
		"an empty document is the default": {in: "", want: func(*sizing.Policy) {}},
		"keys left out keep their defaults": {
			in: "horizon: 2h\nstep: 32Mi\nlookback: 14d\n",
			want: func(p *sizing.Policy) {
				p.Horizon = sizing.Duration(2 * time.Hour)
				p.Step = sizing.Bytes(32 * sizing.Mi)
				p.Lookback = sizing.Duration(14 * 24 * time.Hour)
			},
		},
		"unknown keys are errors":       {in: "horizn: 2h\n", wantErr: "field horizn not found"},
		"sizes must be quantities":      {in: "step: 16MB\n", wantErr: "invalid size"},
		"durations must parse":          {in: "horizon: tomorrow\n", wantErr: "invalid duration"},
		"values are range-checked":      {in: "targetUtilization: 1.5\nrssMargin: -1\n", wantErr: "targetUtilization 1.5"},
		"every bad value is reported":   {in: "targetUtilization: 1.5\nrssMargin: -1\n", wantErr: "rssMargin -1"},
		"request modes are checked":     {in: "request: sometimes\n", wantErr: `request "sometimes"`},
		"lookback covers minHistory":    {in: "lookback: 12h\n", wantErr: "lookback 12h"},
		"one document only":             {in: "horizon: 2h\n---\nhorizon: 3h\n", wantErr: "one YAML document"},
		"maxLimit 0 means no maximum":   {in: "maxLimit: 0\n", want: func(*sizing.Policy) {}},
		"maxLimit below minLimit fails": {in: "maxLimit: 32Mi\n", wantErr: "maxLimit 32Mi"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := sizing.DecodePolicy(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := sizing.Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

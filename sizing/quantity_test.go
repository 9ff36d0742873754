package sizing_test

import (
	"testing"
	"time"

	"github.com/headroom-dev/headroom/sizing"
)

func TestParseBytes(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
		bad  bool
	}{
		"plain bytes":                    {in: "1048576", want: 1 << 20},
		"binary suffix":                  {in: "16Mi", want: 16 << 20},
		"decimal suffix":                 {in: "100M", want: 100e6},
		"fraction of a binary unit":      {in: "1.5Gi", want: 3 << 29},
		"fractions round up to a byte":   {in: "0.1", want: 1},
		"zero":                           {in: "0", want: 0},
		"kilo is lower case":             {in: "1k", want: 1000},
		"unknown suffix":                 {in: "16MB", bad: true},
		"a JVM suffix is not a quantity": {in: "2g", bad: true},
		"negative":                       {in: "-1Mi", bad: true},
		"empty":                          {in: "", bad: true},
		"too large":                      {in: "100Ei", bad: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := sizing.ParseBytes(tt.in)
			if (err != nil) != tt.bad {
				t.Fatalf("ParseBytes(%q) error = %v, want error %v", tt.in, err, tt.bad)
			}
			if !tt.bad && int64(got) != tt.want {
				t.Errorf("ParseBytes(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatBytesRoundTrips(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1024, 16 << 20, 3872 << 20, 2 << 30, 3<<30 + 1} {
		s := sizing.FormatBytes(n)
		back, err := sizing.ParseBytes(s)
		if err != nil || int64(back) != n {
			t.Errorf("FormatBytes(%d) = %q, parses back to %d (%v)", n, s, back, err)
		}
	}
	if got := sizing.FormatBytes(3872 << 20); got != "3872Mi" {
		t.Errorf("FormatBytes(3872Mi) = %q", got)
	}
}

func TestParseAndFormatDuration(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Duration
		written string
		bad     bool
	}{
		"days":                        {in: "7d", want: 7 * 24 * time.Hour, written: "7d"},
		"days and hours":              {in: "1d12h", want: 36 * time.Hour, written: "36h"},
		"one day is written in hours": {in: "1d", want: 24 * time.Hour, written: "24h"},
		"go duration":                 {in: "90m", want: 90 * time.Minute, written: "1h30m"},
		"hours":                       {in: "24h", want: 24 * time.Hour, written: "24h"},
		"fractional days are refused": {in: "1.5d", bad: true},
		"garbage":                     {in: "soon", bad: true},
		"negative":                    {in: "-5m", bad: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := sizing.ParseDuration(tt.in)
			if (err != nil) != tt.bad {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.bad)
			}
			if tt.bad {
				return
			}
			if got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if w := sizing.FormatDuration(got); w != tt.written {
				t.Errorf("FormatDuration(%v) = %q, want %q", got, w, tt.written)
			}
		})
	}
}

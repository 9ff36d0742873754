package jvm

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSize(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
		ok   bool
	}{
		"megabytes as the blog writes them":             {"2000m", 2000 << 20, true},
		"upper-case unit":                               {"2000M", 2000 << 20, true},
		"gigabytes":                                     {"2g", 2 << 30, true},
		"terabytes":                                     {"1T", 1 << 40, true},
		"kilobytes":                                     {"2048000k", 2048000 << 10, true},
		"bytes without a suffix":                        {"2147483648", 2 << 30, true},
		"zero is a number (valid for -Xms)":             {"0", 0, true},
		"a leading zero is decimal, not octal":          {"08m", 8 << 20, true},
		"hex as strtoull reads it":                      {"0x40000000", 1 << 30, true},
		"hex with a unit":                               {"0x10m", 16 << 20, true},
		"a fraction is refused by the JVM":              {"1.5g", 0, false},
		"a B suffix is refused by the JVM":              {"2000MB", 0, false},
		"a space before the value (-Xmx 2g)":            {" 2g", 0, false},
		"a trailing space":                              {"2g ", 0, false},
		"empty":                                         {"", 0, false},
		"a sign":                                        {"+1g", 0, false},
		"negative":                                      {"-1g", 0, false},
		"unknown unit":                                  {"1p", 0, false},
		"two units":                                     {"1gg", 0, false},
		"hex prefix without digits":                     {"0x", 0, false},
		"overflow of the unit multiplication":           {"16777216t", 0, false},
		"more digits than 64 bits hold":                 {"20000000000000000000", 0, false},
		"the largest int64 in bytes is still a number":  {"9223372036854775807", 1<<63 - 1, true},
		"the same number of kilobytes does not fit":     {"9223372036854775807k", 0, false},
		"letters only":                                  {"g", 0, false},
		"a unit that looks like hex in decimal numbers": {"1b", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSize(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSize) {
				t.Errorf("ParseSize(%q) error %v does not wrap ErrInvalidSize", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSize(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	tests := map[string]struct {
		in   int64
		want string
	}{
		"whole MiB are written in m":           {1200 << 20, "1200m"},
		"whole GiB are still written in m":     {2 << 30, "2048m"},
		"KiB when not a whole MiB":             {1200<<20 + 1024, "1228801k"},
		"bytes when not a whole KiB":           {1200<<20 + 1, "1258291201"},
		"zero":                                 {0, "0m"},
		"what the blog's JAVA_OPTS should say": {2000 << 20, "2000m"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := FormatSize(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FormatSize(%d) (-want +got):\n%s", tc.in, diff)
			}
			back, err := ParseSize(got)
			if err != nil || back != tc.in {
				t.Errorf("ParseSize(FormatSize(%d)) = %d, %v: the JVM would read another size", tc.in, back, err)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	// Accepted and refused forms as OpenJDK 17 treated them on this machine.
	tests := map[string]struct {
		in   string
		want float64
		ok   bool
	}{
		"integer":                    {"75", 75, true},
		"decimal":                    {"75.5", 75.5, true},
		"trailing zero":              {"75.50", 75.5, true},
		"leading zero":               {"075", 75, true},
		"hex integer":                {"0x10", 16, true},
		"one hundred":                {"100.0", 100, true},
		"zero":                       {"0", 0, true},
		"above one hundred":          {"100.1", 0, false},
		"exponent":                   {"1e1", 0, false},
		"no integer part":            {".5", 0, false},
		"no fraction after the dot":  {"75.", 0, false},
		"two dots":                   {"50.5.5", 0, false},
		"negative":                   {"-1", 0, false},
		"leading space":              {" 75", 0, false},
		"underscore digit separator": {"7_5", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parsePercent(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("parsePercent(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parsePercent(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

package main

import (
	"runtime/debug"
	"testing"
)

func TestApplyMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	tests := map[string]struct {
		env     map[string]string
		want    int64 // the soft limit set; 0: left alone
		wantErr bool
	}{
		"90 % of the container limit": {env: map[string]string{memoryLimitEnv: "536870912"}, want: 483183820},
		"an explicit GOMEMLIMIT wins": {env: map[string]string{memoryLimitEnv: "536870912", "GOMEMLIMIT": "100MiB"}},
		"no limit known":              {env: map[string]string{}},
		"not a number":                {env: map[string]string{memoryLimitEnv: "512Mi"}, wantErr: true},
		"zero":                        {env: map[string]string{memoryLimitEnv: "0"}, wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			debug.SetMemoryLimit(old)
			got, err := applyMemoryLimit(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("soft limit %d, want %d", got, tt.want)
			}
			if now := debug.SetMemoryLimit(-1); tt.want > 0 && now != tt.want || tt.want == 0 && now != old {
				t.Errorf("runtime memory limit %d after the call", now)
			}
		})
	}
}

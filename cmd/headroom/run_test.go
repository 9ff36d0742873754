package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeManager func(ctx context.Context) error

func (f fakeManager) Start(ctx context.Context) error { return f(ctx) }

func TestRunManager(t *testing.T) {
	boom := errors.New("boom")
	tests := map[string]struct {
		mgr     fakeManager
		cancel  bool
		wantErr string
	}{
		"a manager that fails returns its error": {mgr: func(context.Context) error { return boom }, wantErr: "boom"},
		"a manager that stops when asked":        {mgr: func(ctx context.Context) error { <-ctx.Done(); return nil }, cancel: true},
		"a manager that never stops is given up on": {mgr: func(context.Context) error { select {} }, cancel: true,
			wantErr: "did not stop within 50ms"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			err := runManager(ctx, tt.mgr, 50*time.Millisecond)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

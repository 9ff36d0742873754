package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
)

// setupLogging makes the logger of the long-running components (webhook, recommender, agent):
// JSON lines on stderr, also used by controller-runtime and client-go (klog). level is info, or
// debug, which also shows logr's V(1) and V(2) lines (every decision).
func setupLogging(level string) (logr.Logger, error) {
	var l slog.Level
	switch level {
	case "info":
		l = slog.LevelInfo
	case "debug":
		l = slog.Level(-2) // logr V(n) maps to slog level -n
	default:
		return logr.Logger{}, fmt.Errorf("--log-level %q: want info or debug", level)
	}
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	return log, nil
}

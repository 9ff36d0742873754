package main

import (
	"context"
	"fmt"
	"time"
)

// stopGrace is how long a manager may take to stop after its context ends: controller-runtime's
// own graceful-shutdown timeout (30 s) and a little more.
const stopGrace = 35 * time.Second

// starter is a controller-runtime manager, as far as runManager needs it.
type starter interface {
	Start(ctx context.Context) error
}

// runManager runs mgr until ctx ends and returns its error, but gives up grace after ctx ended.
// controller-runtime v0.25's manager never returns, and spins a CPU, when it is stopped before its
// caches synced (runnableGroup.Start loops on a closed ctx.Done; kubernetes-sigs/controller-runtime
// PR 3440): with RBAC missing a kind, a pod would burn its CPU limit until SIGKILL instead of exiting.
func runManager(ctx context.Context, mgr starter, grace time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		return fmt.Errorf("the manager did not stop within %s of the signal (were its informer caches ever synced? check RBAC)", grace)
	}
}

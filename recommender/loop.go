package recommender

import (
	"context"
	"time"
)

// Start runs a cycle at once and then one every interval until ctx ends. Namespaces whose history
// could not be read (or that failed otherwise) are read again sooner, after RetryMin, doubling up
// to the interval, instead of keeping stale recommendations for a whole interval; a retry reads only
// those namespaces. History is never loaded once and kept: every cycle reads it anew.
func (r *Recommender) Start(ctx context.Context) error {
	r.log.Info("Starting recommender", "interval", r.opts.Interval.String(), "workers", r.opts.Workers,
		"writeWorkers", r.opts.WriteWorkers, "defaultMode", r.opts.DefaultMode)
	nextFull := time.Now()
	var (
		retry     []string
		retryAt   time.Time
		attempts  int
		fullTimer = time.NewTimer(0)
	)
	defer fullTimer.Stop()
	for {
		wait := time.Until(nextFull)
		full := true
		if len(retry) > 0 && retryAt.Before(nextFull) {
			wait, full = time.Until(retryAt), false
		}
		fullTimer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-fullTimer.C:
		}
		var st CycleStats
		if full {
			nextFull = time.Now().Add(r.opts.Interval)
			st = r.cycle(ctx, nil)
		} else {
			st = r.cycle(ctx, retry)
		}
		if ctx.Err() != nil {
			return nil
		}
		if len(st.Failed) == 0 && st.Err == nil {
			retry, attempts = nil, 0
			continue
		}
		retry = st.Failed
		if st.Err != nil && len(st.Failed) == 0 {
			retry = nil // listing namespaces failed: the next full cycle tries again
		}
		attempts++
		retryAt = time.Now().Add(Backoff(r.opts.RetryMin, r.opts.Interval, attempts))
	}
}

// NeedLeaderElection makes Start run on the leader only: one active recommender.
func (r *Recommender) NeedLeaderElection() bool { return true }

// Backoff is the delay before retry number attempt (1, 2, ...): first, doubling, capped at most.
func Backoff(first, most time.Duration, attempt int) time.Duration {
	d := first
	for i := 1; i < attempt && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

package agent

import (
	"cmp"
	"fmt"
	"io"
	"time"

	"github.com/headroom-dev/headroom/reclaim"
)

// Once is the operator's manual mode: act on one cgroup directory, without Kubernetes, and print what
// was done. A missing, non-memory or unwritable cgroup is an error before anything is read or written;
// so is a failed reclaim. proc is the procfs ("" = /proc).
func Once(w io.Writer, dir string, t reclaim.Thresholds, proc string) error {
	if err := t.Validate(); err != nil {
		return err
	}
	m, err := ForDir(dir, proc)
	if err != nil {
		return err
	}
	if err := m.CheckWritable(dir); err != nil {
		return fmt.Errorf("cgroup %s (%s) cannot be reclaimed: %w", dir, m.Version(), err)
	}
	before, err := m.Stats(dir)
	if err != nil {
		return fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	act := reclaim.Decide(before, t)
	fmt.Fprintf(w, "cgroup    %s (cgroup %s)\n", dir, m.Version())
	if before.Limit > 0 {
		fmt.Fprintf(w, "limit     %s; threshold %s (%s), target %s (%s)\n", reclaim.MiB(before.Limit),
			reclaim.Fraction(t.Threshold), reclaim.MiB(int64(t.Threshold*float64(before.Limit))),
			reclaim.Fraction(t.Target), reclaim.MiB(int64(t.Target*float64(before.Limit))))
	}
	fmt.Fprintf(w, "before    %s\n", statsLine(before))
	fmt.Fprintf(w, "decision  %s: %s\n", act.Verdict, act.Reason)
	if act.Verdict != reclaim.VerdictReclaim {
		return nil
	}
	t0 := time.Now()
	res, err := m.Reclaim(dir, act.Bytes, act.MayDropActive)
	took := time.Since(t0)
	if err != nil {
		return fmt.Errorf("reclaim %s with %s: %w", dir, res.Method, err)
	}
	after, err := m.Stats(dir)
	if err != nil {
		return fmt.Errorf("read cgroup %s after reclaim: %w", dir, err)
	}
	how := string(res.Method)
	switch res.Method {
	case MethodForceEmpty:
		how += " (cgroup v1 reclaims all the cache it can, not just the amount asked)"
	case MethodFadvise:
		how += fmt.Sprintf(" (%d files open for writing)", res.Files)
	}
	result := ResultSuccess
	if res.Partial {
		result = ResultPartial + " (less than asked: " + cmp.Or(res.Reason, "the kernel reclaimed less") + ")"
	}
	fmt.Fprintf(w, "action    asked %s with %s in %s: %s\n", reclaim.MiB(act.Bytes), how, took.Round(time.Millisecond), result)
	fmt.Fprintf(w, "after     %s\n", statsLine(after))
	fmt.Fprintf(w, "freed     %s of page cache; rss %s -> %s\n",
		reclaim.MiB(freedCache(before, after, nil)), reclaim.MiB(before.Anon), reclaim.MiB(after.Anon))
	return nil
}

func statsLine(s reclaim.Stats) string {
	return fmt.Sprintf("usage %s (%s), working set %s (%s), cache %s (active %s, inactive %s), rss %s",
		reclaim.MiB(s.Usage), reclaim.Percent(s.Usage, s.Limit),
		reclaim.MiB(s.WorkingSet()), reclaim.Percent(s.WorkingSet(), s.Limit),
		reclaim.MiB(s.File), reclaim.MiB(s.ActiveFile), reclaim.MiB(s.InactiveFile), reclaim.MiB(s.Anon))
}

package agent

import (
	"fmt"
	"io"
	"time"
)

// Once is the operator's manual mode: act on one cgroup directory, without Kubernetes, and print what
// was done. A missing, non-memory or unwritable cgroup is an error before anything is read or written;
// so is a failed reclaim. proc is the procfs ("" = /proc).
func Once(w io.Writer, dir string, t Thresholds, proc string) error {
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
	act := Decide(before, t)
	fmt.Fprintf(w, "cgroup    %s (cgroup %s)\n", dir, m.Version())
	if before.Limit > 0 {
		fmt.Fprintf(w, "limit     %s; threshold %s (%s), target %s (%s)\n", mib(before.Limit),
			fraction(t.Threshold), mib(int64(t.Threshold*float64(before.Limit))), fraction(t.Target), mib(int64(t.Target*float64(before.Limit))))
	}
	fmt.Fprintf(w, "before    %s\n", statsLine(before))
	fmt.Fprintf(w, "decision  %s: %s\n", act.Verdict, act.Reason)
	if act.Verdict != VerdictReclaim {
		return nil
	}
	t0 := time.Now()
	res, err := m.Reclaim(dir, act.Bytes)
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
		result = ResultPartial + " (the kernel reclaimed less than asked)"
	}
	fmt.Fprintf(w, "action    asked %s with %s in %s: %s\n", mib(act.Bytes), how, took.Round(time.Millisecond), result)
	fmt.Fprintf(w, "after     %s\n", statsLine(after))
	fmt.Fprintf(w, "freed     %s of page cache; rss %s -> %s\n", mib(freedCache(before, after, nil)), mib(before.Anon), mib(after.Anon))
	return nil
}

func statsLine(s Stats) string {
	return fmt.Sprintf("usage %s (%s), working set %s (%s), cache %s (active %s, inactive %s), rss %s",
		mib(s.Usage), percent(s.Usage, s.Limit), mib(s.WorkingSet()), percent(s.WorkingSet(), s.Limit),
		mib(s.File), mib(s.ActiveFile), mib(s.InactiveFile), mib(s.Anon))
}

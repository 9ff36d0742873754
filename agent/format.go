package agent

import "fmt"

// Formatting for logs, events and the manual mode (package reclaim formats its reasons the same way).

func mib(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

func percent(v, limit int64) string {
	if limit <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(v)/float64(limit))
}

func fraction(f float64) string { return fmt.Sprintf("%.4g%%", 100*f) }

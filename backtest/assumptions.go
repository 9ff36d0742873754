package backtest

// Assumptions are the replay model's assumptions, one sentence each, as the HTML lists them;
// docs/backtest.md states the same sentences (a test keeps the two in step).
var Assumptions = []string{
	"History is replayed as loaded: each sample is the maximum over one step and stands for one step of time; minutes are summed over pods.",
	"Replicas, restarts and traffic are as recorded: a strategy changes limits and -Xmx, not how many pods ran or what they did.",
	"Anon memory (RSS) is the recorded one, except for a JVM that exports heap metrics and whose -Xmx changes: RSS follows committed heap, so the committed heap in it becomes min(new -Xmx, committed) when the heap shrinks and min(new -Xmx, committed x new/old) when it grows.",
	"A JVM without heap metrics, or without an explicit -Xmx, keeps its recorded RSS, although a heap sized by percentage would follow a new limit (25 % of it by default).",
	"Page cache fills the room the limit leaves and is reclaimed at the limit, where usage stays pinned with no OOM kill; the kernel memory charged for it is 4 % of it.",
	"The cache a workload would keep with room to spare is the recorded cache where usage was below the limit; where usage sat at the limit the recorded level is censored, and the cache grows on at the learned growth rate (from the learned intercept at the pod's age for pods already at their limit when the window opens), up to the learned plateau if there is one.",
	"After a reclaim, by the kernel or by the agent, cache comes back at the workload's pace and at least at the learned growth rate; the hot (active) files are the recorded ones as far as the cache holds them, and the working set is usage minus the inactive cache.",
	"OOM risk is a sample where anon memory plus the kernel memory reclaim cannot free (at least 2 MiB) reaches the limit, where heap use exceeds a lowered -Xmx, or a recorded OOM kill under a limit no larger than the one it happened at.",
	"History holds only the number of OOM kills: each is placed at the pod's highest anon sample; at a kill anon is known only to have filled the old limit, so under a larger limit the replay assumes it needed no more.",
	"Alert minutes count samples with usage, or working set, above targetUtilization of the limit; where a strategy keeps the recorded limit and anon memory, the recorded samples are used as they are.",
	"The agent looks at each pod every agent interval (10s by default), applies its own rule (act above the threshold when page cache holds usage up, reclaim down to the target, inactive pages first) at most once per min interval per pod; a sample holds the highest usage of its step, before the agent acts, and a pod running when the window opens is taken to have been under the agent before.",
	"headroom+agent is sized with the horizon the chart sets when the agent runs (2h by default); a container without a recommendation keeps its limits and still has the agent.",
	"vpa: per pod, the working-set peak of each 24h interval goes into a histogram with 5 % buckets and a 24h half-life; the target is its p90 (bucket end) x 1.15, at least 250Mi per pod; an OOM kill raises its interval's peak to the larger of +100Mi and x1.2; the limit keeps the current limit:request ratio; -Xmx is kept.",
	"krr: the working-set maximum x 1.15 for request and limit, at least 100Mi, given 3h of history; -Xmx is kept. vpa and krr are rounded up to whole MiB.",
	"Reserved memory is the limit (the request where there is none) times the median number of pods running at once.",
}

package recommender

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/sizing"
)

// Recommender keeps one MemoryRecommendation per workload up to date from history. A cycle reads
// every served namespace's history with one history.Load (a fixed number of queries, whatever the
// number of workloads), sizes each workload against its current pod template, and writes only what
// changed. Run it with Start (a leader-elected manager runnable) or RunOnce.
type Recommender struct {
	opts   Options
	reader client.Reader // the informer cache: namespaces, workloads, recommendations, limit ranges
	writer *Writer
	log    logr.Logger

	mu      sync.RWMutex
	last    map[string]*NamespaceResult
	nsState map[string]namespaceState // per served namespace, for the gauges
	cycled  bool                      // a cycle has finished: Last is what the cluster is like

	reportSlot chan struct{} // see Report
}

// NamespaceResult is the outcome of the last successful read of one namespace: the sizing results
// of every workload (figures, model, reason) without the raw history, which is what the report
// needs besides charts (see History).
type NamespaceResult struct {
	Namespace string
	Window    history.Window
	Policy    sizing.Policy
	Time      time.Time
	Workloads []WorkloadResult
}

// WorkloadResult is one workload's sizing.
type WorkloadResult struct {
	Key        history.WorkloadKey
	APIVersion string
	// HasHistory is false when history knows nothing of the workload.
	HasHistory bool
	// Containers are the sizing results (Result.Current: what the template says now).
	Containers []Result
	// State is one of the State* constants.
	State string
}

type namespaceState struct {
	state     string         // ok, unavailable, error
	workloads map[string]int // by State*
}

// CycleStats summarise one cycle.
type CycleStats struct {
	Full       bool
	Namespaces int
	// Workloads by State*.
	Workloads map[string]int
	// Writes by Outcome; WriteErrors failed.
	Writes      map[Outcome]int
	WriteErrors int
	// Unavailable are namespaces whose history could not be read; Failed are those and the
	// namespaces with other errors (listing, policy, writes): the ones a retry reads again.
	Unavailable []string
	Failed      []string
	// Queries is the number of history query attempts made.
	Queries  int64
	Duration time.Duration
	// Err is the first error of the cycle.
	Err error
}

// New returns a recommender that reads from reader (the manager's cache) and writes with c.
func New(reader client.Reader, c client.Client, opts Options, log logr.Logger) (*Recommender, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	return &Recommender{
		opts:    opts,
		reader:  reader,
		writer:  &Writer{Client: c, Refresh: opts.Refresh},
		log:     log,
		last:    map[string]*NamespaceResult{},
		nsState: map[string]namespaceState{},
		// One report at a time: each holds a namespace's raw history while it is built.
		reportSlot: make(chan struct{}, 1),
	}, nil
}

// Last returns the result of the last successful read of a namespace, or nil. The result is
// shared: do not modify it.
func (r *Recommender) Last(namespace string) *NamespaceResult {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.last[namespace]
}

// Namespaces lists the namespaces Last has a result for, sorted.
func (r *Recommender) Namespaces() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.last))
	for ns := range r.last {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// History reads a namespace's history again over the window of its last result (one
// history.Load), for charts. The recommender keeps sizing results, not raw history: raw history of
// 10,000 workloads would not fit its memory budget.
func (r *Recommender) History(ctx context.Context, namespace string) (*history.Namespace, error) {
	last := r.Last(namespace)
	if last == nil {
		return nil, fmt.Errorf("no recommendations for namespace %s yet", namespace)
	}
	return r.opts.Source.Load(ctx, namespace, last.Window)
}

// RunOnce runs one full cycle over every served namespace.
func (r *Recommender) RunOnce(ctx context.Context) CycleStats {
	return r.cycle(ctx, nil)
}

// served is a namespace the cycle processes.
type served struct {
	name        string
	annotations map[string]string
}

// cycle runs one cycle over the served namespaces, or only over those in retry when it is not nil.
func (r *Recommender) cycle(ctx context.Context, retry []string) CycleStats {
	start := time.Now()
	now := r.opts.Clock()
	queries0 := queries.Load()
	ctx, cancel := context.WithTimeout(ctx, r.opts.Interval)
	defer cancel()
	st := &cycleRun{r: r, now: now, stats: CycleStats{Full: retry == nil, Workloads: map[string]int{}, Writes: map[Outcome]int{}},
		states: map[string]namespaceState{}}

	namespaces, err := r.servedNamespaces(ctx, retry)
	if err != nil {
		st.stats.Err = err
		r.log.Error(err, "Listing namespaces failed")
		return st.stats
	}
	st.stats.Namespaces = len(namespaces)

	// One query lists the namespaces that have history at all: those without get no Load (and
	// "no history"), and when Prometheus is down every namespace knows it at once.
	global, err := r.opts.window(r.opts.Policy, now)
	if err != nil {
		st.stats.Err = err
		r.log.Error(err, "History window")
		return st.stats
	}
	withHistory := map[string]bool{}
	names, listErr := r.opts.Source.Namespaces(ctx, global)
	if listErr != nil {
		listErr = fmt.Errorf("list namespaces with history: %w", listErr)
	}
	for _, n := range names {
		withHistory[n] = true
	}

	writes := make(chan writeJob, 2*r.opts.WriteWorkers)
	var wwg sync.WaitGroup
	for range r.opts.WriteWorkers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			for j := range writes {
				st.write(ctx, j)
			}
		}()
	}
	work := make(chan served)
	var nwg sync.WaitGroup
	for range r.opts.Workers {
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			for ns := range work {
				st.namespace(ctx, ns, global, withHistory, listErr, writes)
			}
		}()
	}
	for _, ns := range namespaces {
		work <- ns
	}
	close(work)
	nwg.Wait()
	close(writes)
	wwg.Wait()

	st.stats.Queries = queries.Load() - queries0
	st.stats.Duration = time.Since(start)
	r.finish(st, namespaces)
	return st.stats
}

// servedNamespaces lists the namespaces to process, from the cache, sorted.
func (r *Recommender) servedNamespaces(ctx context.Context, retry []string) ([]served, error) {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	only := map[string]bool{}
	for _, n := range retry {
		only[n] = true
	}
	var out []served
	for i := range list.Items {
		ns := &list.Items[i]
		if ns.DeletionTimestamp != nil || !r.opts.serves(ns.Name, ns.Labels) || retry != nil && !only[ns.Name] {
			continue
		}
		out = append(out, served{name: ns.Name, annotations: ns.Annotations})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// cycleRun is the state of one cycle shared by its workers.
type cycleRun struct {
	r   *Recommender
	now time.Time

	mu     sync.Mutex
	stats  CycleStats
	states map[string]namespaceState
	failed map[string]bool
	// failing counts namespaces whose history could not be read since the last one that could:
	// past breakerAfter the rest of the cycle does not query (Prometheus is down, not one namespace).
	failing  int
	breakErr error
	errs     struct{ history, namespace, write []error }
}

// breakerAfter is how many namespaces in a row must fail before the cycle stops querying.
const breakerAfter = 5

type writeJob struct {
	target *Target // nil for a status-only write of an existing object
	old    *v1alpha1.MemoryRecommendation
	status v1alpha1.MemoryRecommendationStatus
	ns     string
}

func (c *cycleRun) write(ctx context.Context, j writeJob) {
	var (
		out Outcome
		err error
	)
	if j.target != nil {
		out, err = c.r.writer.Write(ctx, *j.target, &j.status, j.old, c.now)
	} else {
		out, err = c.r.writer.WriteStatus(ctx, j.old, &j.status, c.now)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		writesTotal.WithLabelValues("error").Inc()
		c.stats.WriteErrors++
		c.errs.write = append(c.errs.write, err)
		c.fail(j.ns)
		return
	}
	writesTotal.WithLabelValues(string(out)).Inc()
	c.stats.Writes[out]++
}

// fail marks a namespace for retry; c.mu must be held.
func (c *cycleRun) fail(ns string) {
	if c.failed == nil {
		c.failed = map[string]bool{}
	}
	c.failed[ns] = true
}

// namespace reads, sizes and writes one namespace.
func (c *cycleRun) namespace(ctx context.Context, ns served, global history.Window, withHistory map[string]bool,
	listErr error, writes chan<- writeJob) {
	r := c.r
	nsErr := func(err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.errs.namespace = append(c.errs.namespace, fmt.Errorf("namespace %s: %w", ns.name, err))
		c.states[ns.name] = namespaceState{state: "error"}
		c.fail(ns.name)
	}
	policy, err := NamespacePolicy(r.opts.Policy, ns.annotations[PolicyKey])
	if err != nil {
		nsErr(err) // keep its recommendations as they are rather than size with a policy the owner did not mean
		return
	}
	targets, err := Discover(ctx, r.reader, ns.name)
	if err != nil {
		nsErr(err)
		return
	}
	var mrecs v1alpha1.MemoryRecommendationList
	if err := r.reader.List(ctx, &mrecs, client.InNamespace(ns.name), client.UnsafeDisableDeepCopy); err != nil {
		nsErr(fmt.Errorf("list recommendations: %w", err))
		return
	}
	existing := make(map[string]*v1alpha1.MemoryRecommendation, len(mrecs.Items))
	for i := range mrecs.Items {
		existing[mrecs.Items[i].Name] = &mrecs.Items[i]
	}
	var lrs corev1.LimitRangeList
	if err := r.reader.List(ctx, &lrs, client.InNamespace(ns.name), client.UnsafeDisableDeepCopy); err != nil {
		nsErr(fmt.Errorf("list limit ranges: %w", err))
		return
	}
	limitRangeMax, defaults := manifest.MaxContainerMemory(lrs.Items), manifest.ContainerDefaults(lrs.Items)

	// A namespace whose policy reads another lookback has its own window, and is always read.
	w, own := global, r.opts.lookback(policy) != r.opts.lookback(r.opts.Policy)
	if own {
		if w, err = r.opts.window(policy, c.now); err != nil {
			nsErr(err)
			return
		}
	}
	// Read the history, unless there is none or Prometheus is known to be down.
	h := &history.Namespace{Name: ns.name, Window: w}
	loadErr := listErr
	if loadErr == nil {
		loadErr = c.broken()
	}
	if loadErr == nil && len(targets) > 0 && (withHistory[ns.name] || own) {
		h, loadErr = r.opts.Source.Load(ctx, ns.name, w)
		c.loaded(loadErr)
	}
	if loadErr != nil {
		c.unavailable(ctx, ns.name, targets, existing, loadErr, writes)
		return
	}

	result := &NamespaceResult{Namespace: ns.name, Window: w, Policy: policy, Time: c.now,
		Workloads: make([]WorkloadResult, 0, len(targets))}
	counts := map[string]int{}
	jobs := make([]writeJob, 0, len(targets))
	for i := range targets {
		t := &targets[i]
		hw := h.Workload(t.Key.Kind, t.Key.Name)
		// Size the template as its pods run: with the LimitRange defaults LimitRanger fills in.
		results := Size(policy, containersOf(hw), defaults.Apply(t.Spec), limitRangeMax)
		mr := NewObject(t.Key, results, c.now)
		old := existing[mr.Name]
		status, kept := desiredStatus(mr, results, old, policy.MinHistory.D(), c.now)
		state := stateOf(hw != nil, results, kept)
		counts[state]++
		result.Workloads = append(result.Workloads, WorkloadResult{Key: t.Key, APIVersion: t.APIVersion,
			HasHistory: hw != nil, Containers: results, State: state})
		jobs = append(jobs, writeJob{target: t, old: old, status: status, ns: ns.name})
	}
	// The raw history (h) is not used past this point, so the collector may take it while the
	// writes queue up: when the API server is the bottleneck (the first cycle creates every
	// object) workers wait here, and must not each hold a namespace's history while they do.
	for _, j := range jobs {
		select {
		case writes <- j:
		case <-ctx.Done():
			nsErr(ctx.Err())
			return
		}
	}

	r.mu.Lock()
	r.last[ns.name] = result
	r.mu.Unlock()
	c.mu.Lock()
	c.states[ns.name] = namespaceState{state: "ok", workloads: counts}
	for s, n := range counts {
		c.stats.Workloads[s] += n
	}
	c.mu.Unlock()
}

// stateOf classifies a workload's results.
func stateOf(hasHistory bool, results []Result, kept bool) string {
	if !hasHistory && !kept {
		return StateNoHistory
	}
	for _, res := range results {
		if errors.Is(res.Err, sizing.ErrInsufficientHistory) {
			if kept {
				return StateKept
			}
			return StateInsufficient
		}
	}
	return StateRecommended
}

// broken returns the error that opened the breaker, if it is open.
func (c *cycleRun) broken() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing >= breakerAfter {
		return fmt.Errorf("not queried after %d namespaces in a row failed: %w", c.failing, c.breakErr)
	}
	return nil
}

func (c *cycleRun) loaded(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.failing = 0
		return
	}
	c.failing++
	if c.breakErr == nil {
		c.breakErr = err
	}
}

// unavailable keeps a namespace's recommendations and says on each that history could not be read.
// Workloads without a recommendation yet get none: there is nothing to keep.
func (c *cycleRun) unavailable(ctx context.Context, ns string, targets []Target, existing map[string]*v1alpha1.MemoryRecommendation,
	cause error, writes chan<- writeJob) {
	c.mu.Lock()
	c.errs.history = append(c.errs.history, cause)
	c.stats.Unavailable = append(c.stats.Unavailable, ns)
	c.states[ns] = namespaceState{state: "unavailable", workloads: map[string]int{StateUnavailable: len(targets)}}
	c.stats.Workloads[StateUnavailable] += len(targets)
	c.fail(ns)
	c.mu.Unlock()
	for i := range targets {
		old := existing[v1alpha1.NameFor(targets[i].Key.Kind, targets[i].Key.Name)]
		if old == nil {
			continue
		}
		select {
		case writes <- writeJob{old: old, status: unavailableStatus(old, cause, c.now), ns: ns}:
		case <-ctx.Done():
			return
		}
	}
}

// finish records a cycle's outcome: Last and the gauges, the retry set, one summary log line and
// at most one error line per kind of error.
func (r *Recommender) finish(c *cycleRun, namespaces []served) {
	st := &c.stats
	for ns := range c.failed {
		st.Failed = append(st.Failed, ns)
	}
	sort.Strings(st.Failed)
	sort.Strings(st.Unavailable)

	r.mu.Lock()
	if st.Full {
		keep := map[string]bool{}
		for _, ns := range namespaces {
			keep[ns.name] = true
		}
		for ns := range r.last {
			if !keep[ns] {
				delete(r.last, ns) // no longer served
			}
		}
		r.nsState = map[string]namespaceState{}
	}
	for ns, s := range c.states {
		r.nsState[ns] = s
	}
	r.cycled = true
	byState, nsByState := map[string]int{}, map[string]int{}
	for _, s := range r.nsState {
		nsByState[s.state]++
		for k, n := range s.workloads {
			byState[k] += n
		}
	}
	r.mu.Unlock()
	for _, s := range states {
		workloadsGauge.WithLabelValues(s).Set(float64(byState[s]))
	}
	for _, s := range []string{"ok", "unavailable", "error"} {
		namespacesGauge.WithLabelValues(s).Set(float64(nsByState[s]))
	}
	cycleSeconds.Observe(st.Duration.Seconds())
	if len(st.Failed) == 0 && st.Err == nil {
		lastSuccess.Set(float64(time.Now().Unix()))
	}

	for _, errs := range [][]error{c.errs.history, c.errs.namespace, c.errs.write} {
		if len(errs) > 0 && st.Err == nil {
			st.Err = errs[0]
		}
	}
	if len(c.errs.history) > 0 {
		r.log.Error(c.errs.history[0], "History could not be read; keeping the last recommendations",
			"namespaces", len(st.Unavailable), "first", head(st.Unavailable, 5))
	}
	if len(c.errs.namespace) > 0 {
		r.log.Error(c.errs.namespace[0], "Namespaces failed; keeping their recommendations", "count", len(c.errs.namespace))
	}
	if len(c.errs.write) > 0 {
		r.log.Error(c.errs.write[0], "Writing recommendations failed", "count", len(c.errs.write))
	}
	r.log.Info("Cycle done", "full", st.Full, "namespaces", st.Namespaces,
		"recommended", st.Workloads[StateRecommended], "kept", st.Workloads[StateKept],
		"insufficientHistory", st.Workloads[StateInsufficient], "noHistory", st.Workloads[StateNoHistory],
		"unavailable", st.Workloads[StateUnavailable],
		"created", st.Writes[Created], "updated", st.Writes[Updated], "unchanged", st.Writes[Unchanged],
		"writeErrors", st.WriteErrors, "queries", st.Queries, "seconds", st.Duration.Seconds())
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

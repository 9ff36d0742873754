package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/reclaim"
)

// Event reasons the agent records on pods.
const (
	EventReclaimed     = "PageCacheReclaimed"
	EventReclaimFailed = "PageCacheReclaimFailed"
	EventWouldReclaim  = "PageCacheReclaimDryRun"
	EventDropCaches    = "NodePageCacheDropped"
)

// Recorder is the part of client-go's events.EventRecorder (events.k8s.io/v1) the agent uses.
type Recorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any)
}

// Config is how the node loop behaves; cmd/headroom/agent.go fills it from flags.
type Config struct {
	NodeName   string
	Thresholds reclaim.Thresholds
	// Interval between passes.
	Interval time.Duration
	// MinInterval between two reclaims of the same pod: a log writer refills its cache, and reclaiming
	// it every pass would cost the pod re-reads and the node reclaim work for nothing.
	MinInterval time.Duration
	// NodeReclaimsPerMinute bounds targeted reclaims on the node (token bucket, burst of the same
	// size): each one is kernel work (and writeback of dirty pages) billed to the node.
	NodeReclaimsPerMinute int
	// AllowDropCaches enables the node-wide last resort, used only when a targeted reclaim failed.
	AllowDropCaches bool
	// DropCachesMinInterval is the least time between two node-wide drops.
	DropCachesMinInterval time.Duration
	// DropCachesPath is /proc/sys/vm/drop_caches; tests point it at a plain file.
	DropCachesPath string
	// DefaultMode applies to pods whose namespace has no headroom.dev/mode label (the chart passes
	// the same default as the webhook's).
	DefaultMode mode.Mode
	// ExcludeNamespaces are never acted on, whatever their mode: the namespaces the webhook is never
	// called for (the chart passes the same list plus the release namespace). Their pods are not
	// sized by headroom, and they hold the control plane and headroom itself, whose cache is not
	// the agent's to drop.
	ExcludeNamespaces []string
}

// DefaultExcludeNamespaces are the control-plane namespaces, as in the chart's webhook namespaceSelector.
var DefaultExcludeNamespaces = []string{"kube-system", "kube-node-lease", "kube-public"}

// DefaultConfig holds the flag defaults.
func DefaultConfig() Config {
	return Config{
		Thresholds:            reclaim.DefaultThresholds,
		Interval:              10 * time.Second,
		MinInterval:           5 * time.Minute,
		NodeReclaimsPerMinute: 10,
		DropCachesMinInterval: time.Hour,
		DropCachesPath:        "/proc/sys/vm/drop_caches",
		DefaultMode:           mode.Enforce,
		ExcludeNamespaces:     slices.Clone(DefaultExcludeNamespaces),
	}
}

// Validate checks what would make the loop misbehave.
func (c Config) Validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("node name is empty (set --node-name or NODE_NAME from the downward API)"))
	}
	if err := c.Thresholds.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Interval <= 0 || c.MinInterval < 0 || c.DropCachesMinInterval < 0 {
		errs = append(errs, errors.New("intervals must be positive"))
	}
	if c.NodeReclaimsPerMinute < 1 {
		errs = append(errs, errors.New("node reclaims per minute must be at least 1"))
	}
	if !c.DefaultMode.Valid() {
		errs = append(errs, fmt.Errorf("default mode %q: want enforce, dry-run or off", c.DefaultMode))
	}
	return errors.Join(errs...)
}

// Agent is the node loop. It is a controller-runtime Runnable (Start) that does not need leader
// election: one agent per node, each acting on its own node only.
type Agent struct {
	cfg    Config
	reader client.Reader
	events Recorder
	memcg  Memcg
	log    logr.Logger
	now    func() time.Time

	node     *rate.Limiter
	last     map[types.UID]time.Time // last reclaim (or dry-run event) per pod
	lastDrop time.Time
	lastOK   atomic.Int64 // unix nanos of the last pass that listed pods and scanned cgroups
}

// New builds the loop. reader lists pods (an informer cache restricted to spec.nodeName in production)
// and gets namespaces.
func New(cfg Config, reader client.Reader, events Recorder, memcg Memcg, log logr.Logger) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Agent{
		cfg: cfg, reader: reader, events: events, memcg: memcg, log: log, now: time.Now,
		node: rate.NewLimiter(rate.Limit(float64(cfg.NodeReclaimsPerMinute)/60), cfg.NodeReclaimsPerMinute),
		last: map[types.UID]time.Time{},
	}, nil
}

// CacheOptions restrict the manager's informer cache to this node's pods: the list/watch carries a
// spec.nodeName field selector, so the agent's memory and the API server's work do not grow with the
// cluster. Namespaces are cached whole (for their headroom.dev/mode label); managed fields are dropped.
func CacheOptions(nodeName string) cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", nodeName)},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// NewForManager builds the agent on a manager created with CacheOptions: pods and namespaces from its
// cache, events.k8s.io Events from its recorder. The namespace informer is registered now, so it syncs
// with the pod informer when the manager starts (a missing list/watch permission then stops the start
// instead of stalling the first pass). The caller adds the agent (or a one-off pass) to the manager.
func NewForManager(ctx context.Context, mgr manager.Manager, cfg Config, m Memcg) (*Agent, error) {
	if _, err := mgr.GetCache().GetInformer(ctx, &corev1.Namespace{}); err != nil {
		return nil, fmt.Errorf("namespace informer: %w", err)
	}
	return New(cfg, mgr.GetClient(), mgr.GetEventRecorder("headroom-agent"), m, mgr.GetLogger().WithName("agent"))
}

// Outcome is what a pass did, or chose not to do, for one container over the threshold (and, with
// Method drop_caches and no Pod, for a node-wide drop).
type Outcome struct {
	Pod       types.NamespacedName
	Container string
	Cgroup    string
	Action    reclaim.Action
	Before    reclaim.Stats
	After     reclaim.Stats // zero unless a reclaim ran
	Method    Method
	// Result is ResultSuccess, ResultPartial or ResultError when a reclaim ran, else a Skip* reason.
	Result string
	// Detail says why the result is partial (e.g. the active cache was kept).
	Detail string
	Files  int
	Took   time.Duration
	Err    error

	pod *corev1.Pod
}

// Start runs a pass every Interval until ctx ends. A failed pass is logged and retried on the next
// tick: the agent is a fallback and fails open. A pass gets three intervals to finish; what can block
// is reading from the API server's cache, not the kernel writes (those cannot be interrupted anyway).
func (a *Agent) Start(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*a.cfg.Interval)
		_, err := a.Pass(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.log.Error(err, "Pass failed")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection is false: every node runs its own agent.
func (a *Agent) NeedLeaderElection() bool { return false }

// Ready is a healthz.Checker for readiness: a pass listed pods and scanned cgroups within the last
// three intervals.
func (a *Agent) Ready(_ *http.Request) error {
	last := a.lastOK.Load()
	if last == 0 {
		return errors.New("no pass has completed yet")
	}
	if age := a.now().Sub(time.Unix(0, last)); age > 3*a.cfg.Interval {
		return fmt.Errorf("last good pass was %s ago", age.Round(time.Second))
	}
	return nil
}

// Pass reads every running container of this node's pods once and reclaims where Decide says so,
// within the per-pod and per-node rates. It returns one Outcome per container that was over the
// threshold; containers under it are only logged at V(2). Not safe for concurrent use: Start calls it
// from one goroutine.
func (a *Agent) Pass(ctx context.Context) ([]Outcome, error) {
	start := a.now() // for the rate limits; durations use the real clock
	t0 := time.Now()
	defer func() { passSeconds.Observe(time.Since(t0).Seconds()) }()

	var pods corev1.PodList
	// The agent never modifies a pod (sorting reorders shallow copies), so the cache need not deep-copy
	// every pod on every pass.
	if err := a.reader.List(ctx, &pods, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	tree, err := Scan(a.memcg.Root())
	if err != nil {
		return nil, fmt.Errorf("scan cgroups under %s: %w", a.memcg.Root(), err)
	}
	// Sorted so the node rate limit picks the same pods first on every node and in tests.
	slices.SortFunc(pods.Items, func(x, y corev1.Pod) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Name, y.Name))
	})

	var outs []Outcome
	var failed []int
	nsModes := map[string]mode.Mode{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		// The cache is restricted to this node by a field selector; checking again keeps a reader
		// without that restriction (the manual --once pass, tests) from touching other nodes' pods.
		// Excluded namespaces (the control plane, headroom's own) are skipped whatever their mode, as
		// the webhook's namespaceSelector skips them.
		if pod.Spec.NodeName != a.cfg.NodeName || pod.Status.Phase != corev1.PodRunning ||
			slices.Contains(a.cfg.ExcludeNamespaces, pod.Namespace) {
			continue
		}
		log := a.log.WithValues("namespace", pod.Namespace, "pod", pod.Name)
		m := a.mode(ctx, pod, nsModes, log)
		if m == mode.Off {
			continue
		}
		if _, ok := tree[string(pod.UID)]; !ok {
			cgroupErrorsTotal.Inc()
			log.V(1).Info("No cgroup found for pod", "uid", pod.UID)
			continue
		}
		due := start.Sub(a.last[pod.UID]) >= a.cfg.MinInterval
		acted := false
		// Sidecars (restartable init containers) run alongside the app and have their own limits.
		statuses := append(slices.Clip(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...)
		for _, cs := range statuses {
			if cs.State.Running == nil || cs.ContainerID == "" {
				continue
			}
			// We act on the container cgroup, not the pod's: Kubernetes sets limits per container, alerts
			// and cAdvisor report per container, and the pod cgroup's limit is only the sum. Cache a
			// restarted container left behind is charged to the pod cgroup (FACTS.md A.4) and is not
			// reclaimed here.
			dir, ok := tree.Container(string(pod.UID), cs.ContainerID)
			if !ok {
				cgroupErrorsTotal.Inc()
				log.V(1).Info("No cgroup found for container", "container", cs.Name, "containerID", cs.ContainerID)
				continue
			}
			st, err := a.memcg.Stats(dir)
			if err != nil {
				cgroupErrorsTotal.Inc()
				log.Error(err, "Read cgroup", "container", cs.Name, "cgroup", dir)
				continue
			}
			act := reclaim.Decide(st, a.cfg.Thresholds)
			if act.Verdict != reclaim.VerdictReclaim {
				level := 2 // under the threshold or no limit: the common case, logged only at debug
				if act.Verdict == reclaim.VerdictNotCache {
					level = 1
					skippedTotal.WithLabelValues(SkipNotCache).Inc()
				}
				if v := log.V(level); v.Enabled() {
					v.Info("Left alone", "container", cs.Name, "verdict", act.Verdict, "reason", act.Reason)
				}
				continue
			}
			o := Outcome{Pod: types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}, Container: cs.Name,
				Cgroup: dir, Action: act, Before: st, pod: pod}
			switch {
			case !due:
				o.Result = SkipPodInterval
			case m == mode.DryRun:
				o.Result = SkipDryRun
				acted = true // so the dry-run event repeats at most every MinInterval
				a.events.Eventf(pod, nil, corev1.EventTypeNormal, EventWouldReclaim, "ReclaimPageCache", "%s", dryRunNote(o))
			case !a.node.AllowN(a.now(), 1):
				o.Result = SkipNodeRate
			default:
				acted = true
				a.reclaim(&o)
				if o.Err != nil {
					failed = append(failed, len(outs))
				}
			}
			if o.Result == SkipPodInterval || o.Result == SkipNodeRate || o.Result == SkipDryRun {
				skippedTotal.WithLabelValues(o.Result).Inc()
				log.V(1).Info("Reclaim skipped", "container", cs.Name, "skip", o.Result, "reason", act.Reason)
			}
			outs = append(outs, o)
		}
		if acted {
			a.last[pod.UID] = start
		}
	}
	if d, ok := a.dropCaches(start, outs, failed); ok {
		outs = append(outs, d)
	}
	for uid, t := range a.last {
		if start.Sub(t) >= a.cfg.MinInterval {
			delete(a.last, uid)
		}
	}
	a.lastOK.Store(a.now().UnixNano())
	return outs, nil
}

// reclaim runs the targeted reclaim for one container and records metrics, event and log.
func (a *Agent) reclaim(o *Outcome) {
	t0 := time.Now()
	res, err := a.memcg.Reclaim(o.Cgroup, o.Action.Bytes, o.Action.MayDropActive)
	o.Took = time.Since(t0)
	o.Method, o.Files, o.Err = res.Method, res.Files, err
	after, aerr := a.memcg.Stats(o.Cgroup)
	if aerr == nil {
		o.After = after
	}
	log := a.log.WithValues("namespace", o.Pod.Namespace, "pod", o.Pod.Name, "container", o.Container, "method", o.Method,
		"askedBytes", o.Action.Bytes, "tookSeconds", o.Took.Seconds())
	switch {
	case err != nil:
		o.Result = ResultError
		log.Error(err, "Reclaim failed", "reason", o.Action.Reason)
		a.events.Eventf(o.pod, nil, corev1.EventTypeWarning, EventReclaimFailed, "ReclaimPageCache",
			"container %s: %s failed: %v; %s", o.Container, o.Method, err, o.Action.Reason)
	default:
		o.Result = ResultSuccess
		if res.Partial {
			o.Result, o.Detail = ResultPartial, res.Reason
		}
		freed := freedCache(o.Before, o.After, aerr)
		reclaimedBytesTotal.Add(float64(freed))
		log.Info("Reclaimed page cache", "result", o.Result, "detail", o.Detail, "freedCacheBytes", freed, "usageBefore", o.Before.Usage,
			"usageAfter", o.After.Usage, "limit", o.Before.Limit, "rssBefore", o.Before.Anon, "rssAfter", o.After.Anon,
			"activeFileBefore", o.Before.ActiveFile, "activeFileAfter", o.After.ActiveFile, "files", o.Files)
		a.events.Eventf(o.pod, nil, corev1.EventTypeNormal, EventReclaimed, "ReclaimPageCache", "%s", reclaimNote(*o))
	}
	reclaimsTotal.WithLabelValues(string(o.Method), o.Result).Inc()
}

// dropCaches is the last resort: when a targeted reclaim failed, AllowDropCaches is set and the last
// drop is at least DropCachesMinInterval ago, drop the node's clean page cache. It writes 1 (page cache
// only), not the blog's 3: dentries and inodes are not the problem, and dropping them costs every pod.
func (a *Agent) dropCaches(now time.Time, outs []Outcome, failed []int) (Outcome, bool) {
	if !a.cfg.AllowDropCaches || len(failed) == 0 {
		return Outcome{}, false
	}
	if !a.lastDrop.IsZero() && now.Sub(a.lastDrop) < a.cfg.DropCachesMinInterval {
		a.log.V(1).Info("Targeted reclaim failed; drop_caches is rate-limited", "last", a.lastDrop)
		return Outcome{}, false
	}
	a.lastDrop = now
	t0 := time.Now()
	err := writeFile(a.cfg.DropCachesPath, []byte("1"))
	d := Outcome{Method: MethodDropCaches, Result: ResultSuccess, Took: time.Since(t0), Err: err}
	if err != nil {
		d.Result = ResultError
		a.log.Error(err, "drop_caches failed", "path", a.cfg.DropCachesPath)
	} else {
		a.log.Info("Dropped the node's page cache after a targeted reclaim failed", "containers", len(failed), "tookSeconds", d.Took.Seconds())
	}
	reclaimsTotal.WithLabelValues(string(MethodDropCaches), d.Result).Inc()
	for _, i := range failed {
		o := outs[i]
		after, aerr := a.memcg.Stats(o.Cgroup)
		if err == nil {
			reclaimedBytesTotal.Add(float64(freedCache(o.Before, after, aerr)))
		}
		a.events.Eventf(o.pod, nil, corev1.EventTypeWarning, EventDropCaches, "DropCaches",
			"container %s: targeted reclaim failed (%v); node-wide drop_caches: %v; usage %s -> %s of limit %s",
			o.Container, o.Err, errOrOK(err), reclaim.MiB(o.Before.Usage), reclaim.MiB(after.Usage), reclaim.MiB(o.Before.Limit))
	}
	return d, true
}

// mode is the pod's mode (package mode: the namespace's label or the default, lowered by the pod's
// annotation; a value that is not a mode counts as dry-run at most). A namespace that cannot be
// read counts as off: we cannot tell whether it opted out, and skipping is safe (the kernel still
// reclaims at the limit).
func (a *Agent) mode(ctx context.Context, pod *corev1.Pod, nsModes map[string]mode.Mode, log logr.Logger) mode.Mode {
	nsMode, ok := nsModes[pod.Namespace]
	if !ok {
		var ns corev1.Namespace
		if err := a.reader.Get(ctx, client.ObjectKey{Name: pod.Namespace}, &ns); err != nil {
			log.Error(err, "Get namespace; leaving its pods alone")
			nsMode = mode.Off
		} else {
			label, has := ns.Labels[mode.Key]
			nsMode, _ = mode.Namespace(a.cfg.DefaultMode, label, has)
		}
		nsModes[pod.Namespace] = nsMode
	}
	annotation, has := pod.Annotations[mode.Key]
	m, _ := mode.Workload(nsMode, annotation, has)
	return m
}

// freedCache is how much page cache (file LRU) the container lost between two reads.
func freedCache(before, after reclaim.Stats, afterErr error) int64 {
	if afterErr != nil {
		return 0
	}
	return max(0, before.Reclaimable()-after.Reclaimable())
}

func reclaimNote(o Outcome) string {
	b, a := o.Before, o.After
	result := o.Result
	if o.Detail != "" {
		result += ": " + o.Detail
	}
	return fmt.Sprintf("container %s: reclaimed %s of page cache with %s in %s (%s); usage %s -> %s (%s -> %s of limit %s), "+
		"working set %s -> %s, cache %s -> %s (active %s -> %s), rss %s -> %s; %s",
		o.Container, reclaim.MiB(freedCache(b, a, nil)), o.Method, o.Took.Round(time.Millisecond), result,
		reclaim.MiB(b.Usage), reclaim.MiB(a.Usage), reclaim.Percent(b.Usage, b.Limit), reclaim.Percent(a.Usage, b.Limit), reclaim.MiB(b.Limit),
		reclaim.MiB(b.WorkingSet()), reclaim.MiB(a.WorkingSet()), reclaim.MiB(b.File), reclaim.MiB(a.File),
		reclaim.MiB(b.ActiveFile), reclaim.MiB(a.ActiveFile), reclaim.MiB(b.Anon), reclaim.MiB(a.Anon), o.Action.Reason)
}

func dryRunNote(o Outcome) string {
	return fmt.Sprintf("container %s (dry-run, nothing changed): would reclaim page cache; cache %s (active %s, inactive %s), rss %s; %s",
		o.Container, reclaim.MiB(o.Before.File), reclaim.MiB(o.Before.ActiveFile), reclaim.MiB(o.Before.InactiveFile), reclaim.MiB(o.Before.Anon), o.Action.Reason)
}

func errOrOK(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

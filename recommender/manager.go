package recommender

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/headroom-dev/headroom/api/v1alpha1"
)

// ManagerOptions configure the process around the recommender.
type ManagerOptions struct {
	// MetricsBindAddress and HealthProbeBindAddress: "0" disables them.
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// PprofBindAddress serves /debug/pprof ("" or "0": off).
	PprofBindAddress string
	// LeaderElection keeps one active recommender among replicas, with a Lease named
	// LeaderElectionID in LeaderElectionNamespace (default: the pod's namespace).
	LeaderElection          bool
	LeaderElectionID        string
	LeaderElectionNamespace string
}

// LeaderElectionID is the default name of the recommender's Lease.
const LeaderElectionID = "headroom-recommender"

// Scheme returns the scheme of the objects the recommender reads and writes.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := errors.Join(corev1.AddToScheme(s), appsv1.AddToScheme(s), batchv1.AddToScheme(s), v1alpha1.AddToScheme(s)); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return s, nil
}

// CacheOptions are the informer caches the recommender reads: Namespaces as metadata only, the
// workload kinds trimmed to what sizing reads (TrimWorkload), MemoryRecommendations and
// LimitRanges, all without managedFields. These are the list and watch permissions it needs.
func CacheOptions() cache.Options {
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	byObject := map[client.Object]cache.ByObject{
		namespaces:                       {},
		&v1alpha1.MemoryRecommendation{}: {},
		&corev1.LimitRange{}:             {},
	}
	for _, o := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{},
		&appsv1.ReplicaSet{}, &batchv1.CronJob{}, &batchv1.Job{}} {
		byObject[o] = cache.ByObject{Transform: TrimWorkload}
	}
	return cache.Options{
		ByObject: byObject,
		// A read of anything else is a bug, not a reason to start an informer (and need RBAC).
		ReaderFailOnMissingInformer: true,
		DefaultTransform:            cache.TransformStripManagedFields(),
	}
}

// watched returns one object of each kind CacheOptions watches, to start their informers early.
func watched() []client.Object {
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return []client.Object{namespaces, &v1alpha1.MemoryRecommendation{}, &corev1.LimitRange{},
		&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{}, &appsv1.ReplicaSet{}, &batchv1.CronJob{}, &batchv1.Job{}}
}

// NewManager returns a manager running the recommender: informer caches on every replica (so
// /readyz turns ready when they synced, leader or not), the cycle loop on the leader only, /healthz
// and /readyz on the health port and metrics on the metrics port.
func NewManager(cfg *rest.Config, mo ManagerOptions, o Options) (manager.Manager, *Recommender, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, nil, err
	}
	id := mo.LeaderElectionID
	if id == "" {
		id = LeaderElectionID
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: mo.MetricsBindAddress},
		HealthProbeBindAddress:  mo.HealthProbeBindAddress,
		PprofBindAddress:        mo.PprofBindAddress,
		LeaderElection:          mo.LeaderElection,
		LeaderElectionID:        id,
		LeaderElectionNamespace: mo.LeaderElectionNamespace,
		// The old leader steps down at shutdown so a new one takes over at once, not after the
		// lease expires. Safe: the cycle stops with the manager's context.
		LeaderElectionReleaseOnCancel: true,
		Cache:                         CacheOptions(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create manager: %w", err)
	}
	r, err := New(mgr.GetCache(), mgr.GetClient(), o, mgr.GetLogger().WithName("recommender"))
	if err != nil {
		return nil, nil, err
	}
	for _, obj := range watched() {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj); err != nil {
			return nil, nil, fmt.Errorf("informer for %T: %w", obj, err)
		}
	}
	var synced atomic.Bool
	err = errors.Join(
		mgr.Add(everyReplica(func(ctx context.Context) error {
			if mgr.GetCache().WaitForCacheSync(ctx) {
				synced.Store(true)
			}
			return nil
		})),
		mgr.AddHealthzCheck("ping", healthz.Ping),
		mgr.AddReadyzCheck("informers-synced", func(*http.Request) error {
			if !synced.Load() {
				return errors.New("informer caches not synced")
			}
			return nil
		}),
	)
	if err != nil {
		return nil, nil, err
	}
	return mgr, r, nil
}

// everyReplica is a runnable that runs whether or not this replica leads (a plain RunnableFunc
// would wait for the lease).
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

// RunOnceWhenSynced returns a runnable that waits for the caches, runs one cycle, hands its stats
// to done and returns (for --once).
func (r *Recommender) RunOnceWhenSynced(c cache.Cache, done func(CycleStats)) manager.Runnable {
	return onceRunnable{r: r, c: c, done: done}
}

type onceRunnable struct {
	r    *Recommender
	c    cache.Cache
	done func(CycleStats)
}

func (o onceRunnable) Start(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if !o.c.WaitForCacheSync(sctx) {
		o.done(CycleStats{Err: errors.New("informer caches did not sync")})
		return nil
	}
	o.done(o.r.RunOnce(ctx))
	return nil
}

// NeedLeaderElection: a single cycle also waits for the lease when leader election is on.
func (o onceRunnable) NeedLeaderElection() bool { return true }

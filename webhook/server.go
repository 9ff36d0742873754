package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/headroom-dev/headroom/api/v1alpha1"
)

// Options configure the webhook server.
type Options struct {
	Policy Policy
	// CertDir holds tls.crt and tls.key; they are reloaded when they change (cert-manager rotation).
	CertDir string
	// Host and Port the webhook listens on (Port 0: 9443).
	Host string
	Port int
	// MetricsBindAddress and HealthProbeBindAddress: "0" disables them.
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// TLSOpts adjust the webhook's TLS configuration (tests).
	TLSOpts []func(*tls.Config)
}

// NewManager returns a controller-runtime manager that serves the webhook at Path once started.
// Its cache holds only what admissions read: Namespaces (metadata only), MemoryRecommendations,
// LimitRanges and ResourceQuotas, without managedFields. Readiness needs the webhook server up and the caches synced;
// until they are, admissions are answered (allowed, outcome not-ready).
func NewManager(cfg *rest.Config, o Options) (manager.Manager, error) {
	if err := o.Policy.Validate(); err != nil {
		return nil, err
	}
	noDeepCopy := true
	scheme := runtime.NewScheme()
	if err := errors.Join(corev1.AddToScheme(scheme), v1alpha1.AddToScheme(scheme)); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	namespaces := &metav1.PartialObjectMetadata{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	watched := []client.Object{namespaces, &v1alpha1.MemoryRecommendation{}, &corev1.LimitRange{}, &corev1.ResourceQuota{}}
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range watched {
		byObject[obj] = cache.ByObject{}
	}

	// HTTP/2 is off on the webhook and metrics servers, as kubebuilder's scaffold does: Go's HTTP/2
	// server is exposed to stream-reset floods (CVE-2023-44487 "rapid reset", CVE-2023-39325), and
	// the API server calls webhooks over HTTP/1.1 with keep-alive just as well.
	tlsOpts := append([]func(*tls.Config){disableHTTP2}, o.TLSOpts...)
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.MetricsBindAddress, TLSOpts: tlsOpts},
		HealthProbeBindAddress: o.HealthProbeBindAddress,
		WebhookServer:          crwebhook.NewServer(crwebhook.Options{Host: o.Host, Port: o.Port, CertDir: o.CertDir, TLSOpts: tlsOpts}),
		Cache: cache.Options{
			ByObject: byObject,
			// A lookup of anything else is a bug, not a reason to start a new informer (and need RBAC).
			ReaderFailOnMissingInformer: true,
			DefaultTransform:            cache.TransformStripManagedFields(),
			// Admissions only read cached objects; copying each one per admission would be the
			// largest cost of the hot path.
			DefaultUnsafeDisableDeepCopy: &noDeepCopy,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	store := &CacheStore{Reader: mgr.GetCache()}
	for _, obj := range watched {
		if _, err := mgr.GetCache().GetInformer(context.Background(), obj); err != nil {
			return nil, fmt.Errorf("informer for %T: %w", obj, err)
		}
	}
	server := mgr.GetWebhookServer() // also adds it to the manager's runnables
	server.Register(Path, &Handler{Sizer: &Sizer{Policy: o.Policy}, Store: store})

	// Runnables other than caches start after the caches synced.
	synced := manager.RunnableFunc(func(ctx context.Context) error {
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return nil // stopping
		}
		store.MarkSynced()
		log := mgr.GetLogger().WithName("webhook")
		log.Info("Informer caches synced; sizing pods", "path", Path)
		<-ctx.Done()
		return nil
	})
	err = errors.Join(
		mgr.Add(synced),
		mgr.AddHealthzCheck("ping", healthz.Ping),
		mgr.AddReadyzCheck("webhook-server", server.StartedChecker()),
		mgr.AddReadyzCheck("informers-synced", func(*http.Request) error {
			if !store.Ready() {
				return errors.New("informer caches not synced")
			}
			return nil
		}),
	)
	if err != nil {
		return nil, err
	}
	return mgr, nil
}

// disableHTTP2 offers only HTTP/1.1 in TLS negotiation (ALPN).
func disableHTTP2(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }

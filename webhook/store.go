package webhook

import (
	"context"
	"fmt"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
)

// Store is where the handler finds what sizing depends on. The server's CacheStore reads
// informer caches, so an admission makes no API call.
type Store interface {
	// Ready is false until the store can answer (caches synced).
	Ready() bool
	// Namespace returns the namespace's labels; false when it is not known (yet).
	Namespace(ctx context.Context, name string) (NamespaceInfo, bool, error)
	// Recommendation returns the named MemoryRecommendation, or nil when there is none.
	// The caller must not modify it.
	Recommendation(ctx context.Context, namespace, name string) (*v1alpha1.MemoryRecommendation, error)
	// LimitRanges returns the namespace's LimitRanges. The caller must not modify them.
	LimitRanges(ctx context.Context, namespace string) ([]corev1.LimitRange, error)
	// ResourceQuotas returns the namespace's ResourceQuotas with their status. The caller must not
	// modify them.
	ResourceQuotas(ctx context.Context, namespace string) ([]corev1.ResourceQuota, error)
}

// CacheStore is a Store over a controller-runtime cache that holds Namespaces as metadata only,
// MemoryRecommendations, LimitRanges and ResourceQuotas.
type CacheStore struct {
	Reader client.Reader
	synced atomic.Bool
}

// MarkSynced makes the store ready; called once the caches have synced.
func (s *CacheStore) MarkSynced() { s.synced.Store(true) }

// Ready reports whether the caches have synced.
func (s *CacheStore) Ready() bool { return s.synced.Load() }

// Namespace implements Store.
func (s *CacheStore) Namespace(ctx context.Context, name string) (NamespaceInfo, bool, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := s.Reader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return NamespaceInfo{}, false, nil
		}
		return NamespaceInfo{}, false, fmt.Errorf("get namespace from cache: %w", err)
	}
	return NamespaceInfo{Name: name, Labels: ns.Labels}, true, nil
}

// Recommendation implements Store.
func (s *CacheStore) Recommendation(ctx context.Context, namespace, name string) (*v1alpha1.MemoryRecommendation, error) {
	rec := &v1alpha1.MemoryRecommendation{}
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, rec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get recommendation from cache: %w", err)
	}
	return rec, nil
}

// LimitRanges implements Store.
func (s *CacheStore) LimitRanges(ctx context.Context, namespace string) ([]corev1.LimitRange, error) {
	var list corev1.LimitRangeList
	if err := s.Reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list limit ranges from cache: %w", err)
	}
	return list.Items, nil
}

// ResourceQuotas implements Store.
func (s *CacheStore) ResourceQuotas(ctx context.Context, namespace string) ([]corev1.ResourceQuota, error) {
	var list corev1.ResourceQuotaList
	if err := s.Reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list resource quotas from cache: %w", err)
	}
	return list.Items, nil
}

// StaticStore is a Store over fixed objects: for tests, benchmarks and offline use.
type StaticStore struct {
	Namespaces      []corev1.Namespace
	Recommendations []v1alpha1.MemoryRecommendation
	LimitRangeList  []corev1.LimitRange
	QuotaList       []corev1.ResourceQuota
	NotReady        bool
}

// Ready implements Store.
func (s *StaticStore) Ready() bool { return !s.NotReady }

// Namespace implements Store.
func (s *StaticStore) Namespace(_ context.Context, name string) (NamespaceInfo, bool, error) {
	for i := range s.Namespaces {
		if s.Namespaces[i].Name == name {
			return NamespaceInfo{Name: name, Labels: s.Namespaces[i].Labels}, true, nil
		}
	}
	return NamespaceInfo{}, false, nil
}

// Recommendation implements Store.
func (s *StaticStore) Recommendation(_ context.Context, namespace, name string) (*v1alpha1.MemoryRecommendation, error) {
	for i := range s.Recommendations {
		if r := &s.Recommendations[i]; r.Namespace == namespace && r.Name == name {
			return r, nil
		}
	}
	return nil, nil
}

// LimitRanges implements Store.
func (s *StaticStore) LimitRanges(_ context.Context, namespace string) ([]corev1.LimitRange, error) {
	var out []corev1.LimitRange
	for _, lr := range s.LimitRangeList {
		if lr.Namespace == namespace {
			out = append(out, lr)
		}
	}
	return out, nil
}

// ResourceQuotas implements Store.
func (s *StaticStore) ResourceQuotas(_ context.Context, namespace string) ([]corev1.ResourceQuota, error) {
	var out []corev1.ResourceQuota
	for _, q := range s.QuotaList {
		if q.Namespace == namespace {
			out = append(out, q)
		}
	}
	return out, nil
}

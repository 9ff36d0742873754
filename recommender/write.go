package recommender

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/headroom-dev/headroom/api/v1alpha1"
)

// ManagedByLabel marks the objects the recommender writes.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// Outcome of one write.
type Outcome string

// Outcomes of Writer.Write.
const (
	Created   Outcome = "created"   // the object did not exist
	Updated   Outcome = "updated"   // the status (or the owner reference) changed
	Unchanged Outcome = "unchanged" // the object already said the same: no request
)

// Writer writes MemoryRecommendations with server-side apply under FieldManager: one apply of
// metadata (label, owner reference) and spec when they differ from the object as it is, one apply
// of the status subresource when it changed (statusChange). Fields of other managers (labels,
// annotations, their own conditions) are neither claimed nor removed; fields the recommender owns
// are taken back with force when someone else changed them.
type Writer struct {
	Client client.Client
	// Refresh: see Options.Refresh.
	Refresh time.Duration
}

// Write makes the object of target say status. old is the object as it is (from the cache; nil
// when it does not exist). It makes no request when nothing changed.
func (w *Writer) Write(ctx context.Context, t Target, status *v1alpha1.MemoryRecommendationStatus,
	old *v1alpha1.MemoryRecommendation, now time.Time) (Outcome, error) {
	name := v1alpha1.NameFor(t.Key.Kind, t.Key.Name)
	outcome := Updated
	if old == nil {
		outcome = Created
	}
	metaChanged := needsMeta(old, t)
	if metaChanged {
		if err := w.Client.Apply(ctx, specApply(name, t), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return "", fmt.Errorf("apply %s/%s: %w", t.Key.Namespace, name, err)
		}
	}
	if statusChange(old, status, w.Refresh, now) == "" {
		if metaChanged {
			return outcome, nil
		}
		return Unchanged, nil
	}
	if err := w.applyStatus(ctx, t.Key.Namespace, name, status); err != nil {
		return "", err
	}
	return outcome, nil
}

// WriteStatus applies a status to an existing object when it differs from old's (no request
// otherwise): for objects whose history could not be read.
func (w *Writer) WriteStatus(ctx context.Context, old *v1alpha1.MemoryRecommendation,
	status *v1alpha1.MemoryRecommendationStatus, now time.Time) (Outcome, error) {
	if statusChange(old, status, w.Refresh, now) == "" {
		return Unchanged, nil
	}
	if err := w.applyStatus(ctx, old.Namespace, old.Name, status); err != nil {
		return "", err
	}
	return Updated, nil
}

func (w *Writer) applyStatus(ctx context.Context, namespace, name string, status *v1alpha1.MemoryRecommendationStatus) error {
	ac, err := statusApply(namespace, name, status)
	if err != nil {
		return err
	}
	if err := w.Client.Status().Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply status of %s/%s: %w", namespace, name, err)
	}
	return nil
}

// needsMeta reports whether the object lacks the spec, label or owner reference it should have
// (it does not exist, or its workload was recreated under the same name with a new UID).
func needsMeta(old *v1alpha1.MemoryRecommendation, t Target) bool {
	if old == nil || old.Labels[ManagedByLabel] != "headroom" {
		return true
	}
	ref := old.Spec.TargetRef
	if ref.Kind != t.Key.Kind || ref.Name != t.Key.Name || ref.APIVersion != t.APIVersion {
		return true
	}
	for _, o := range old.OwnerReferences {
		if o.UID == t.UID {
			return false
		}
	}
	return true
}

func newApply(namespace, name string) map[string]any {
	return map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "MemoryRecommendation",
		"metadata":   map[string]any{"name": name, "namespace": namespace},
	}
}

// specApply is the apply configuration of metadata and spec. The owner reference lets the
// garbage collector delete the recommendation with its workload. It is not a controller
// reference (the workload's controller does not manage it) and does not block the owner's
// deletion (that would need the update permission on the workload's finalizers).
func specApply(name string, t Target) runtime.ApplyConfiguration {
	m := newApply(t.Key.Namespace, name)
	md := m["metadata"].(map[string]any)
	md["labels"] = map[string]any{ManagedByLabel: "headroom"}
	md["ownerReferences"] = []any{map[string]any{
		"apiVersion": t.APIVersion, "kind": t.Key.Kind, "name": t.Key.Name, "uid": string(t.UID),
	}}
	m["spec"] = map[string]any{"targetRef": map[string]any{
		"apiVersion": t.APIVersion, "kind": t.Key.Kind, "name": t.Key.Name,
	}}
	return client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: m})
}

// statusApply is the apply configuration of the whole status the recommender owns.
func statusApply(namespace, name string, status *v1alpha1.MemoryRecommendationStatus) (runtime.ApplyConfiguration, error) {
	s, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return nil, fmt.Errorf("convert status of %s/%s: %w", namespace, name, err)
	}
	m := newApply(namespace, name)
	m["status"] = s
	return client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: m}), nil
}

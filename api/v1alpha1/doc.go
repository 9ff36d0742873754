// Package v1alpha1 holds the MemoryRecommendation API (group headroom.dev): the recommender writes
// one object per workload, the webhook and the report read them. Types only; no logic.
// +kubebuilder:object:generate=true
// +groupName=headroom.dev
package v1alpha1

package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"strings"
)

// GroupVersion is the API group and version of MemoryRecommendation.
var GroupVersion = schema.GroupVersion{Group: "headroom.dev", Version: "v1alpha1"}

// Condition types set on status.conditions.
const (
	// ConditionReady is True when every container has a recommendation computed from enough history.
	ConditionReady = "Ready"
	// ConditionInsufficientHistory is True when history is shorter than the policy's minHistory.
	ConditionInsufficientHistory = "InsufficientHistory"
	// ConditionPrometheusUnavailable is True when the last cycle could not read history; the
	// recommendations shown are the last good ones.
	ConditionPrometheusUnavailable = "PrometheusUnavailable"
)

// TargetRef names the workload a recommendation is for.
type TargetRef struct {
	APIVersion string `json:"apiVersion"`
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;CronJob;Job;ReplicaSet
	Kind string `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// MemoryRecommendationSpec says which workload the recommendation is for.
type MemoryRecommendationSpec struct {
	TargetRef TargetRef `json:"targetRef"`
}

// Observed are the figures the recommendation was computed from, over the lookback window.
type Observed struct {
	RSSPeakBytes            int64 `json:"rssPeakBytes"`
	CachePeakBytes          int64 `json:"cachePeakBytes"`
	CacheGrowthBytesPerHour int64 `json:"cacheGrowthBytesPerHour"`
	// +optional
	ActiveFilePeakBytes int64 `json:"activeFilePeakBytes,omitempty"`
	// +optional
	HeapUsedPeakBytes int64 `json:"heapUsedPeakBytes,omitempty"`
	// +optional
	HeapCommittedPeakBytes int64 `json:"heapCommittedPeakBytes,omitempty"`
	// +optional
	NonHeapBytes int64 `json:"nonHeapBytes,omitempty"`
	OOMKills     int32 `json:"oomKills"`
	Pods         int32 `json:"pods"`
	Samples      int64 `json:"samples"`
	// HistoryHours is the span of history the figures cover, in whole hours.
	HistoryHours int64 `json:"historyHours"`
	// LimitBound is true when usage sat at the old limit, so the kernel capped the cache we saw.
	LimitBound bool `json:"limitBound"`
}

// ContainerRecommendation is the recommendation for one container of the workload's pod template.
type ContainerRecommendation struct {
	Name string `json:"name"`
	// +optional
	Limit *resource.Quantity `json:"limit,omitempty"`
	// +optional
	Request *resource.Quantity `json:"request,omitempty"`
	// Xmx is the new maximum heap as the JVM spells it (e.g. "1200m"); empty when not a JVM or unchanged.
	// +optional
	Xmx string `json:"xmx,omitempty"`
	// Reason is one human sentence saying why.
	Reason   string   `json:"reason"`
	Observed Observed `json:"observed"`
	// Current is what the recommendation was computed against: the container's limit, request and
	// -Xmx in the workload's pod template at the time. The webhook leaves a container whose limit or
	// -Xmx differs from it alone (the template changed since). Absent in recommendations written
	// before the field existed; they are applied as they are.
	// +optional
	Current *ContainerCurrent `json:"current,omitempty"`
}

// ContainerCurrent is a container's memory settings as a recommendation saw them. A field that is
// not set means the container had no such setting (no limit, no explicit -Xmx).
type ContainerCurrent struct {
	// +optional
	Limit *resource.Quantity `json:"limit,omitempty"`
	// +optional
	Request *resource.Quantity `json:"request,omitempty"`
	// Xmx is the effective explicit maximum heap as the JVM spells it (e.g. "2000m"); empty when none
	// is set (the JVM sizes the heap from the limit).
	// +optional
	Xmx string `json:"xmx,omitempty"`
}

// MemoryRecommendationStatus is written by the recommender.
type MemoryRecommendationStatus struct {
	// +optional
	// +listType=map
	// +listMapKey=name
	Containers []ContainerRecommendation `json:"containers,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
}

// MemoryRecommendation holds headroom's memory limit, request and -Xmx recommendation for one
// workload, with the observed numbers behind it. Named <kind>-<name> in lower case.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mrec,categories=headroom
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.targetRef.kind`,priority=1
// +kubebuilder:printcolumn:name="Containers",type=string,JSONPath=`.status.containers[*].name`
// +kubebuilder:printcolumn:name="Limit",type=string,JSONPath=`.status.containers[0].limit`
// +kubebuilder:printcolumn:name="Xmx",type=string,JSONPath=`.status.containers[0].xmx`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MemoryRecommendation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MemoryRecommendationSpec   `json:"spec"`
	Status MemoryRecommendationStatus `json:"status,omitempty"`
}

// MemoryRecommendationList is a list of MemoryRecommendation.
// +kubebuilder:object:root=true
type MemoryRecommendationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MemoryRecommendation `json:"items"`
}

// AddToScheme registers the types with a scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &MemoryRecommendation{}, &MemoryRecommendationList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// NameFor returns the object name for a workload: <kind>-<name> in lower case.
func NameFor(kind, name string) string {
	return strings.ToLower(kind) + "-" + name
}

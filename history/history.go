package history

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/headroom-dev/headroom/sizing"
)

// Source reads memory history. Callers ask per namespace, never per workload, so the cost grows
// with the series returned, not with round trips. Load fails as a whole when any of its queries
// fails: partial data is never returned (the recommender then keeps its last good recommendations).
type Source interface {
	// Namespaces lists the namespaces with container memory samples in the window, sorted.
	Namespaces(ctx context.Context, w Window) ([]string, error)
	// Load reads the history of every workload in the namespace over the window.
	Load(ctx context.Context, namespace string, w Window) (*Namespace, error)
}

// Window is the time range read and the resolution: each sample is the maximum over one step
// (max_over_time), so peaks survive a coarse step.
type Window struct {
	Start, End time.Time
	Step       time.Duration
}

// DefaultStep is the step for a lookback: 672 points per series (15m for 7 days), never below a
// minute. Peaks survive any step because every point is the maximum over its step, and the sizing
// model reads cache growth in bins of lookback/256 anyway; a finer step only costs Prometheus,
// the network and memory (10,000 workloads at 5m are ~3 GB of samples).
func DefaultStep(lookback time.Duration) time.Duration {
	s := (lookback/672 + time.Minute - 1).Truncate(time.Minute)
	return max(s, time.Minute)
}

// NewWindow returns the window of length lookback that ends at end, with end rounded up and the
// start rounded down to a multiple of step, so every query evaluates on the same grid.
func NewWindow(end time.Time, lookback, step time.Duration) (Window, error) {
	if step <= 0 || lookback < step {
		return Window{}, fmt.Errorf("history window: step %s must be positive and not longer than the lookback %s", step, lookback)
	}
	e := end.UTC().Truncate(step)
	if e.Before(end) {
		e = e.Add(step)
	}
	return Window{Start: e.Add(-lookback).Truncate(step), End: e, Step: step}, nil
}

// Points is the number of evaluation timestamps per series.
func (w Window) Points() int { return int(w.End.Sub(w.Start)/w.Step) + 1 }

func (w Window) String() string {
	return fmt.Sprintf("%s to %s, step %s", w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), sizing.FormatDuration(w.Step))
}

// WorkloadKey identifies a workload: Kind is Deployment, StatefulSet, DaemonSet, CronJob, Job,
// ReplicaSet, or Pod for a pod without a controller.
type WorkloadKey struct {
	Namespace, Kind, Name string
}

func (k WorkloadKey) String() string { return k.Namespace + "/" + k.Kind + "/" + k.Name }

// Workload is one workload's history: per container name, the pods that ran it.
type Workload struct {
	Key        WorkloadKey
	Containers []sizing.Container // sorted by name; pods sorted by name
}

// Container returns the named container, or nil.
func (w *Workload) Container(name string) *sizing.Container {
	for i := range w.Containers {
		if w.Containers[i].Name == name {
			return &w.Containers[i]
		}
	}
	return nil
}

// Namespace is the history of one namespace over a window.
type Namespace struct {
	Name      string
	Window    Window
	Workloads []Workload // sorted by kind, then name
}

// Workload returns the workload of that kind and name, or nil.
func (n *Namespace) Workload(kind, name string) *Workload {
	i := sort.Search(len(n.Workloads), func(i int) bool {
		k := n.Workloads[i].Key
		return k.Kind > kind || k.Kind == kind && k.Name >= name
	})
	if i < len(n.Workloads) && n.Workloads[i].Key.Kind == kind && n.Workloads[i].Key.Name == name {
		return &n.Workloads[i]
	}
	return nil
}

// Labels names the labels that carry namespace, pod and container, for setups that relabel them.
type Labels struct {
	Namespace, Pod, Container string
}

// DefaultLabels are the kubelet's and kube-state-metrics' label names.
func DefaultLabels() Labels {
	return Labels{Namespace: "namespace", Pod: "pod", Container: "container"}
}

func (l Labels) withDefaults() Labels {
	d := DefaultLabels()
	if l.Namespace == "" {
		l.Namespace = d.Namespace
	}
	if l.Pod == "" {
		l.Pod = d.Pod
	}
	if l.Container == "" {
		l.Container = d.Container
	}
	return l
}

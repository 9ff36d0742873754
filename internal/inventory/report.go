package inventory

import (
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/jvm"
	"github.com/headroom-dev/headroom/mode"
	"github.com/headroom-dev/headroom/report"
	"github.com/headroom-dev/headroom/sizing"
)

// ExcludeKey is the pod-template annotation naming containers headroom leaves alone (the
// webhook's); the mode's is mode.Key.
const ExcludeKey = "headroom.dev/exclude-containers"

// Specs are the workloads' current pod templates and what goes with them, from manifests or from
// the cluster: what the report joins with history. A nil *Specs is "no specs": the report then
// uses the limits history shows and leaves -Xmx unknown.
type Specs struct {
	source string // report.SourceManifest or report.SourceCluster
	byKey  map[history.WorkloadKey]*manifest.Workload
	// cluster is set for specs read from the cluster: mode label, replicas, published
	// recommendations; lrMax and lrDefaults are its LimitRanges' container maximum and defaults.
	cluster    *Namespace
	lrMax      int64
	lrDefaults manifest.LimitRangeDefaults
}

// ManifestSpecs are specs from manifests, keyed as history keys workloads.
func ManifestSpecs(byKey map[history.WorkloadKey]*manifest.Workload) *Specs {
	return &Specs{source: report.SourceManifest, byKey: byKey}
}

// ClusterSpecs are the specs of one namespace as Load read it.
func ClusterSpecs(n *Namespace) *Specs {
	s := &Specs{source: report.SourceCluster, byKey: make(map[history.WorkloadKey]*manifest.Workload, len(n.Workloads)), cluster: n,
		lrMax: manifest.MaxContainerMemory(n.LimitRanges), lrDefaults: manifest.ContainerDefaults(n.LimitRanges)}
	for i := range n.Workloads {
		mw := &n.Workloads[i]
		s.byKey[history.WorkloadKey{Namespace: n.Name, Kind: mw.Kind, Name: mw.Name}] = mw
	}
	return s
}

// Namespaces lists the namespaces the specs have workloads in, sorted.
func (s *Specs) Namespaces() []string {
	if s == nil {
		return nil
	}
	var out []string
	for k := range s.byKey {
		out = append(out, k.Namespace)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// NamespaceInput joins one namespace's history with its workloads' specs: every workload history
// knows (bare pods aside), then the workloads only the specs know, by kind and name. defaultMode
// is the mode of a namespace without a headroom.dev/mode label.
func (s *Specs) NamespaceInput(ns string, h *history.Namespace, defaultMode mode.Mode) report.NamespaceInput {
	if s == nil {
		s = &Specs{}
	}
	in := report.NamespaceInput{Name: ns, Mode: defaultMode}
	if s.cluster != nil {
		label, ok := s.cluster.Labels[mode.Key]
		in.Mode, _ = mode.Namespace(defaultMode, label, ok) // as the webhook reads it
	}
	seen := map[history.WorkloadKey]bool{}
	for _, wl := range h.Workloads {
		if wl.Key.Kind == "Pod" {
			continue // a pod without a controller has no recommendation to point at
		}
		seen[wl.Key] = true
		in.Workloads = append(in.Workloads, s.workloadInput(wl.Key, wl.Containers))
	}
	var rest []history.WorkloadKey
	for k := range s.byKey {
		if k.Namespace == ns && !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.SortFunc(rest, func(a, b history.WorkloadKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range rest {
		in.Workloads = append(in.Workloads, s.workloadInput(k, nil))
	}
	return in
}

func (s *Specs) workloadInput(key history.WorkloadKey, containers []sizing.Container) report.WorkloadInput {
	wl := report.WorkloadInput{Kind: key.Kind, Name: key.Name}
	mw := s.byKey[key]
	var mrec *v1alpha1.MemoryRecommendation
	if s.cluster != nil {
		mrec = s.cluster.Recommendation(key.Kind, key.Name)
		wl.Replicas = s.cluster.Replicas[key.Kind+"/"+key.Name]
	}
	if mw != nil {
		if mw.PodMeta != nil {
			wl.Mode = mw.PodMeta.Annotations[mode.Key]
			for name := range strings.SplitSeq(mw.PodMeta.Annotations[ExcludeKey], ",") {
				if name = strings.TrimSpace(name); name != "" {
					wl.Exclude = append(wl.Exclude, name)
				}
			}
		}
		if wl.Replicas == 0 {
			wl.Replicas = specReplicas(mw.Object)
		}
		have := map[string]bool{}
		for _, c := range containers {
			have[c.Name] = true
		}
		for _, c := range mw.PodSpec.Containers {
			if !have[c.Name] {
				containers = append(containers, sizing.Container{Name: c.Name})
			}
		}
		slices.SortFunc(containers, func(a, b sizing.Container) int { return strings.Compare(a.Name, b.Name) })
	}
	for _, c := range containers {
		ci := report.ContainerInput{Name: c.Name, History: c}
		if mw != nil {
			// As the pods run: a template without a limit gets the LimitRange's default (as in the recommender).
			if cur, ok := manifest.Current(s.lrDefaults.Apply(mw.PodSpec), c.Name); ok {
				cur.LimitRangeMax = s.lrMax
				ci.Current, ci.Source = &cur, s.source
				for i := range mw.PodSpec.Containers {
					if mw.PodSpec.Containers[i].Name == c.Name {
						jc := manifest.JVMContainer(&mw.PodSpec.Containers[i])
						ci.JVM = &jc
					}
				}
			}
		}
		if mrec != nil {
			ci.Published = published(mrec, c.Name)
		}
		wl.Containers = append(wl.Containers, ci)
	}
	return wl
}

// published is what a MemoryRecommendation says for one container; nil when it has no entry.
func published(mr *v1alpha1.MemoryRecommendation, container string) *report.Published {
	for _, c := range mr.Status.Containers {
		if c.Name != container {
			continue
		}
		p := &report.Published{}
		if c.Limit != nil {
			p.Limit = c.Limit.Value()
		}
		if c.Request != nil {
			p.Request = c.Request.Value()
		}
		if c.Xmx != "" {
			p.Xmx, _ = jvm.ParseSize(c.Xmx)
		}
		if t := mr.Status.LastUpdateTime; t != nil {
			p.Updated = t.Time
		}
		return p
	}
	return nil
}

// specReplicas is the desired number of pods of a workload whose kind has one; 0 otherwise.
func specReplicas(obj any) int {
	var r *int32
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r = o.Spec.Replicas
	case *appsv1.StatefulSet:
		r = o.Spec.Replicas
	case *appsv1.ReplicaSet:
		r = o.Spec.Replicas
	default:
		return 0
	}
	if r == nil {
		return 1
	}
	return int(*r)
}

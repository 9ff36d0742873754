package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/mode"
)

// ManifestChange is what Mutate did with one pod or pod template of a manifest.
type ManifestChange struct {
	Kind, Namespace, Name string
	Result                Result
	Err                   error // the document was left as it was
}

// Mutate applies the webhook's sizing to the Pods and to the pod templates of the Deployments,
// StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs of a stream of YAML or JSON documents
// (lists included), and writes every document back as YAML, changed or not. Recommendations
// match by namespace and spec.targetRef (a recommendation or manifest without a namespace
// matches any). Namespaces and LimitRanges in the stream count as they would in the cluster:
// their headroom.dev/mode label and their limits apply to the workloads of that namespace.
//
// The output is re-serialized: keys come out sorted and comments are dropped.
func Mutate(in io.Reader, out io.Writer, s *Sizer, recs []v1alpha1.MemoryRecommendation) ([]ManifestChange, error) {
	docs, err := readDocuments(in)
	if err != nil {
		return nil, err
	}
	m := mutator{sizer: s, recs: recs, namespaces: map[string]map[string]string{}, limitRanges: map[string][]corev1.LimitRange{}}
	for _, d := range docs {
		m.collect(d)
	}
	for i, d := range docs {
		m.document(d)
		if i > 0 {
			if _, err := io.WriteString(out, "---\n"); err != nil {
				return m.changes, err
			}
		}
		b, err := yaml.Marshal(d)
		if err != nil {
			return m.changes, fmt.Errorf("write document %d: %w", i+1, err)
		}
		if _, err := out.Write(b); err != nil {
			return m.changes, err
		}
	}
	return m.changes, nil
}

// ReadRecommendations reads MemoryRecommendations from YAML or JSON documents: single objects,
// MemoryRecommendationLists or Lists of them (what `headroom recommend` and kubectl print).
func ReadRecommendations(in io.Reader) ([]v1alpha1.MemoryRecommendation, error) {
	docs, err := readDocuments(in)
	if err != nil {
		return nil, err
	}
	var out []v1alpha1.MemoryRecommendation
	var add func(obj map[string]any) error
	add = func(obj map[string]any) error {
		switch kind, _ := obj["kind"].(string); kind {
		case "MemoryRecommendation":
			var rec v1alpha1.MemoryRecommendation
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &rec); err != nil {
				return fmt.Errorf("recommendation: %w", err)
			}
			out = append(out, rec)
		case "MemoryRecommendationList", "List":
			items, _ := obj["items"].([]any)
			for _, it := range items {
				if o, ok := it.(map[string]any); ok {
					if err := add(o); err != nil {
						return err
					}
				}
			}
		default:
			return fmt.Errorf("recommendations: unexpected kind %q", kind)
		}
		return nil
	}
	for _, d := range docs {
		if err := add(d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readDocuments(in io.Reader) ([]map[string]any, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(in, 4096)
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read document %d: %w", len(docs)+1, err)
		}
		if len(d) > 0 {
			docs = append(docs, d)
		}
	}
}

type mutator struct {
	sizer       *Sizer
	recs        []v1alpha1.MemoryRecommendation
	namespaces  map[string]map[string]string // labels
	limitRanges map[string][]corev1.LimitRange
	changes     []ManifestChange
}

// collect remembers the Namespaces and LimitRanges of the stream.
func (m *mutator) collect(d map[string]any) {
	u := unstructured.Unstructured{Object: d}
	switch {
	case u.GetKind() == "List":
		items, _ := d["items"].([]any)
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				m.collect(o)
			}
		}
	case u.GetAPIVersion() == "v1" && u.GetKind() == "Namespace":
		m.namespaces[u.GetName()] = u.GetLabels()
	case u.GetAPIVersion() == "v1" && u.GetKind() == "LimitRange":
		var lr corev1.LimitRange
		if runtime.DefaultUnstructuredConverter.FromUnstructured(d, &lr) == nil {
			m.limitRanges[lr.Namespace] = append(m.limitRanges[lr.Namespace], lr)
		}
	}
}

// templatePaths says where the pod template of each workload kind lives.
var templatePaths = map[string][]string{
	"apps/v1 Deployment":  {"spec", "template"},
	"apps/v1 StatefulSet": {"spec", "template"},
	"apps/v1 DaemonSet":   {"spec", "template"},
	"apps/v1 ReplicaSet":  {"spec", "template"},
	"batch/v1 Job":        {"spec", "template"},
	"batch/v1 CronJob":    {"spec", "jobTemplate", "spec", "template"},
}

func (m *mutator) document(d map[string]any) {
	u := unstructured.Unstructured{Object: d}
	kind, ns, name := u.GetKind(), u.GetNamespace(), u.GetName()
	if kind == "List" {
		items, _ := d["items"].([]any)
		for _, it := range items {
			if o, ok := it.(map[string]any); ok {
				m.document(o)
			}
		}
		return
	}
	var target map[string]any
	var candidates []Workload
	if u.GetAPIVersion() == "v1" && kind == "Pod" {
		target = d
		pod := &corev1.Pod{}
		pod.Labels, pod.OwnerReferences = u.GetLabels(), u.GetOwnerReferences()
		candidates = ResolveWorkload(pod)
		if name == "" {
			name = u.GetGenerateName()
		}
	} else if path, ok := templatePaths[u.GetAPIVersion()+" "+kind]; ok {
		t, found, err := unstructured.NestedMap(d, path...)
		if err != nil || !found {
			m.changes = append(m.changes, ManifestChange{Kind: kind, Namespace: ns, Name: name,
				Err: fmt.Errorf("no pod template at %s", strings.Join(path, "."))})
			return
		}
		target = t
		candidates = []Workload{{Kind: kind, Name: name}}
		defer func() { _ = unstructured.SetNestedMap(d, target, path...) }()
	} else {
		return
	}

	in := Input{Namespace: NamespaceInfo{Name: ns, Labels: m.namespaces[ns]}, LimitRanges: m.limitRanges[ns]}
	for i := range candidates {
		if rec := m.find(ns, candidates[i]); rec != nil {
			in.Workload, in.Recommendation = &candidates[i], rec
			break
		}
	}
	if in.Workload == nil && len(candidates) > 0 {
		in.Workload = &candidates[0]
	}
	res, err := m.sizer.SizeObject(target, in)
	m.changes = append(m.changes, ManifestChange{Kind: kind, Namespace: ns, Name: name, Result: res, Err: err})
}

// find returns the recommendation for a workload: same namespace first, then one without a
// namespace (or any namespace, for a manifest without one) when exactly one matches.
func (m *mutator) find(ns string, w Workload) *v1alpha1.MemoryRecommendation {
	var loose []*v1alpha1.MemoryRecommendation
	for i := range m.recs {
		r := &m.recs[i]
		if !w.Matches(r) {
			continue
		}
		if r.Namespace == ns {
			return r
		}
		if r.Namespace == "" || ns == "" {
			loose = append(loose, r)
		}
	}
	if len(loose) == 1 {
		return loose[0]
	}
	return nil
}

// Summary says in one line per container what changed (or would change) and why not.
func (c ManifestChange) Summary() string {
	var b bytes.Buffer
	where := c.Kind + " " + c.Name
	if c.Namespace != "" {
		where = c.Kind + " " + c.Namespace + "/" + c.Name
	}
	if c.Err != nil {
		fmt.Fprintf(&b, "%s: left as it was: %v\n", where, c.Err)
		return b.String()
	}
	r := c.Result
	if r.Record.Skipped != "" || len(r.Record.Containers) == 0 {
		why := r.Record.Skipped
		if why == "" {
			why = string(r.Outcome)
		}
		fmt.Fprintf(&b, "%s: not sized (%s)\n", where, why)
		return b.String()
	}
	verb := "sized"
	if r.Mode == mode.DryRun {
		verb = "would size"
	}
	for _, ct := range r.Record.Containers {
		switch {
		case ct.Skipped != "":
			fmt.Fprintf(&b, "%s: %s: skipped (%s)\n", where, ct.Name, ct.Skipped)
		case !ct.changed():
			fmt.Fprintf(&b, "%s: %s: unchanged (%s)\n", where, ct.Name, ct.Reason)
		default:
			fmt.Fprintf(&b, "%s: %s %s:", where, verb, ct.Name)
			sep := " "
			for _, p := range [][3]string{{"limit", ct.OldLimit, ct.Limit}, {"request", ct.OldRequest, ct.Request}, {"-Xmx", ct.OldXmx, ct.Xmx}} {
				if p[2] == "" {
					continue
				}
				old := p[1]
				if old == "" {
					old = "none"
				}
				fmt.Fprintf(&b, "%s%s %s -> %s", sep, p[0], old, p[2])
				sep = ", "
			}
			if ct.XmxAt != "" {
				fmt.Fprintf(&b, " (-Xmx in %s)", ct.XmxAt)
			}
			if ct.Reason != "" {
				fmt.Fprintf(&b, "; %s", ct.Reason)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

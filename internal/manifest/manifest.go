package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Workload is one workload found in a manifest.
type Workload struct {
	APIVersion, Kind string
	Namespace, Name  string // Namespace is empty when the manifest does not set it
	Object           any    // *appsv1.Deployment, *batchv1.CronJob, *corev1.Pod, ...
	PodMeta          *metav1.ObjectMeta
	PodSpec          *corev1.PodSpec // points into Object
	Source           string          // "file.yaml#3": file and document number
}

// Decode reads every document of a YAML (or JSON) stream. Kinds other than workloads are skipped;
// a List's items are read in order. source names the stream in errors and in Workload.Source.
func Decode(r io.Reader, source string) ([]Workload, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []Workload
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s document %d: %w", source, doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		ws, err := decodeObject(raw, fmt.Sprintf("%s#%d", source, doc))
		if err != nil {
			return nil, fmt.Errorf("%s document %d: %w", source, doc, err)
		}
		out = append(out, ws...)
	}
}

func decodeObject(raw []byte, source string) ([]Workload, error) {
	var tm struct {
		metav1.TypeMeta `json:",inline"`
		Items           []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, err
	}
	w := Workload{APIVersion: tm.APIVersion, Kind: tm.Kind, Source: source}
	into := func(obj any, meta *metav1.ObjectMeta, podMeta *metav1.ObjectMeta, spec *corev1.PodSpec) ([]Workload, error) {
		if err := json.Unmarshal(raw, obj); err != nil {
			return nil, fmt.Errorf("decode %s: %w", tm.Kind, err)
		}
		if meta.Name == "" {
			return nil, fmt.Errorf("%s without metadata.name", tm.Kind)
		}
		w.Object, w.Namespace, w.Name, w.PodMeta, w.PodSpec = obj, meta.Namespace, meta.Name, podMeta, spec
		return []Workload{w}, nil
	}
	switch tm.Kind {
	case "List", "DeploymentList", "StatefulSetList", "DaemonSetList", "ReplicaSetList", "JobList", "CronJobList", "PodList":
		var out []Workload
		for i, item := range tm.Items {
			ws, err := decodeObject(item, fmt.Sprintf("%s.items[%d]", source, i))
			if err != nil {
				return nil, fmt.Errorf("items[%d]: %w", i, err)
			}
			out = append(out, ws...)
		}
		return out, nil
	case "Deployment":
		o := &appsv1.Deployment{}
		return into(o, &o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
	case "StatefulSet":
		o := &appsv1.StatefulSet{}
		return into(o, &o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
	case "DaemonSet":
		o := &appsv1.DaemonSet{}
		return into(o, &o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
	case "ReplicaSet":
		o := &appsv1.ReplicaSet{}
		return into(o, &o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
	case "Job":
		o := &batchv1.Job{}
		return into(o, &o.ObjectMeta, &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec)
	case "CronJob":
		o := &batchv1.CronJob{}
		return into(o, &o.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec)
	case "Pod":
		o := &corev1.Pod{}
		return into(o, &o.ObjectMeta, &o.ObjectMeta, &o.Spec)
	case "":
		return nil, errors.New("document without kind")
	}
	return nil, nil // not a workload (Service, ConfigMap, ...)
}

// ReadPaths reads files, directories (their *.yaml, *.yml and *.json files, not recursively) and
// "-" (standard input, read from stdin).
func ReadPaths(paths []string, stdin io.Reader) ([]Workload, error) {
	var out []Workload
	for _, p := range paths {
		if p == "-" {
			ws, err := Decode(stdin, "<stdin>")
			if err != nil {
				return nil, err
			}
			out = append(out, ws...)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		files := []string{p}
		if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("read manifests: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				switch strings.ToLower(filepath.Ext(e.Name())) {
				case ".yaml", ".yml", ".json":
					if !e.IsDir() {
						files = append(files, filepath.Join(p, e.Name()))
					}
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return nil, fmt.Errorf("read manifests: %w", err)
			}
			ws, err := Decode(fh, f)
			fh.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, ws...)
		}
	}
	return out, nil
}

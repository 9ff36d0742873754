package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/headroom-dev/headroom/sizing"
)

const stream = `apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: app
        command: [java, -Xmx1g, -jar, app.jar]
        resources:
          limits: {memory: 2Gi, cpu: "1"}
          requests: {memory: 1Gi}
---
# an empty document
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            env: [{name: JAVA_TOOL_OPTIONS, value: -Xmx300m}]
            resources:
              limits: {memory: 512Mi, cpu: 500m}
---
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"template": {"spec": {"containers": [{"name": "pg"}]}}}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": {"containers": [{"name": "sh", "image": "busybox"}]}}
]}
`

func TestDecode(t *testing.T) {
	ws, err := Decode(strings.NewReader(stream), "in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Kind+" "+w.Namespace+"/"+w.Name+" "+w.PodSpec.Containers[0].Name+" "+w.Source)
	}
	want := []string{
		"Deployment shop/web app in.yaml#2",
		"CronJob /nightly job in.yaml#4",
		"StatefulSet /db pg in.yaml#5.items[0]",
		"Pod /debug sh in.yaml#5.items[1]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// PodSpec points into the object: editing it edits the manifest.
	ws[0].PodSpec.Containers[0].Name = "renamed"
	if b, _ := json.Marshal(ws[0].Object); !strings.Contains(string(b), "renamed") {
		t.Error("PodSpec does not point into Object")
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, in := range map[string]string{
		"broken YAML":             "kind: Deployment\nmetadata: {name: [\n",
		"a document with no kind": "metadata: {name: x}\n",
		"a workload with no name": "apiVersion: apps/v1\nkind: Deployment\nspec: {}\n",
		"a wrongly typed field":   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: many}\n",
	} {
		if _, err := Decode(strings.NewReader(in), "bad.yaml"); err == nil || !strings.Contains(err.Error(), "bad.yaml document 1") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCurrent(t *testing.T) {
	ws, err := Decode(strings.NewReader(stream), "in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		w, c string
		want sizing.Current
	}{
		"an explicit -Xmx on the command line": {w: "web", c: "app", want: sizing.Current{Limit: 2 * sizing.Gi, Request: sizing.Gi, JVM: true, Xmx: sizing.Gi}},
		"-Xmx in JAVA_TOOL_OPTIONS; requests default to limits, so Guaranteed": {w: "nightly", c: "job",
			want: sizing.Current{Limit: 512 * sizing.Mi, Request: 512 * sizing.Mi, JVM: true, Xmx: 300 * sizing.Mi, Guaranteed: true}},
		"not a JVM, no resources": {w: "debug", c: "sh", want: sizing.Current{}},
	}
	for name, tt := range tests {
		for _, w := range ws {
			if w.Name != tt.w {
				continue
			}
			got, ok := Current(w.PodSpec, tt.c)
			if !ok {
				t.Errorf("%s: container not found", name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s: (-want +got):\n%s", name, diff)
			}
		}
	}
	if _, ok := Current(ws[0].PodSpec, "nope"); ok {
		t.Error("found a container that does not exist")
	}
}

func TestGuaranteed(t *testing.T) {
	tests := map[string]struct {
		yaml string
		want bool
	}{
		"limits only: requests default to them": {"limits: {cpu: 1, memory: 1Gi}", true},
		"equal requests":                        {"limits: {cpu: 1, memory: 1Gi}\n          requests: {cpu: 1, memory: 1Gi}", true},
		"a smaller memory request":              {"limits: {cpu: 1, memory: 1Gi}\n          requests: {memory: 512Mi}", false},
		"no CPU limit":                          {"limits: {memory: 1Gi}", false},
	}
	for name, tt := range tests {
		in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources:\n          " + tt.yaml + "\n"
		in = strings.ReplaceAll(in, "\n          ", "\n      ")
		ws, err := Decode(strings.NewReader(in), "p")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := Guaranteed(ws[0].PodSpec); got != tt.want {
			t.Errorf("%s: Guaranteed = %v", name, got)
		}
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"b.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c}]}\n",
		"a.yml":  "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n",
		"x.txt":  "not a manifest",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := ReadPaths([]string{dir, "-"}, strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: stdin}\nspec: {containers: [{name: c}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range ws {
		names = append(names, w.Name)
	}
	if diff := cmp.Diff([]string{"a", "b", "stdin"}, names); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ReadPaths([]string{filepath.Join(dir, "missing.yaml")}, nil); err == nil {
		t.Error("a missing file was accepted")
	}
}

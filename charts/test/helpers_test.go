package charttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const (
	// skipEnv lets a developer skip the tests that need built tools locally. CI never sets it.
	skipEnv = "HEADROOM_SKIP_INTEGRATION"
	// kubeVersion is what helm renders for: the version of the kube-apiserver hack/setup.sh builds.
	kubeVersion = "v1.37.2"
	// goldenRelease and goldenNamespace are the release the golden files and config/ are rendered for.
	goldenRelease   = "headroom"
	goldenNamespace = "headroom"
)

// repoRoot is the directory holding the product's go.mod (two levels up from charts/test).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("get working directory: %v", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/headroom-dev/headroom\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("repository root (go.mod of github.com/headroom-dev/headroom) not found above the working directory")
		}
		dir = parent
	}
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "headroom") }

// requireTool returns the path of a tool from $HEADROOM_BIN_DIR or bin/ (hack/setup.sh builds them),
// else from PATH. A missing tool fails the test, or skips it when HEADROOM_SKIP_INTEGRATION is set.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("HEADROOM_BIN_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "bin")
	}
	if p := filepath.Join(dir, name); isFile(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv(skipEnv) != "" {
		t.Skipf("skipped because %s is set: %s not found in %s or on PATH", skipEnv, name, dir)
	}
	t.Fatalf("%s not found in %s or on PATH; run hack/setup.sh (or make setup), or set %s=1 to skip locally", name, dir, skipEnv)
	return ""
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// helm runs bin/helm with its config, cache and data kept in a scratch directory, and returns stdout.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin := requireTool(t, "helm")
	home := helmHome(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

var (
	helmHomeOnce sync.Once
	helmHomeDir  string
)

// helmHome is one scratch directory for the whole test binary, removed by TestMain.
func helmHome(t testing.TB) string {
	helmHomeOnce.Do(func() {
		d, err := os.MkdirTemp("", "headroom-chart-test-helm-")
		if err != nil {
			t.Fatalf("helm home: %v", err)
		}
		helmHomeDir = d
	})
	return helmHomeDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if helmHomeDir != "" {
		os.RemoveAll(helmHomeDir)
	}
	os.Exit(code)
}

// valueSet is one file of testdata/values: a toggle set rendered, checked and applied.
type valueSet struct {
	name string // file name without .yaml
	file string
}

// valueSets discovers testdata/values/*.yaml.
func valueSets(t testing.TB) []valueSet {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("testdata", "values"))
	if err != nil {
		t.Fatalf("read testdata/values: %v", err)
	}
	var sets []valueSet
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			sets = append(sets, valueSet{name: name, file: filepath.Join("testdata", "values", e.Name())})
		}
	}
	if len(sets) == 0 {
		t.Fatal("no values sets in testdata/values")
	}
	return sets
}

// render runs helm template for a release and returns the manifest stream.
func render(t testing.TB, release, namespace string, args ...string) string {
	t.Helper()
	all := append([]string{"template", release, chartDir(t), "--namespace", namespace, "--kube-version", kubeVersion}, args...)
	out, err := helm(t, all...)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return out
}

// decode splits a manifest stream into objects, skipping empty documents.
func decode(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for i, doc := range strings.Split(manifest, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("document %d is not YAML: %v\n%s", i, err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

// values are the chart's effective values for a values set: values.yaml with the set merged over it.
func values(t testing.TB, set valueSet) map[string]any {
	t.Helper()
	base := readYAMLMap(t, filepath.Join(chartDir(t), "values.yaml"))
	return merge(base, readYAMLMap(t, set.file))
}

func readYAMLMap(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// merge overlays src on dst the way Helm coalesces values: maps merge, everything else replaces.
func merge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			dst[k] = merge(dm, sm)
			continue
		}
		dst[k] = v
	}
	return dst
}

// val reads a dotted path from values; it fails the test when the path is missing.
func val(t testing.TB, v map[string]any, path string) any {
	t.Helper()
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("values: %s: %q is not a map", path, k)
		}
		if cur, ok = m[k]; !ok {
			t.Fatalf("values: %s missing", path)
		}
	}
	return cur
}

func valBool(t testing.TB, v map[string]any, path string) bool {
	t.Helper()
	b, ok := val(t, v, path).(bool)
	if !ok {
		t.Fatalf("values: %s is not a bool", path)
	}
	return b
}

func valString(t testing.TB, v map[string]any, path string) string {
	t.Helper()
	s, ok := val(t, v, path).(string)
	if !ok {
		t.Fatalf("values: %s is not a string", path)
	}
	return s
}

// yamlNode parses a file into a yaml.v3 node tree, which keeps comments.
func yamlNode(t testing.TB, path string) *yamlv3.Node {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var n yamlv3.Node
	if err := yamlv3.Unmarshal(b, &n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

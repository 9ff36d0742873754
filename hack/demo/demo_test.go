package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/jvm"
)

// TestDemo runs `make demo` end to end on the real components, so the newcomer's first command
// cannot rot: the seed pod must come out sized and the dry-run namespace must warn.
func TestDemo(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{}
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "prometheus", "promtool"} {
		bins[name] = testenv.Require(t, name)
	}
	bins["headroom"] = filepath.Join(t.TempDir(), "headroom")
	if out, err := exec.Command("go", "build", "-o", bins["headroom"], filepath.Join(root, "cmd", "headroom")).CombinedOutput(); err != nil {
		t.Fatalf("build headroom: %v\n%s", err, out)
	}
	var out bytes.Buffer
	d := &demo{root: root, out: t.TempDir(), w: &out, bin: func(name string) string { return bins[name] }}
	err = d.run(context.Background(), false)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	// The seed JVM: limit raised for cache, -Xmx lowered where the script really sets it.
	if d.before.limit != "3000Mi" || d.before.xmx != "2000m" {
		t.Errorf("seed pod before headroom: %+v, want limit 3000Mi and -Xmx 2000m", d.before)
	}
	after, err := resource.ParseQuantity(d.after.limit)
	if err != nil || after.Cmp(resource.MustParse("3000Mi")) <= 0 {
		t.Errorf("seed pod limit after headroom %q, want above 3000Mi", d.after.limit)
	}
	if xmx, err := jvm.ParseSize(d.after.xmx); err != nil || xmx >= 2000<<20 || d.after.xmxWhere != "env JAVA_OPTS via sh -c" {
		t.Errorf("seed pod -Xmx after headroom %q in %q, want below 2000m in env JAVA_OPTS via sh -c", d.after.xmx, d.after.xmxWhere)
	}
	if len(d.warnings) == 0 || !strings.HasPrefix(d.warnings[0], "headroom dry-run: ") {
		t.Errorf("dry-run warnings %q", d.warnings)
	}
	if !strings.Contains(out.String(), "NAMESPACE search · mode dry-run") {
		t.Errorf("the report of the dry-run namespace is missing from the output")
	}
	if st, err := os.Stat(filepath.Join(d.out, "report.html")); err != nil || st.Size() < 10000 {
		t.Errorf("HTML report: %v", err)
	}
}

package charttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// headroomBinary builds cmd/headroom of this checkout once per test run.
func headroomBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "headroom-chart-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "headroom")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/headroom")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build cmd/headroom: %v\n%s", buildErr, binary)
	}
	return binary
}

// Every container's arguments are accepted by the real headroom binary: the subcommand exists, every
// flag is one of its flags, and every value parses (cobra parses all flags before it honours --help).
func TestContainerArgsAreTheBinarysFlags(t *testing.T) {
	bin := headroomBinary(t)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bin)) })
	for _, set := range valueSets(t) {
		t.Run(set.name, func(t *testing.T) {
			objs := typed(t, decode(t, render(t, goldenRelease, goldenNamespace, "-f", set.file)))
			var pods []corev1.PodTemplateSpec
			for _, d := range ofType[*appsv1.Deployment](objs) {
				pods = append(pods, d.Spec.Template)
			}
			for _, d := range ofType[*appsv1.DaemonSet](objs) {
				pods = append(pods, d.Spec.Template)
			}
			for _, p := range pods {
				for _, c := range p.Spec.Containers {
					t.Run(c.Name, func(t *testing.T) {
						if len(c.Command) != 0 || len(c.Args) == 0 {
							t.Fatalf("container %s: command %v args %v, want the image's entrypoint and a subcommand", c.Name, c.Command, c.Args)
						}
						out, err := exec.Command(bin, append(c.Args, "--help")...).CombinedOutput()
						if err != nil || !strings.Contains(string(out), "Usage:\n  headroom "+c.Args[0]) {
							t.Errorf("headroom %s does not accept the chart's arguments (%v):\n%s", strings.Join(c.Args, " "), err, out)
						}
					})
				}
			}
		})
	}
}

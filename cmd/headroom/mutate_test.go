package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateMutate = flag.Bool("update", false, "rewrite testdata/mutate/want*")

// TestMutate runs `headroom mutate` on manifests with a Namespace in dry-run, a LimitRange, a
// Deployment, a CronJob and a Service, and compares stdout and stderr with the golden files.
func TestMutate(t *testing.T) {
	dir := filepath.Join("testdata", "mutate")
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"mutate", "-f", filepath.Join(dir, "manifests.yaml"), "--recommendations", filepath.Join(dir, "recommendations.yaml")})
	if err := root.Execute(); err != nil {
		t.Fatalf("mutate: %v\n%s", err, errOut.String())
	}
	for name, got := range map[string]string{"want.yaml": out.String(), "want-summary.txt": errOut.String()} {
		file := filepath.Join(dir, name)
		if *updateMutate {
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("%s differs (-want +got; -update accepts):\n%s", file, diff)
		}
	}
}

// TestMutateStdinAndDryRun reads the manifests from stdin in dry-run mode: nothing but the
// would-size annotation changes.
func TestMutateStdinAndDryRun(t *testing.T) {
	dir := filepath.Join("testdata", "mutate")
	in, err := os.ReadFile(filepath.Join(dir, "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetIn(bytes.NewReader(in))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"mutate", "-f", "-", "--recommendations", filepath.Join(dir, "recommendations.yaml"), "--mode", "dry-run"})
	if err := root.Execute(); err != nil {
		t.Fatalf("mutate: %v", err)
	}
	if strings.Contains(out.String(), "headroom.dev/sized") || strings.Contains(out.String(), "memory: 3712Mi") {
		t.Errorf("dry-run changed the manifests:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "headroom.dev/would-size") || !strings.Contains(errOut.String(), "would size app") {
		t.Errorf("dry-run did not say what it would do:\n%s\n%s", out.String(), errOut.String())
	}
}

func TestMutateNeedsRecommendations(t *testing.T) {
	root := newRootCmd()
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{"mutate", "-f", "-"})
	if err := root.Execute(); err == nil {
		t.Fatal("mutate without --recommendations must fail")
	}
}

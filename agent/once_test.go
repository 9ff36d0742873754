package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/headroom-dev/headroom/reclaim"
)

func TestOnceOnAFakeV2Cgroup(t *testing.T) {
	t.Run("over the threshold: reclaims and prints before, decision, action", func(t *testing.T) {
		dir := t.TempDir()
		writeV2(t, dir, overLimit)
		var out strings.Builder
		if err := Once(&out, dir, reclaim.DefaultThresholds, fakeProc(t, false)); err != nil {
			t.Fatal(err)
		}
		// A plain file does not shrink when written to; the kernel's part is tested with real cgroups.
		b, _ := os.ReadFile(filepath.Join(dir, "memory.reclaim"))
		if string(b) != "367001600 swappiness=0" {
			t.Errorf("memory.reclaim = %q", b)
		}
		want := []string{
			"cgroup    " + dir + " (cgroup v2)",
			"limit     1000.0MiB; threshold 75% (750.0MiB), target 60% (600.0MiB)",
			"before    usage 950.0MiB (95.0%), working set 270.0MiB (27.0%), cache 690.0MiB (active 10.0MiB, inactive 680.0MiB), rss 250.0MiB",
			"decision  reclaim: usage over the 75% threshold (usage 95.0%, working set 27.0% of 1000.0MiB): reclaim 350.0MiB of page cache to reach 60%",
			"action    asked 350.0MiB with memory.reclaim in 0s: success",
			"after     usage 950.0MiB (95.0%), working set 270.0MiB (27.0%), cache 690.0MiB (active 10.0MiB, inactive 680.0MiB), rss 250.0MiB",
			"freed     0.0MiB of page cache; rss 250.0MiB -> 250.0MiB",
		}
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		got[4] = regexp.MustCompile(` in [0-9.]+[µnm]?s:`).ReplaceAllString(got[4], " in 0s:")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	})

	t.Run("under the threshold: prints the decision and writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		writeV2(t, dir, underLimit)
		var out strings.Builder
		if err := Once(&out, dir, reclaim.DefaultThresholds, ""); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "decision  under-threshold: ") {
			t.Errorf("output:\n%s", out.String())
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "memory.reclaim")); len(b) != 0 {
			t.Errorf("memory.reclaim = %q, want nothing written", b)
		}
	})
}

func TestOnceRefusesBadCgroups(t *testing.T) {
	noReclaim := t.TempDir()
	writeV2(t, noReclaim, overLimit)
	if err := os.Remove(filepath.Join(noReclaim, "memory.reclaim")); err != nil {
		t.Fatal(err)
	}
	notMemory := t.TempDir()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		dir  string
		th   reclaim.Thresholds
		want string
	}{
		"a missing cgroup":                   {filepath.Join(notMemory, "gone"), reclaim.DefaultThresholds, "gone does not exist"},
		"a file, not a cgroup":               {file, reclaim.DefaultThresholds, "not a directory"},
		"a directory without memory.*":       {notMemory, reclaim.DefaultThresholds, "not a memory cgroup"},
		"a v2 cgroup without memory.reclaim": {noReclaim, reclaim.DefaultThresholds, "memory.reclaim is missing"},
		"thresholds upside down":             {noReclaim, reclaim.Thresholds{Threshold: 0.5, Target: 0.6}, "need 0 < target"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			err := Once(&out, tc.dir, tc.th, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Once = %v, want an error containing %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q before failing", out.String())
			}
		})
	}
}

// TestOnceRefusesAReadOnlyCgroup mounts a fake v2 cgroup read-only in a private mount namespace (a
// child process, so the host's mounts are never touched) and runs the manual mode there.
func TestOnceRefusesAReadOnlyCgroup(t *testing.T) {
	dir := t.TempDir()
	writeV2(t, dir, overLimit)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=readonly-once", "HEADROOM_AGENT_TEST_CGROUP="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "setup:") {
		if os.Getenv(skipEnv) != "" {
			t.Skipf("skipped because %s is set: %s", skipEnv, out)
		}
		t.Fatalf("a private read-only mount needs root (set %s=1 to skip locally): %s", skipEnv, out)
	}
	if want := "memory.reclaim is not writable: read-only file system"; err == nil || !strings.Contains(string(out), want) {
		t.Errorf("Once on a read-only cgroup: exit %v, output %q; want a failure saying %q", err, out, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "memory.reclaim")); len(b) != 0 {
		t.Errorf("memory.reclaim = %q, want nothing written", b)
	}
}

// readOnlyOnce is the helper side: in its own mount namespace, make every mount private (so nothing
// propagates to the host), bind the cgroup read-only over itself and run Once on it.
func readOnlyOnce() int {
	dir := os.Getenv("HEADROOM_AGENT_TEST_CGROUP")
	for _, m := range []struct {
		src, dst string
		flags    uintptr
	}{
		{"", "/", unix.MS_REC | unix.MS_PRIVATE},
		{dir, dir, unix.MS_BIND},
		{"", dir, unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY},
	} {
		if err := unix.Mount(m.src, m.dst, "", m.flags, ""); err != nil {
			fmt.Println("setup: mount", m.dst, err)
			return 2
		}
	}
	if err := Once(os.Stdout, dir, reclaim.DefaultThresholds, ""); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

package jvm

import (
	"fmt"
	"strings"
	"testing"
)

// TestMaxHeapFor checks HotSpot's heap ergonomics against FACTS.md B.1 and B.4 (OpenJDK 17, a container
// limit seen as physical memory) and the upper bound for settings that may not reach the JVM.
func TestMaxHeapFor(t *testing.T) {
	const m = mib
	java := func(opts ...string) Container {
		return Container{Command: append(append([]string{"java"}, opts...), "-jar", "/opt/app.jar")}
	}
	for name, tc := range map[string]struct {
		c     Container
		limit int64
		want  int64
	}{
		"B.4 128 MiB: MinRAMPercentage (50 %) for small memory":      {java(), 128 * m, 64 * m},
		"B.4 256 MiB: the built-in 124.8 MiB, aligned up to 126":     {java(), 256 * m, 126 * m},
		"B.4 512 MiB: 25 % is 128 MiB":                               {java(), 512 * m, 128 * m},
		"B.4 1 GiB: 25 %":                                            {java(), 1024 * m, 256 * m},
		"B.4 1791 MiB":                                               {java(), 1791 * m, 448 * m},
		"B.4 3000 MiB":                                               {java(), 3000 * m, 750 * m},
		"B.4 3000 MiB with MaxRAMPercentage=75":                      {java("-XX:MaxRAMPercentage=75"), 3000 * m, 2250 * m},
		"B.4 3000 MiB with MaxRAM=8g: MaxRAM replaces the limit":     {java("-XX:MaxRAM=8g"), 3000 * m, 2048 * m},
		"B.1 MaxRAM=4g":                                              {java("-XX:MaxRAM=4g"), 0, 1024 * m},
		"B.1 MaxRAMPercentage=75 with MaxRAM=4g":                     {java("-XX:MaxRAMPercentage=75", "-XX:MaxRAM=4g"), 0, 3072 * m},
		"MaxRAMFraction=2 is 50 %":                                   {java("-XX:MaxRAMFraction=2"), 1024 * m, 512 * m},
		"MaxRAMPercentage beats MaxRAMFraction, in either order":     {java("-XX:MaxRAMPercentage=75", "-XX:MaxRAMFraction=2"), 1024 * m, 768 * m},
		"small memory ignores MaxRAMPercentage":                      {java("-XX:MaxRAMPercentage=80"), 100 * m, 50 * m},
		"an -Xms above the ergonomic heap raises it":                 {java("-Xms1g"), 512 * m, 1024 * m},
		"an explicit -Xmx is the heap whatever the limit":            {java("-Xmx1200m"), 512 * m, 1200 * m},
		"an explicit -Xmx is aligned up (B.2: -Xmx3m is 4 MiB)":      {java("-Xmx3m"), 512 * m, 4 * m},
		"G1 aligns a large heap to its region size":                  {java("-Xmx8193m"), 16 * gib, 8200 * m},
		"MaxRAM above 128 GiB counts when set":                       {java("-XX:MaxRAM=200g"), 0, 51200 * m},
		"a limit above 128 GiB counts as 128 GiB (MaxRAM's default)": {java(), 200 * gib, 32 * gib},
		"no limit and no MaxRAM: unknown, explicit sizes only":       {java("-Xms100m"), 0, 100 * m},
		"java not visible: a possible -Xmx larger than 25 % counts": {
			Container{Command: []string{"/entrypoint.sh", "-Xmx3g"}}, 4096 * m, 3072 * m},
		"java not visible: a possible -Xmx smaller than 25 % does not lower it": {
			Container{Command: []string{"/entrypoint.sh", "-Xmx300m"}}, 4096 * m, 1024 * m},
		"java not visible: a possible -Xms raises the bound": {
			Container{Command: []string{"/entrypoint.sh", "-Xms2g"}}, 4096 * m, 2048 * m},
	} {
		t.Run(name, func(t *testing.T) {
			h := Analyze(tc.c)
			if got := h.MaxHeapFor(tc.limit); got != tc.want {
				t.Errorf("MaxHeapFor(%s) = %s, want %s (heap %+v)", FormatSize(tc.limit), FormatSize(got), FormatSize(tc.want), h)
			}
		})
	}
}

// TestMaxHeapForRealJVM compares MaxHeapFor with the installed JVM. A container limit is emulated with
// -XX:MaxRAM=<limit> placed first (in JAVA_TOOL_OPTIONS, so the container's own MaxRAM still wins):
// the JVM takes MaxRAM as its physical memory exactly as it takes a cgroup limit (FACTS.md B.4).
func TestMaxHeapForRealJVM(t *testing.T) {
	h := newJVMHarness(t)
	const m = mib
	java := func(opts ...string) Container {
		return Container{Command: append(append([]string{"java"}, opts...), "-jar", "/opt/app.jar")}
	}
	cases := map[string]struct {
		c     Container
		limit int64
	}{
		"the shell form with JAVA_OPTS":   {Container{Command: shc("exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Dx=1")}, 3000 * m},
		"MaxRAMPercentage=75":             {java("-XX:MaxRAMPercentage=75"), 3000 * m},
		"MaxRAM=8g over a 3000 MiB limit": {java("-XX:MaxRAM=8g"), 3000 * m},
		"MaxRAMFraction=2":                {java("-XX:MaxRAMFraction=2"), 1024 * m},
		"MaxRAMFraction=3":                {java("-XX:MaxRAMFraction=3"), 1000 * m},
		"MaxRAMPercentage=80, small":      {java("-XX:MaxRAMPercentage=80"), 100 * m},
		"MaxRAMPercentage=10":             {java("-XX:MaxRAMPercentage=10"), 2000 * m},
		"MaxRAMPercentage=33.3":           {Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=33.3")}, 3001 * m},
		"-Xms1g above 25 % of 512 MiB":    {java("-Xms1g"), 512 * m},
		"-XX:MinHeapSize=1g":              {java("-XX:MinHeapSize=1g"), 512 * m},
		"-Xms100m below 25 %":             {java("-Xms100m"), 2048 * m},
		"-Xmx3m":                          {java("-Xmx3m"), 512 * m},
		"-Xmx8193m":                       {java("-Xmx8193m"), 16384 * m},
		"-Xmx1200m in JAVA_TOOL_OPTIONS":  {Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1200m")}, 512 * m},
		"MaxRAM=200g":                     {java("-XX:MaxRAM=200g"), 3000 * m},
	}
	for _, limit := range []int64{64, 100, 128, 200, 249, 250, 256, 300, 512, 1000, 1024, 1791, 1792, 3000, 4100, 17000, 33000} {
		cases[fmt.Sprintf("no heap setting, limit %d MiB", limit)] = struct {
			c     Container
			limit int64
		}{java(), limit * m}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			heap := Analyze(tc.c)
			if !heap.Certain() || len(heap.Invalid) > 0 {
				t.Fatalf("case not certain: %+v", heap)
			}
			got, err := h.maxHeap(withMaxRAM(tc.c, tc.limit), jvmCase{})
			if err != nil {
				t.Fatal(err)
			}
			if want := heap.MaxHeapFor(tc.limit); got[len(got)-1] != want {
				t.Errorf("limit %s: MaxHeapFor says %s, the JVM uses %s", FormatSize(tc.limit), FormatSize(want), FormatSize(got[len(got)-1]))
			}
		})
	}
}

// withMaxRAM puts -XX:MaxRAM=<limit> before every other JVM option: at the front of JAVA_TOOL_OPTIONS.
func withMaxRAM(c Container, limit int64) Container {
	opt := "-XX:MaxRAM=" + FormatSize(limit)
	out := Container{Command: c.Command, Args: c.Args}
	found := false
	for _, e := range c.Env {
		if e.Name == envJavaToolOptions && !found {
			e.Value = strings.TrimSpace(opt + " " + e.Value)
			found = true
		}
		out.Env = append(out.Env, e)
	}
	if !found {
		out.Env = append([]EnvVar{{Name: envJavaToolOptions, Value: opt}}, out.Env...)
	}
	return out
}

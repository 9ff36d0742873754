package jvm

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The real-JVM test starts, for every case, the exact process the container would start (the kubelet's
// $(VAR) expansion, then command/args as the runtime runs them, sh -c included) with the installed java,
// and reads MaxHeapSize from -XX:+PrintFlagsFinal. A stand-in "java" first on PATH keeps the options and
// replaces the main class or -jar target (and everything after it) by -XX:+PrintFlagsFinal -version.
// It checks both what Analyze claims about the original container and what Rewrite promises.

// jvmShim is the stand-in java. It rotates "$@": each original argument is shifted off the front and, if
// kept, appended at the back, so that after the loop "$@" holds the kept options only.
const jvmShim = `#!/bin/sh
n=$#
i=0
while [ "$i" -lt "$n" ]; do
	a=$1
	shift
	i=$((i+1))
	case "$a" in
	-jar|-m|--module|com.example.*)
		shift $((n-i))
		break
		;;
	-cp|-classpath|--class-path)
		set -- "$@" "$a" "$1"
		shift
		i=$((i+1))
		continue
		;;
	esac
	set -- "$@" "$a"
done
exec REALJAVA "$@" -XX:+PrintFlagsFinal -version
`

type jvmCase struct {
	c    Container
	heap int64 // the size to rewrite to; 0: only check what Analyze says about c
	// values stands for what valueFrom variables resolve to in the cluster.
	values map[string]string
	// image is what the image's ENTRYPOINT runs when java is not visible in command/args.
	image []string
}

func realJVMCases() map[string]jvmCase {
	const m = int64(1) << 20
	from := func(name string) EnvVar { return EnvVar{Name: name, FromSource: true} }
	app := []string{"java", "-jar", "/opt/app.jar"}
	return map[string]jvmCase{
		"the seed case: /bin/sh -c java $JAVA_OPTS -jar with JAVA_OPTS=-Xmx2000m": {
			c: Container{Command: shc("java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m")}, heap: 1200 * m},
		"the seed case with exec, lowered to 768m": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m")}, heap: 768 * m},
		"the seed case raised to 6g": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m")}, heap: 6144 * m},
		"JAVA_TOOL_OPTIONS loses to args": {
			c: Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g")}, heap: 1200 * m},
		"_JAVA_OPTIONS wins over args": {
			c: Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "/opt/app.jar"}, Env: envs("_JAVA_OPTIONS", "-Xmx1g")}, heap: 1200 * m},
		"JDK_JAVA_OPTIONS beats JAVA_TOOL_OPTIONS": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g", "JDK_JAVA_OPTIONS", "-Xmx3g")}, heap: 1200 * m},
		"two -Xmx in one variable": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g -Xmx3g")}, heap: 1200 * m},
		"-XX:MaxHeapSize after -Xmx": {
			c: Container{Command: []string{"java", "-Xmx2g", "-XX:MaxHeapSize=1g", "-jar", "/opt/app.jar"}}, heap: 1200 * m},
		"-Xmx after -XX:MaxHeapSize": {
			c: Container{Command: []string{"java", "-XX:MaxHeapSize=1g", "-Xmx2g", "-jar", "/opt/app.jar"}}, heap: 1200 * m},
		"$(JAVA_OPTS) in args": {
			c: Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "/opt/app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g")}, heap: 1200 * m},
		"-Xmx$(HEAP) in command": {
			c: Container{Command: []string{"java", "-Xmx$(HEAP)", "-jar", "/opt/app.jar"}, Env: envs("HEAP", "2g")}, heap: 1200 * m},
		"$(VAR) in an env value sees an earlier variable": {
			c: Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "/opt/app.jar"}, Env: envs("HEAP", "-Xmx1g", "JAVA_OPTS", "$(HEAP)")}, heap: 1200 * m},
		"a duplicate JAVA_TOOL_OPTIONS: the later entry": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx3g", "JAVA_TOOL_OPTIONS", "-Xmx2g")}, heap: 1200 * m},
		"exec java \"$@\" with the options after the script": {
			c: Container{Command: shc(`exec java "$@"`, "--", "-Xmx1g", "-jar", "/opt/app.jar")}, heap: 1200 * m},
		"sh -c with the script in args": {
			c: Container{Command: []string{"sh", "-c"}, Args: []string{"exec java -Xmx512m -jar /opt/app.jar"}}, heap: 1200 * m},
		"a quoted literal in the script": {
			c: Container{Command: shc(`cd / && exec java "-Xmx2g" -Dx=y -jar /opt/app.jar`)}, heap: 1200 * m},
		"every other byte of JAVA_OPTS is kept": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", " -Dx=1\t-Xmx2g  -Dy=-Xmx9g ")}, heap: 1200 * m},
		"valueFrom JAVA_TOOL_OPTIONS under a command-line -Xmx": {
			c: Container{Command: []string{"java", "-Xmx1g", "-jar", "/opt/app.jar"}, Env: []EnvVar{from("JAVA_TOOL_OPTIONS")}}, heap: 1200 * m,
			values: map[string]string{"JAVA_TOOL_OPTIONS": "-Xmx3g -Xms64m"}},
		"-Xms above the new size is lowered": {
			c: Container{Command: []string{"java", "-Xms4g", "-Xmx4g", "-jar", "/opt/app.jar"}}, heap: 1200 * m},
		"-Xms in the script, -Xmx in JAVA_OPTS": {
			c: Container{Command: shc("exec java $JAVA_OPTS -Xms2g -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx3g")}, heap: 1200 * m},
		"MaxRAMPercentage only, exec form": {
			c: Container{Command: []string{"java", "-XX:MaxRAMPercentage=75", "-jar", "/opt/app.jar"}}, heap: 1200 * m},
		"MaxRAMPercentage only, in JAVA_OPTS": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-XX:MaxRAMPercentage=75 -Dx=1")}, heap: 1200 * m},
		"MaxRAMPercentage in a quoted \"$JAVA_OPTS\"": {
			c: Container{Command: shc(`exec java "$JAVA_OPTS" -jar /opt/app.jar`), Env: envs("JAVA_OPTS", "-XX:MaxRAMPercentage=75")}, heap: 1200 * m},
		"MaxRAMPercentage in _JAVA_OPTIONS": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("_JAVA_OPTIONS", "-XX:MaxRAMPercentage=50")}, heap: 1200 * m},
		"MaxRAMPercentage in JAVA_TOOL_OPTIONS": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75")}, heap: 1200 * m},
		"no heap setting: JAVA_TOOL_OPTIONS is added": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("A", "1")}, heap: 1200 * m},
		"java not visible: JAVA_TOOL_OPTIONS is added": {
			c: Container{}, image: app, heap: 1200 * m},
		"java not visible: an existing JAVA_TOOL_OPTIONS -Xmx is rewritten": {
			c: Container{Env: envs("JAVA_TOOL_OPTIONS", "-Dx=1 -Xmx1g")}, image: app, heap: 1200 * m},
		"command empty, args start with java": {
			c: Container{Args: []string{"java", "-Xmx1g", "-jar", "/opt/app.jar"}}, heap: 1200 * m},
		"two java invocations sharing JAVA_OPTS": {
			c: Container{Command: shc("java $JAVA_OPTS com.example.Migrate && exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")}, heap: 1200 * m},
		"two java invocations with their own -Xmx": {
			c: Container{Command: shc("java -Xmx256m com.example.Migrate && exec java -Xmx2g -jar /opt/app.jar")}, heap: 1200 * m},
		"java -version first": {
			c: Container{Command: shc("java -version && exec java -Xmx2g -jar /opt/app.jar")}, heap: 1200 * m},
		"CATALINA_OPTS after JAVA_OPTS": {
			c: Container{Command: shc("exec java $JAVA_OPTS $CATALINA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g", "CATALINA_OPTS", "-Xmx2g")}, heap: 1200 * m},
		"${JAVA_OPTS:-default} with JAVA_OPTS empty": {
			c: Container{Command: shc("exec java ${JAVA_OPTS:--Xmx512m -Xms256m} -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "")}, heap: 1200 * m},
		"an assignment in the script": {
			c: Container{Command: shc(`JAVA_OPTS="-Xmx1g $JAVA_OPTS"; exec java $JAVA_OPTS -jar /opt/app.jar`), Env: envs("JAVA_OPTS", "-Xms512m")}, heap: 1200 * m},
		"export JAVA_TOOL_OPTIONS in the script": {
			c: Container{Command: shc("export JAVA_TOOL_OPTIONS=-Xmx1g; exec java -jar /opt/app.jar")}, heap: 1200 * m},
		"a prefix assignment of _JAVA_OPTIONS": {
			c: Container{Command: shc("_JAVA_OPTIONS=-Xmx1g exec java -Xmx2g -jar /opt/app.jar")}, heap: 1200 * m},
		"set -- then exec java \"$@\"": {
			c: Container{Command: shc(`set -- -Xmx768m "$@"; exec java "$@"`, "sh", "-jar", "/opt/app.jar")}, heap: 1200 * m},
		"nested bash -c": {
			c: Container{Command: shc(`exec bash -c 'exec java $JAVA_OPTS -jar /opt/app.jar'`), Env: envs("JAVA_OPTS", "-Xmx1g")}, heap: 1200 * m},
		"env wrapper": {
			c: Container{Command: []string{"env", "JAVA_TOOL_OPTIONS=-Xmx1g", "java", "-jar", "/opt/app.jar"}}, heap: 1200 * m},
		"a function that starts java": {
			c: Container{Command: shc(`start() { exec java "$@" -jar /opt/app.jar; }; start -Xmx1g`)}, heap: 1200 * m},
		"$JAVA_HOME/bin/java": {
			c: Container{Command: shc(`exec "$JAVA_HOME/bin/java" -Xmx1g -jar /opt/app.jar`)}, heap: 1200 * m},
		"quotes inside JAVA_TOOL_OPTIONS": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", `-Dname="a b" "-Xmx1g"`)}, heap: 1200 * m},
		"a size in k": {
			c: Container{Command: []string{"java", "-Xmx1g", "-jar", "/opt/app.jar"}}, heap: 1200*m + 2048*1024},

		// Options Analyze reports as invalid: the real JVM must refuse to start.
		"-Xmx1.5g does not start": {
			c: Container{Command: []string{"java", "-Xmx1.5g", "-jar", "/opt/app.jar"}}},
		"$(JAVA_OPTS) with two options is one argument and does not start": {
			c: Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "/opt/app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g -Xms1g")}},
		"a quoted \"$JAVA_OPTS\" with two options does not start": {
			c: Container{Command: shc(`exec java "$JAVA_OPTS" -jar /opt/app.jar`), Env: envs("JAVA_OPTS", "-Xms1g -Xmx2g")}},
		"-Xmx2000MB in JAVA_TOOL_OPTIONS does not start": {
			c: Container{Command: []string{"java", "-Xmx1g", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx2000MB")}},
		"an unmatched quote in JAVA_TOOL_OPTIONS does not start": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", `-Xmx1g "-Dx=a`)}},
		"-Xms above -Xmx does not start": {
			c: Container{Command: []string{"java", "-Xms4g", "-Xmx2g", "-jar", "/opt/app.jar"}}},
		"-XX:InitialHeapSize below the -Xms minimum does not start": {
			c: Container{Command: []string{"java", "-Xms1g", "-XX:InitialHeapSize=512m", "-jar", "/opt/app.jar"}}},
		"a main class in JDK_JAVA_OPTIONS does not start": {
			c: Container{Command: []string{"java", "-jar", "/opt/app.jar"}, Env: envs("JDK_JAVA_OPTIONS", "-Xmx1g com.example.Main")}},
		"-Xmx after -jar is the application's: the JVM default applies": {
			c: Container{Command: []string{"java", "-Xms8m", "-jar", "/opt/app.jar", "-Xmx1g"}, Env: envs("JAVA_TOOL_OPTIONS", "-XX:MaxRAM=1g")}},
	}
}

func TestRealJVM(t *testing.T) {
	h := newJVMHarness(t)
	cases := realJVMCases()
	rewrites := 0
	for _, tc := range cases {
		if tc.heap != 0 {
			rewrites++
		}
	}
	if rewrites < 30 {
		t.Fatalf("only %d real-JVM rewrite cases, want at least 30", rewrites)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before := Analyze(tc.c)
			got, err := h.maxHeap(tc.c, tc)
			switch {
			case len(before.Invalid) > 0:
				if err == nil {
					t.Fatalf("Analyze reports %v as invalid, but the JVM started with MaxHeapSize %v", before.Invalid, got)
				}
			case err != nil:
				t.Fatalf("original container: %v", err)
			case before.Certain() && before.MaxHeap != 0:
				// Heap describes the last JVM the container starts.
				if g := got[len(got)-1]; g != before.MaxHeap {
					t.Errorf("Analyze says MaxHeap %s (%s), the JVM uses %s", FormatSize(before.MaxHeap), before.Where, FormatSize(g))
				}
			case before.Certain() && before.MaxRAM >= 1<<30 && before.MaxRAMPercentage == 0:
				// No explicit size: the JVM takes 25 % of MaxRAM (FACTS.md B.1: MaxRAM=4g gives 1024m).
				if g := got[len(got)-1]; g != before.MaxRAM/4 {
					t.Errorf("Analyze found no max heap and MaxRAM %s, the JVM uses %s, want 25 %%", FormatSize(before.MaxRAM), FormatSize(g))
				}
			}
			if tc.heap == 0 {
				return
			}
			next, ch, err := Rewrite(tc.c, tc.heap)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			after, err := h.maxHeap(next, tc)
			if err != nil {
				t.Fatalf("rewritten container %+v: %v", next, err)
			}
			for _, g := range after {
				if g != tc.heap {
					t.Errorf("Rewrite promised %s (%s), the JVM uses %s; container %+v", FormatSize(tc.heap), ch.Where, FormatSize(g), next)
				}
			}
		})
	}
}

type jvmHarness struct {
	shimDir, javaHome string
}

// newJVMHarness installs the stand-in java in a temporary directory.
func newJVMHarness(t *testing.T) jvmHarness {
	t.Helper()
	if os.Getenv("HEADROOM_SKIP_INTEGRATION") != "" {
		t.Skip("HEADROOM_SKIP_INTEGRATION is set")
	}
	real, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (%v): install openjdk-17-jre-headless (make setup) or set HEADROOM_SKIP_INTEGRATION=1", err)
	}
	root := t.TempDir()
	shimDir := filepath.Join(root, "bin")
	if err := os.Mkdir(shimDir, 0o755); err != nil {
		t.Fatal(err)
	}
	shim := strings.Replace(jvmShim, "REALJAVA", strconv.Quote(real), 1)
	if err := os.WriteFile(filepath.Join(shimDir, "java"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	return jvmHarness{shimDir: shimDir, javaHome: root}
}

// maxHeap starts the container's process and returns the MaxHeapSize of every JVM it started.
func (h jvmHarness) maxHeap(c Container, tc jvmCase) ([]int64, error) {
	env, argv := kubeletProcess(c, tc.values)
	if len(c.Command) == 0 {
		// The image's ENTRYPOINT: tests use images without one (args run as the command) or, when args
		// are empty too, the command the image would run.
		if len(argv) == 0 {
			argv = tc.image
		}
	}
	if len(argv) == 0 {
		return nil, errors.New("nothing to run")
	}
	path := h.shimDir + ":/usr/local/bin:/usr/bin:/bin"
	bin := argv[0]
	if !strings.Contains(bin, "/") {
		for _, dir := range strings.Split(path, ":") {
			if _, err := os.Stat(filepath.Join(dir, bin)); err == nil {
				bin = filepath.Join(dir, bin)
				break
			}
		}
	}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir = "/"
	// A clean environment: the test's own JAVA_TOOL_OPTIONS and friends must not leak in.
	cmd.Env = []string{"PATH=" + path, "JAVA_HOME=" + h.javaHome, "HOME=/tmp"}
	for _, kv := range env {
		cmd.Env = append(cmd.Env, kv)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.New(err.Error() + ": " + strings.TrimSpace(stderr.String()))
	}
	var sizes []int64
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == "MaxHeapSize" {
			v, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return nil, err
			}
			sizes = append(sizes, v)
		}
	}
	if len(sizes) == 0 {
		return nil, errors.New("no MaxHeapSize in the output: " + stdout.String() + stderr.String())
	}
	return sizes, nil
}

// kubeletProcess is the environment and argv the container runtime gets, computed the way the kubelet
// does (independently of the package: this is the reference the package is tested against).
func kubeletProcess(c Container, values map[string]string) (env []string, argv []string) {
	vars := map[string]string{}
	var order []string
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.FromSource:
			v = values[e.Name]
		case v != "":
			v = refExpand(v, vars)
		}
		if _, ok := vars[e.Name]; !ok {
			order = append(order, e.Name)
		}
		vars[e.Name] = v
	}
	for _, name := range order {
		env = append(env, name+"="+vars[name])
	}
	for _, s := range append(append([]string{}, c.Command...), c.Args...) {
		argv = append(argv, refExpand(s, vars))
	}
	return env, argv
}

// refExpand is k8s.io/kubernetes third_party/forked/golang/expansion Expand with MappingFuncFor(vars).
func refExpand(input string, vars map[string]string) string {
	var buf strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] == '$' && cursor+1 < len(input) {
			buf.WriteString(input[checkpoint:cursor])
			read, isVar, advance := refName(input[cursor+1:])
			if isVar {
				if v, ok := vars[read]; ok {
					buf.WriteString(v)
				} else {
					buf.WriteString("$(" + read + ")")
				}
			} else {
				buf.WriteString(read)
			}
			cursor += advance
			checkpoint = cursor + 1
		}
	}
	return buf.String() + input[checkpoint:]
}

func refName(input string) (string, bool, int) {
	r, size := utf8.DecodeRuneInString(input)
	switch r {
	case '$':
		return input[0:size], false, size
	case '(':
		for i := 1; i < len(input); i++ {
			if input[i] == ')' {
				return input[1:i], true, i + 1
			}
		}
		return "$(", false, 1
	default:
		return "$" + string(r), false, size
	}
}

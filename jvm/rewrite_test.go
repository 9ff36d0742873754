package jvm

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRewrite(t *testing.T) {
	const m = int64(1) << 20
	tests := map[string]struct {
		c            Container
		heap         int64
		want         Container // ignored when wantErr is set: the input must come back unchanged
		wantWhere    string
		wantAppended bool
		wantXms      string // the lowered -Xms, if any
		wantErr      Reason
	}{
		"the seed case: JAVA_OPTS is rewritten in place": {
			c:         Container{Command: shc("java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m")},
			heap:      1200 * m,
			want:      Container{Command: shc("java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via sh -c",
		},
		"every other byte of the variable is kept": {
			c:         Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: envs("A", "1", "JAVA_OPTS", " -Dx=1\t-Xmx2g  -Dy=-Xmx9g ")},
			heap:      1200 * m,
			want:      Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: envs("A", "1", "JAVA_OPTS", " -Dx=1\t-Xmx1200m  -Dy=-Xmx9g ")},
			wantWhere: "env JAVA_OPTS via sh -c",
		},
		"JAVA_TOOL_OPTIONS loses to args: args are rewritten": {
			c:         Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java"}, Args: []string{"-Xmx1200m", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g")},
			wantWhere: "args[0]",
		},
		"_JAVA_OPTIONS wins over args: it is rewritten": {
			c:         Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "app.jar"}, Env: envs("_JAVA_OPTIONS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "app.jar"}, Env: envs("_JAVA_OPTIONS", "-Xmx1200m")},
			wantWhere: "env _JAVA_OPTIONS",
		},
		"two -Xmx in one variable: only the last changes": {
			c:         Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g -Xmx3g")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g -Xmx1200m")},
			wantWhere: "env JAVA_TOOL_OPTIONS",
		},
		"-XX:MaxHeapSize after -Xmx: MaxHeapSize changes": {
			c:         Container{Command: []string{"java", "-Xmx2g", "-XX:MaxHeapSize=1g", "-jar", "app.jar"}},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-Xmx2g", "-XX:MaxHeapSize=1200m", "-jar", "app.jar"}},
			wantWhere: "command[2]",
		},
		"$(JAVA_OPTS) in args: the variable is rewritten, not the args": {
			c:         Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via $(JAVA_OPTS) in args[0]",
		},
		"-Xmx$(HEAP): the size lives in HEAP": {
			c:         Container{Command: []string{"java", "-Xmx$(HEAP)", "-jar", "app.jar"}, Env: envs("HEAP", "2g")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-Xmx$(HEAP)", "-jar", "app.jar"}, Env: envs("HEAP", "1200m")},
			wantWhere: "env HEAP via $(HEAP) in command[1]",
		},
		"a variable that only carries the size on to the JVM may change with it": {
			c:         Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("HEAP", "-Xmx1g", "JAVA_OPTS", "$(HEAP)")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("HEAP", "-Xmx1200m", "JAVA_OPTS", "$(HEAP)")},
			wantWhere: "env HEAP via $(HEAP) in env JAVA_OPTS",
		},
		"a variable that reaches the JVM twice (JAVA_TOOL_OPTIONS and args): one edit serves both": {
			c:         Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g", "JAVA_TOOL_OPTIONS", "-Dx=1 $(JAVA_OPTS)")},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1200m", "JAVA_TOOL_OPTIONS", "-Dx=1 $(JAVA_OPTS)")},
			wantWhere: "env JAVA_OPTS via $(JAVA_OPTS) in command[1]",
		},
		"$(JAVA_OPTS) also passed to the application: ambiguous": {
			c:       Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "app.jar", "--jvm=$(JAVA_OPTS)"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"a variable built from JAVA_OPTS would change too: ambiguous": {
			c:       Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g", "SUMMARY", "opts=$(JAVA_OPTS)")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"JAVA_OPTS also given to another program: ambiguous": {
			c:       Container{Command: shc("/opt/check.sh $JAVA_OPTS && exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"JAVA_OPTS also echoed: fine, echo output is informational": {
			c:         Container{Command: shc(`echo "starting with $JAVA_OPTS"; exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: shc(`echo "starting with $JAVA_OPTS"; exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via sh -c",
		},
		"a size assembled from two places: ambiguous": {
			c:       Container{Command: shc("exec java -Xmx${HEAP_MB}m -jar app.jar"), Env: envs("HEAP_MB", "1024")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"exec java \"$@\": the argument is rewritten": {
			c:         Container{Command: shc(`exec java "$@"`, "--", "-Xmx1g", "-jar", "app.jar")},
			heap:      1200 * m,
			want:      Container{Command: shc(`exec java "$@"`, "--", "-Xmx1200m", "-jar", "app.jar")},
			wantWhere: "command[4] via sh -c",
		},
		"a literal in the script is rewritten inside the script": {
			c:         Container{Command: shc(`cd /app && exec java "-Xmx2g" -Dx=y -jar app.jar`)},
			heap:      1200 * m,
			want:      Container{Command: shc(`cd /app && exec java "-Xmx1200m" -Dx=y -jar app.jar`)},
			wantWhere: "command[2] (sh -c script)",
		},
		"valueFrom JAVA_OPTS: cannot rewrite": {
			c:       Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: []EnvVar{{Name: "JAVA_OPTS", FromSource: true}}},
			heap:    1200 * m,
			wantErr: ReasonValueFrom,
		},
		"valueFrom JAVA_TOOL_OPTIONS and nothing else: cannot rewrite": {
			c:       Container{Command: []string{"java", "-jar", "app.jar"}, Env: []EnvVar{{Name: "JAVA_TOOL_OPTIONS", FromSource: true}}},
			heap:    1200 * m,
			wantErr: ReasonValueFrom,
		},
		"valueFrom JAVA_TOOL_OPTIONS under a command-line -Xmx: fine": {
			c:         Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}, Env: []EnvVar{{Name: "JAVA_TOOL_OPTIONS", FromSource: true}}},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-Xmx1200m", "-jar", "app.jar"}, Env: []EnvVar{{Name: "JAVA_TOOL_OPTIONS", FromSource: true}}},
			wantWhere: "command[1]",
		},
		"-Xms above the new size is lowered to it": {
			c:         Container{Command: []string{"java", "-Xms4g", "-Xmx4g", "-jar", "app.jar"}},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-Xms1200m", "-Xmx1200m", "-jar", "app.jar"}},
			wantWhere: "command[2]",
			wantXms:   "1200m",
		},
		"-Xms below the new size is kept": {
			c:         Container{Command: []string{"java", "-Xms512m", "-Xmx4g", "-jar", "app.jar"}},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-Xms512m", "-Xmx1200m", "-jar", "app.jar"}},
			wantWhere: "command[2]",
		},
		"-Xms in another place than -Xmx": {
			c:         Container{Command: shc("exec java $JAVA_OPTS -Xms2g -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx3g")},
			heap:      1200 * m,
			want:      Container{Command: shc("exec java $JAVA_OPTS -Xms1200m -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via sh -c",
			wantXms:   "1200m",
		},
		"MaxRAMPercentage only, exec form: -Xmx is a new argument after it": {
			c:            Container{Command: []string{"java", "-XX:MaxRAMPercentage=75", "-jar", "app.jar"}},
			heap:         1200 * m,
			want:         Container{Command: []string{"java", "-XX:MaxRAMPercentage=75", "-Xmx1200m", "-jar", "app.jar"}},
			wantWhere:    "command[2] (inserted)",
			wantAppended: true,
		},
		"MaxRAMPercentage only, in JAVA_OPTS: -Xmx joins it": {
			c:            Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-XX:MaxRAMPercentage=75 -Dx=1")},
			heap:         1200 * m,
			want:         Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-XX:MaxRAMPercentage=75 -Xmx1200m -Dx=1")},
			wantWhere:    "JAVA_OPTS via sh -c (appended)",
			wantAppended: true,
		},
		"MaxRAMPercentage in a quoted \"$JAVA_OPTS\": JAVA_TOOL_OPTIONS instead": {
			c:            Container{Command: shc(`exec java "$JAVA_OPTS" -jar app.jar`), Env: envs("JAVA_OPTS", "-XX:MaxRAMPercentage=75")},
			heap:         1200 * m,
			want:         Container{Command: shc(`exec java "$JAVA_OPTS" -jar app.jar`), Env: envs("JAVA_OPTS", "-XX:MaxRAMPercentage=75", "JAVA_TOOL_OPTIONS", "-Xmx1200m")},
			wantWhere:    "JAVA_TOOL_OPTIONS (appended)",
			wantAppended: true,
		},
		"MaxRAMPercentage in JAVA_TOOL_OPTIONS: -Xmx is appended to it": {
			c:            Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75")},
			heap:         1200 * m,
			want:         Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75 -Xmx1200m")},
			wantWhere:    "JAVA_TOOL_OPTIONS (appended)",
			wantAppended: true,
		},
		"no heap setting at all: JAVA_TOOL_OPTIONS is added at the end of env": {
			c:            Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("A", "1")},
			heap:         1200 * m,
			want:         Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("A", "1", "JAVA_TOOL_OPTIONS", "-Xmx1200m")},
			wantWhere:    "JAVA_TOOL_OPTIONS (appended)",
			wantAppended: true,
		},
		"no JVM visible at all: JAVA_TOOL_OPTIONS is added": {
			c:            Container{Command: []string{"/opt/start.sh"}},
			heap:         1200 * m,
			want:         Container{Command: []string{"/opt/start.sh"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1200m")},
			wantWhere:    "JAVA_TOOL_OPTIONS (appended)",
			wantAppended: true,
		},
		"java not visible and JAVA_OPTS holds -Xmx: ambiguous": {
			c:       Container{Command: []string{"/opt/start.sh"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"java not visible and JAVA_OPTS holds -Xms: ambiguous (a hidden -Xms could exceed the new -Xmx)": {
			c:       Container{Command: []string{"/opt/start.sh"}, Env: envs("JAVA_OPTS", "-Xms2g")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"$JAVA_OPTS undefined in the pod: unresolved": {
			c:       Container{Command: shc("exec java $JAVA_OPTS -jar app.jar")},
			heap:    1200 * m,
			wantErr: ReasonUnresolved,
		},
		"an invalid option already there: never fixed silently": {
			c:       Container{Command: []string{"java", "-Xmx1.5g", "-jar", "app.jar"}},
			heap:    1200 * m,
			wantErr: ReasonInvalid,
		},
		"-Xms above -Xmx already: the broken JVM is not fixed silently": {
			c:       Container{Command: []string{"java", "-Xms4g", "-Xmx2g", "-jar", "app.jar"}},
			heap:    6144 * m,
			wantErr: ReasonInvalid,
		},
		"a background JVM next to the application: their heaps may add up": {
			c:       Container{Command: shc("java -Xmx1g -jar agent.jar & exec java -Xmx2g -jar app.jar")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"a single JVM in the background is fine": {
			c:         Container{Command: shc("java -Xmx1g -jar app.jar & wait")},
			heap:      1200 * m,
			want:      Container{Command: shc("java -Xmx1200m -jar app.jar & wait")},
			wantWhere: "command[2] (sh -c script)",
		},
		"a [[ ]] test that looks at the size would flip: ambiguous": {
			c:       Container{Command: []string{"bash", "-c", `[[ $JAVA_OPTS == -Xmx1g ]] && echo small; exec java $JAVA_OPTS -jar app.jar`}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"a [[ -n ]] test only looks at emptiness: fine": {
			c:         Container{Command: []string{"bash", "-c", `[[ -n $JAVA_OPTS ]] && exec java $JAVA_OPTS -jar app.jar`}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: []string{"bash", "-c", `[[ -n $JAVA_OPTS ]] && exec java $JAVA_OPTS -jar app.jar`}, Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via bash -c",
		},
		"a case on the options would flip: ambiguous": {
			c:       Container{Command: shc(`case "$JAVA_OPTS" in -Xmx1g) M=small;; esac; exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"a [ -z ] test only looks at emptiness: fine": {
			c:         Container{Command: shc(`[ -z "$JAVA_OPTS" ] || exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: shc(`[ -z "$JAVA_OPTS" ] || exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via sh -c",
		},
		"a script that exports its own JAVA_TOOL_OPTIONS before an unknown launcher: ambiguous": {
			c:       Container{Command: shc("export JAVA_TOOL_OPTIONS=-Dx=1; exec /opt/start.sh")},
			heap:    1200 * m,
			wantErr: ReasonAmbiguous,
		},
		"an @argfile after -Xmx: options-file": {
			c:       Container{Command: []string{"java", "-Xmx1g", "@/opt/jvm.args", "-jar", "app.jar"}},
			heap:    1200 * m,
			wantErr: ReasonOptionsFile,
		},
		"a script that does not parse": {
			c:       Container{Command: shc(`exec java "$JAVA_OPTS -jar app.jar`)},
			heap:    1200 * m,
			wantErr: ReasonUnparsable,
		},
		"two java invocations sharing JAVA_OPTS: one edit": {
			c:         Container{Command: shc("java $JAVA_OPTS -cp app.jar Migrate && exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")},
			heap:      1200 * m,
			want:      Container{Command: shc("java $JAVA_OPTS -cp app.jar Migrate && exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1200m")},
			wantWhere: "env JAVA_OPTS via sh -c",
		},
		"two java invocations with their own -Xmx: both change": {
			c:         Container{Command: shc("java -Xmx256m -cp app.jar Migrate && exec java -Xmx2g -jar app.jar")},
			heap:      1200 * m,
			want:      Container{Command: shc("java -Xmx1200m -cp app.jar Migrate && exec java -Xmx1200m -jar app.jar")},
			wantWhere: "command[2] (sh -c script)",
		},
		"java -version first: only the application's JVM changes": {
			c:         Container{Command: shc("java -version && exec java -Xmx2g -jar app.jar")},
			heap:      1200 * m,
			want:      Container{Command: shc("java -version && exec java -Xmx1200m -jar app.jar")},
			wantWhere: "command[2] (sh -c script)",
		},
		"already the requested size: nothing changes": {
			c:         Container{Command: []string{"java", "-Xmx1200m", "-jar", "app.jar"}},
			heap:      1200 * m,
			want:      Container{Command: []string{"java", "-Xmx1200m", "-jar", "app.jar"}},
			wantWhere: "command[1]",
		},
		"a size that is not a whole MiB is written in k": {
			c:         Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}},
			heap:      1200*m + 1024,
			want:      Container{Command: []string{"java", "-Xmx1228801k", "-jar", "app.jar"}},
			wantWhere: "command[1]",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			orig := deepCopy(tc.c)
			got, ch, err := Rewrite(tc.c, tc.heap)
			if diff := cmp.Diff(orig, tc.c); diff != "" {
				t.Fatalf("Rewrite modified its input (-before +after):\n%s", diff)
			}
			if tc.wantErr != "" {
				var cre *CannotRewriteError
				if !errors.As(err, &cre) {
					t.Fatalf("Rewrite error = %v, want a CannotRewriteError %q", err, tc.wantErr)
				}
				if cre.Reason != tc.wantErr {
					t.Errorf("Rewrite reason = %q (%s), want %q", cre.Reason, cre.Message, tc.wantErr)
				}
				if diff := cmp.Diff(tc.c, got); diff != "" {
					t.Errorf("Rewrite changed the container despite the error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Rewrite container (-want +got):\n%s", diff)
			}
			gotXms := ""
			if ch.NewXms != 0 {
				gotXms = FormatSize(ch.NewXms)
			}
			if diff := cmp.Diff([]any{tc.wantWhere, tc.wantAppended, tc.wantXms, tc.heap}, []any{ch.Where.String(), ch.Appended, gotXms, ch.NewMaxHeap}); diff != "" {
				t.Errorf("Change (-want +got):\n%s", diff)
			}
			// What Rewrite promises is what the analysis of its result finds.
			h := Analyze(got)
			if h.MaxHeap != tc.heap || !h.Certain() {
				t.Errorf("Analyze(result): MaxHeap %d certain=%v, want %d (hidden %v, invalid %v)", h.MaxHeap, h.Certain(), tc.heap, h.Hidden, h.Invalid)
			}
		})
	}
}

func TestRewriteRefusesSizesTheJVMCannotTake(t *testing.T) {
	c := Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}}
	for _, size := range []int64{0, -1, 1, 2 << 20, 2<<40 + 1} {
		got, _, err := Rewrite(c, size)
		if !errors.Is(err, ErrInvalidSize) {
			t.Errorf("Rewrite(%d) error = %v, want ErrInvalidSize", size, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("Rewrite(%d) changed the container (-want +got):\n%s", size, diff)
		}
	}
}

func TestRewriteChangeNotes(t *testing.T) {
	c := Container{Command: []string{"java", "-jar", "app.jar"}}
	_, ch, err := Rewrite(c, 1201<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"JAVA_TOOL_OPTIONS added to env: it replaces any JAVA_TOOL_OPTIONS the image or envFrom sets",
		"the JVM rounds the heap up to its alignment (2 MiB with OpenJDK 17 here)",
	}
	if diff := cmp.Diff(want, ch.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	if !ch.Changed() {
		t.Error("Changed() = false after adding -Xmx")
	}
	_, ch, err = Rewrite(Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}}, 1<<30)
	if err != nil || ch.Changed() {
		t.Errorf("Rewrite to the same size: changed=%v err=%v, want no change", ch.Changed(), err)
	}
	// The last JVM already has the size, an earlier one does not: still a change.
	_, ch, err = Rewrite(Container{Command: shc("java -Xmx256m com.example.Migrate && exec java -Xmx1g -jar app.jar")}, 1<<30)
	if err != nil || !ch.Changed() || ch.Edits != 1 {
		t.Errorf("Rewrite of the first of two JVMs: changed=%v edits=%d err=%v, want one edit", ch.Changed(), ch.Edits, err)
	}
}

func deepCopy(c Container) Container {
	return Container{Command: slices.Clone(c.Command), Args: slices.Clone(c.Args), Env: slices.Clone(c.Env), EnvFrom: c.EnvFrom}
}

func TestConcurrentUse(t *testing.T) {
	// The webhook analyses pods from many goroutines; parsed scripts are shared between them.
	c := Container{Command: shc("exec java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m")}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				if h := Analyze(c); h.MaxHeap != 2000<<20 {
					err = errors.New("wrong analysis under concurrency")
				}
				_, _, err = Rewrite(c, int64(1000+i)<<20)
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

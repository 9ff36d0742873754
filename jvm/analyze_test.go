package jvm

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// shc is a container command running script with /bin/sh -c.
func shc(script string, args ...string) []string {
	return append([]string{"/bin/sh", "-c", script}, args...)
}

// envs builds an env list from name, value pairs.
func envs(kv ...string) []EnvVar {
	var out []EnvVar
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// summary is the part of Heap the table tests compare.
type summary struct {
	Visible     bool
	Invocations int
	MaxHeap     string
	Where       string
	Xms         string
	XmsWhere    string
	Percent     float64
	Hidden      []string // reasons
	Invalid     []string // options
}

func summarize(h Heap) summary {
	s := summary{Visible: h.JavaVisible, Invocations: h.Invocations, Percent: h.MaxRAMPercentage}
	if h.MaxHeap != 0 {
		s.MaxHeap, s.Where = FormatSize(h.MaxHeap), h.Where.String()
	}
	if h.Xms != 0 {
		s.Xms, s.XmsWhere = FormatSize(h.Xms), h.XmsWhere.String()
	}
	for _, o := range h.Hidden {
		s.Hidden = append(s.Hidden, o.Hidden)
	}
	for _, o := range h.Invalid {
		s.Invalid = append(s.Invalid, o.Option)
	}
	return s
}

func TestAnalyze(t *testing.T) {
	java1 := summary{Visible: true, Invocations: 1}
	with := func(s summary, f func(*summary)) summary { f(&s); return s }
	tests := map[string]struct {
		c        Container
		want     summary
		wantNote string
	}{
		"the seed case: sh -c java $JAVA_OPTS with JAVA_OPTS=-Xmx2000m": {
			c:    Container{Command: shc("java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2000m", "env JAVA_OPTS via sh -c" }),
		},
		"JAVA_TOOL_OPTIONS loses to args": {
			c:    Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2048m", "args[0]" }),
		},
		"_JAVA_OPTIONS wins over args": {
			c:    Container{Command: []string{"java"}, Args: []string{"-Xmx2g", "-jar", "app.jar"}, Env: envs("_JAVA_OPTIONS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env _JAVA_OPTIONS" }),
		},
		"JDK_JAVA_OPTIONS beats JAVA_TOOL_OPTIONS": {
			c:    Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JDK_JAVA_OPTIONS", "-Xmx3g", "JAVA_TOOL_OPTIONS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "3072m", "env JDK_JAVA_OPTIONS" }),
		},
		"JDK_JAVA_OPTIONS loses to the command line": {
			c:    Container{Command: []string{"java", "-Xmx2g", "-jar", "app.jar"}, Env: envs("JDK_JAVA_OPTIONS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2048m", "command[1]" }),
		},
		"two -Xmx in one variable: the last wins": {
			c:    Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g -Xmx3g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "3072m", "env JAVA_TOOL_OPTIONS" }),
		},
		"-XX:MaxHeapSize after -Xmx wins": {
			c:    Container{Command: []string{"java", "-Xmx2g", "-XX:MaxHeapSize=1g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2]" }),
		},
		"-Xmx after -XX:MaxHeapSize wins": {
			c:    Container{Command: []string{"java", "-XX:MaxHeapSize=1g", "-Xmx2g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2048m", "command[2]" }),
		},
		"$(JAVA_OPTS) in args is expanded by the kubelet": {
			c:    Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_OPTS via $(JAVA_OPTS) in args[0]" }),
		},
		"$(JAVA_OPTS) with two options stays one argument, which the JVM rejects": {
			c:    Container{Command: []string{"java"}, Args: []string{"$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g -Xms1g")},
			want: with(java1, func(s *summary) { s.Invalid = []string{"-Xmx1g -Xms1g"} }),
		},
		"$$ escapes a reference: the JVM gets the literal $(JAVA_OPTS) as main class": {
			c:    Container{Command: []string{"java"}, Args: []string{"$$(JAVA_OPTS)"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: java1,
		},
		"$(VAR) in an env value only sees variables defined before it": {
			c:    Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("JAVA_OPTS", "$(HEAP)", "HEAP", "-Xmx1g")},
			want: java1, // JAVA_OPTS is the literal "$(HEAP)": the main class
		},
		"$(VAR) in an env value sees an earlier variable": {
			c:    Container{Command: []string{"java", "$(JAVA_OPTS)", "-jar", "app.jar"}, Env: envs("HEAP", "-Xmx1g", "JAVA_OPTS", "$(HEAP)")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env HEAP via $(HEAP) in env JAVA_OPTS" }),
		},
		"$(VAR) in args sees a variable defined later in env": {
			c:    Container{Command: []string{"java", "$(B)", "-jar", "app.jar"}, Env: envs("A", "x", "B", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env B via $(B) in command[1]" }),
		},
		"a duplicate env name: the later entry wins": {
			c:    Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g", "JAVA_TOOL_OPTIONS", "-Xmx2g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2048m", "env JAVA_TOOL_OPTIONS" }),
		},
		"exec java \"$@\" with the options in the args after the script": {
			c:    Container{Command: shc(`exec java "$@"`, "--", "-Xmx1g", "-jar", "app.jar")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[4] via sh -c" }),
		},
		"sh -c in command with the script in args": {
			c:    Container{Command: []string{"sh", "-c"}, Args: []string{"exec java -Xmx512m -jar app.jar"}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "512m", "args[0] (sh -c script)" }),
		},
		"unquoted $JAVA_OPTS is word-split": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xms1g  -Xmx2g")},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Xms, s.XmsWhere = "2048m", "env JAVA_OPTS via sh -c", "1024m", "env JAVA_OPTS via sh -c"
			}),
		},
		"quoted \"$JAVA_OPTS\" is one word, which the JVM rejects": {
			c:    Container{Command: shc(`exec java "$JAVA_OPTS" -jar app.jar`), Env: envs("JAVA_OPTS", "-Xms1g -Xmx2g")},
			want: with(java1, func(s *summary) { s.Invalid = []string{"-Xms1g -Xmx2g"} }),
		},
		"${JAVA_OPTS} in braces": {
			c:    Container{Command: shc("exec java ${JAVA_OPTS} -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx3g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "3072m", "env JAVA_OPTS via sh -c" }),
		},
		"${JAVA_OPTS:-default} takes the default when the variable is empty": {
			c: Container{Command: shc("exec java ${JAVA_OPTS:--Xmx512m -Xms256m} -jar app.jar"), Env: envs("JAVA_OPTS", "")},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Xms, s.XmsWhere = "512m", "command[2] (sh -c script)", "256m", "command[2] (sh -c script)"
			}),
		},
		"${JAVA_OPTS:-default} takes the value when it is set": {
			c:    Container{Command: shc(`exec java ${JAVA_OPTS:-"-Xmx512m"} -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_OPTS via sh -c" }),
		},
		"CATALINA_OPTS after JAVA_OPTS wins, as in catalina.sh": {
			c:    Container{Command: shc("exec java $JAVA_OPTS $CATALINA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g", "CATALINA_OPTS", "-Xmx2g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2048m", "env CATALINA_OPTS via sh -c" }),
		},
		"an assignment in the script": {
			c: Container{Command: shc(`JAVA_OPTS="-Xmx1g $JAVA_OPTS"; exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xms512m")},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Xms, s.XmsWhere = "1024m", "command[2] (sh -c script)", "512m", "env JAVA_OPTS via sh -c"
			}),
		},
		"export JAVA_TOOL_OPTIONS in the script": {
			c:    Container{Command: shc("export JAVA_TOOL_OPTIONS=-Xmx1g; exec java -jar app.jar")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2] (sh -c script)" }),
		},
		"a variable assigned but not exported does not reach the JVM": {
			c:    Container{Command: shc("_JAVA_OPTIONS=-Xmx1g; exec java -Xmx2g -jar app.jar")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "2048m", "command[2] (sh -c script)" }),
		},
		"a prefix assignment reaches the command": {
			c:    Container{Command: shc("_JAVA_OPTIONS=-Xmx1g exec java -Xmx2g -jar app.jar")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2] (sh -c script)" }),
		},
		"set -- then exec java \"$@\"": {
			c:    Container{Command: shc(`set -- -Xmx768m "$@"; exec java "$@"`, "sh", "-jar", "app.jar")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "768m", "command[2] (sh -c script)" }),
		},
		"cd && exec java": {
			c:    Container{Command: shc("cd /app && exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_OPTS via sh -c" }),
		},
		"nested bash -c inside sh -c": {
			c:    Container{Command: shc(`exec bash -c 'exec java $JAVA_OPTS -jar app.jar'`), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_OPTS via bash -c" }),
		},
		"$JAVA_HOME/bin/java is the java launcher": {
			c:    Container{Command: shc(`exec "$JAVA_HOME/bin/java" -Xmx1g -jar app.jar`)},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2] (sh -c script)" }),
		},
		"-Xmx after -jar belongs to the application": {
			c:    Container{Command: []string{"java", "-jar", "app.jar", "-Xmx1g"}},
			want: java1,
		},
		"-Xmx after the main class belongs to the application": {
			c:    Container{Command: []string{"java", "-cp", "app.jar", "com.example.Main", "-Xmx1g"}},
			want: java1,
		},
		"the value of -cp is not an option": {
			c:    Container{Command: []string{"java", "-cp", "-Xmx1g", "com.example.Main"}},
			want: java1,
		},
		"-Xms above -Xmx stops the JVM": {
			c: Container{Command: []string{"java", "-Xms4g", "-Xmx2g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Xms, s.XmsWhere, s.Invalid = "2048m", "command[2]", "4096m", "command[1]", []string{"-Xms4g"}
			}),
		},
		"-XX:InitialHeapSize below the -Xms minimum stops the JVM": {
			c: Container{Command: []string{"java", "-Xms1g", "-XX:InitialHeapSize=512m", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) {
				s.Xms, s.XmsWhere, s.Invalid = "1024m", "command[1]", []string{"-XX:InitialHeapSize=512m"}
			}),
		},
		"a main class in JDK_JAVA_OPTIONS stops the JVM": {
			c: Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JDK_JAVA_OPTIONS", "-Xmx1g com.example.Main")},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Invalid = "1024m", "env JDK_JAVA_OPTIONS", []string{"com.example.Main"}
			}),
		},
		"-jar in JDK_JAVA_OPTIONS stops the JVM": {
			c:    Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JDK_JAVA_OPTIONS", "-jar")},
			want: with(java1, func(s *summary) { s.Invalid = []string{"-jar"} }),
		},
		"an @argfile in JDK_JAVA_OPTIONS is not read": {
			c: Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JDK_JAVA_OPTIONS", "@/opt/jvm.args")},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"argument file @/opt/jvm.args is not read"}
			}),
		},
		"-Xmx in JAVA_TOOL_OPTIONS reaches the JVM even when java is started by an unknown script": {
			c:    Container{Command: []string{"/opt/start.sh"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g", "OTHER", "x")},
			want: summary{MaxHeap: "1024m", Where: "env JAVA_TOOL_OPTIONS"},
		},
		"MaxRAMPercentage only": {
			c:    Container{Command: []string{"java", "-XX:MaxRAMPercentage=75", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.Percent = 75 }),
		},
		"MaxRAMFraction only": {
			c:    Container{Command: []string{"java", "-XX:MaxRAMFraction=2", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.Percent = 50 }),
		},
		"an explicit size beats MaxRAMPercentage at any level": {
			c:    Container{Command: []string{"java", "-XX:MaxRAMPercentage=75", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_TOOL_OPTIONS" }),
		},
		"no JVM at all": {
			c:        Container{Command: []string{"nginx", "-g", "daemon off;"}},
			want:     summary{},
			wantNote: "java not visible in command/args: only JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and _JAVA_OPTIONS are seen",
		},
		"java not visible: JAVA_TOOL_OPTIONS still counts": {
			c:    Container{Env: envs("JAVA_TOOL_OPTIONS", "-Xmx1g")},
			want: summary{MaxHeap: "1024m", Where: "env JAVA_TOOL_OPTIONS"},
		},
		"java not visible: a heap in JAVA_OPTS may reach the JVM through the image's launcher": {
			c:    Container{Command: []string{"/opt/start.sh"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: summary{Hidden: []string{"java is not visible: whether the image's launcher passes env JAVA_OPTS to java is unknown"}},
		},
		"command empty and args start with java: the entrypoint is assumed to exec them": {
			c:        Container{Args: []string{"java", "-Xmx1g", "-jar", "app.jar"}},
			want:     with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "args[1]" }),
			wantNote: "assuming the image's ENTRYPOINT runs its arguments as a command",
		},
		"command empty and args carry -Xmx for an unknown entrypoint": {
			c:    Container{Args: []string{"-Xmx1g", "-jar", "app.jar"}},
			want: summary{Hidden: []string{"java is not visible: the image's ENTRYPOINT may pass it to java"}},
		},
		"tini -- java": {
			c:    Container{Command: []string{"/usr/bin/tini", "--", "java", "-Xmx1g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[3]" }),
		},
		"env wrapper sets JAVA_TOOL_OPTIONS": {
			c:    Container{Command: []string{"env", "JAVA_TOOL_OPTIONS=-Xmx1g", "java", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[1]" }),
		},
		"valueFrom JAVA_OPTS used by the script is hidden": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar app.jar"), Env: []EnvVar{{Name: "JAVA_OPTS", FromSource: true}}},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"env JAVA_OPTS comes from valueFrom"}
			}),
		},
		"valueFrom JAVA_TOOL_OPTIONS does not matter when the command line sets -Xmx": {
			c:    Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}, Env: []EnvVar{{Name: "JAVA_TOOL_OPTIONS", FromSource: true}}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[1]" }),
		},
		"valueFrom _JAVA_OPTIONS may override everything": {
			c: Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}, Env: []EnvVar{{Name: "_JAVA_OPTIONS", FromSource: true}}},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Hidden = "1024m", "command[1]", []string{"env _JAVA_OPTIONS comes from valueFrom"}
			}),
		},
		"-Xmx$(HEAP) with HEAP from valueFrom": {
			c: Container{Command: []string{"java", "-Xmx$(HEAP)", "-jar", "app.jar"}, Env: []EnvVar{{Name: "HEAP", FromSource: true}}},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"env HEAP comes from valueFrom"}
			}),
		},
		"a variable the pod spec does not define may be set by the image": {
			c: Container{Command: shc("exec java $JAVA_OPTS -jar app.jar")},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"$JAVA_OPTS is not set in the pod spec (the image may set it)"}
			}),
		},
		"an explicit -Xmx after an unknown variable still wins": {
			c:    Container{Command: shc("exec java $JAVA_OPTS -Xmx1g -jar app.jar")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2] (sh -c script)" }),
		},
		"an assignment in a branch makes the variable unknown": {
			c: Container{Command: shc(`if [ -n "$BIG" ]; then JAVA_OPTS=-Xmx4g; fi; exec java $JAVA_OPTS -jar app.jar`), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"set in a branch of the sh -c script"}
			}),
		},
		"a sourced file may set any variable, also the ones the JVM reads": {
			c: Container{Command: shc(". /etc/app.env; exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"variables may be set by the sourced file /etc/app.env"}
			}),
		},
		"options from a command substitution are hidden": {
			c: Container{Command: shc("exec java $(cat /opt/jvm.opts) -jar app.jar")},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"the output of a command substitution in the sh -c script"}
			}),
		},
		"an @argfile after -Xmx may override it": {
			c: Container{Command: []string{"java", "-Xmx1g", "@/opt/jvm.args", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Hidden = "1024m", "command[1]", []string{"argument file @/opt/jvm.args is not read"}
			}),
		},
		"a -XX:Flags file is read before everything": {
			c:    Container{Command: []string{"java", "-XX:Flags=/opt/hotspotrc", "-Xmx1g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2]" }),
		},
		"a script that does not parse": {
			c:    Container{Command: shc(`exec java "$JAVA_OPTS -jar app.jar`)},
			want: summary{Hidden: []string{"the sh -c script does not parse: 1:11: reached EOF without closing quote `\"`"}},
		},
		"-Xmx1.5g stops the JVM": {
			c:    Container{Command: []string{"java", "-Xmx1.5g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.Invalid = []string{"-Xmx1.5g"} }),
		},
		"-Xmx 2g with a space stops the JVM": {
			c:    Container{Command: []string{"java", "-Xmx", "2g", "-jar", "app.jar"}},
			want: with(java1, func(s *summary) { s.Invalid = []string{"-Xmx"} }),
		},
		"-Xmx2000MB stops the JVM even in JAVA_TOOL_OPTIONS": {
			c:    Container{Command: []string{"java", "-Xmx1g", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", "-Xmx2000MB")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where, s.Invalid = "1024m", "command[1]", []string{"-Xmx2000MB"} }),
		},
		"an unmatched quote in JAVA_TOOL_OPTIONS stops the JVM": {
			c: Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", `-Xmx1g "-Dx=a`)},
			want: with(java1, func(s *summary) {
				s.MaxHeap, s.Where, s.Invalid = "1024m", "env JAVA_TOOL_OPTIONS", []string{"JAVA_TOOL_OPTIONS"}
			}),
		},
		"quotes group words inside JAVA_TOOL_OPTIONS": {
			c:    Container{Command: []string{"java", "-jar", "app.jar"}, Env: envs("JAVA_TOOL_OPTIONS", `-Dname="a b" "-Xmx1g"`)},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_TOOL_OPTIONS" }),
		},
		"java -version before the application is ignored": {
			c:        Container{Command: shc("java -version && exec java -Xmx1g -jar app.jar")},
			want:     with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2] (sh -c script)" }),
			wantNote: "java -version (or another informational run) ignored",
		},
		"two java invocations sharing JAVA_OPTS": {
			c:        Container{Command: shc("java $JAVA_OPTS -cp app.jar Migrate && exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want:     with(java1, func(s *summary) { s.Invocations, s.MaxHeap, s.Where = 2, "1024m", "env JAVA_OPTS via sh -c" }),
			wantNote: "2 java invocations; the heap shown is the last one's, Rewrite sizes them all",
		},
		"a background java is noted": {
			c:        Container{Command: shc("java -Xmx1g -jar agent.jar & exec java -Xmx2g -jar app.jar")},
			want:     with(java1, func(s *summary) { s.Invocations, s.MaxHeap, s.Where = 2, "2048m", "command[2] (sh -c script)" }),
			wantNote: "a java invocation runs in the background: two JVMs may run at once",
		},
		"word splitting is not followed once IFS changes": {
			c: Container{Command: shc("IFS=,; exec java $JAVA_OPTS -jar app.jar"), Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) {
				s.Hidden = []string{"word splitting after IFS was changed"}
			}),
		},
		"bash -euo pipefail -c": {
			c:    Container{Command: []string{"bash", "-euo", "pipefail", "-c", "exec java $JAVA_OPTS -jar app.jar"}, Env: envs("JAVA_OPTS", "-Xmx1g")},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "env JAVA_OPTS via bash -c" }),
		},
		"eval next to a visible java: the eval may start the real application": {
			c: Container{Command: shc(`eval "$START"; exec java -Xmx1g -jar app.jar`), Env: envs("START", "true")},
			want: with(java1, func(s *summary) {
				src := "eval in the sh -c script is not followed"
				s.MaxHeap, s.Where, s.Hidden = "1024m", "command[2] (sh -c script)", []string{src}
			}),
		},
		"a function that starts java": {
			c:    Container{Command: shc(`start() { exec java "$@" -jar app.jar; }; start -Xmx1g`)},
			want: with(java1, func(s *summary) { s.MaxHeap, s.Where = "1024m", "command[2] (sh -c script)" }),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := Analyze(tc.c)
			if diff := cmp.Diff(tc.want, summarize(h)); diff != "" {
				t.Errorf("Analyze (-want +got):\n%s\nnotes: %q", diff, h.Notes)
			}
			if tc.wantNote != "" && !containsPrefix(h.Notes, tc.wantNote) {
				t.Errorf("notes %q lack %q", h.Notes, tc.wantNote)
			}
		})
	}
}

func containsPrefix(notes []string, want string) bool {
	for _, n := range notes {
		if strings.HasPrefix(n, want) {
			return true
		}
	}
	return false
}

func TestLocationString(t *testing.T) {
	tests := map[string]struct {
		l    Location
		want string
	}{
		"a variable a shell expands":  {Location{Field: FieldEnv, Index: 0, Name: "JAVA_OPTS", Via: "via sh -c"}, "env JAVA_OPTS via sh -c"},
		"an exec-form argument":       {Location{Field: FieldArgs, Index: 3}, "args[3]"},
		"JAVA_TOOL_OPTIONS added":     {Location{Field: FieldEnv, Index: 2, Name: "JAVA_TOOL_OPTIONS", Appended: true}, "JAVA_TOOL_OPTIONS (appended)"},
		"a literal in a script":       {Location{Field: FieldCommand, Index: 2, Via: "(sh -c script)"}, "command[2] (sh -c script)"},
		"an argument inserted":        {Location{Field: FieldCommand, Index: 2, Appended: true}, "command[2] (inserted)"},
		"a kubelet reference":         {Location{Field: FieldEnv, Name: "JAVA_OPTS", Via: "via $(JAVA_OPTS) in args[0]"}, "env JAVA_OPTS via $(JAVA_OPTS) in args[0]"},
		"no location":                 {Location{}, "nowhere"},
		"a variable added by Rewrite": {Location{Field: FieldEnv, Name: "JAVA_OPTS", Via: "via sh -c", Appended: true}, "JAVA_OPTS via sh -c (appended)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.l.String()); diff != "" {
				t.Errorf("Location.String (-want +got):\n%s", diff)
			}
		})
	}
}

package jvm

import (
	"strconv"
	"testing"
)

var benchContainers = map[string]Container{
	// The seed case: the option lives in JAVA_OPTS, expanded by sh -c.
	"seed": {Command: shc("java $JAVA_OPTS -jar /opt/app.jar"), Env: envs("JAVA_OPTS", "-Xmx2000m", "SPRING_PROFILES_ACTIVE", "prod", "TZ", "UTC")},
	// Exec form with JAVA_TOOL_OPTIONS holding the heap.
	"tool-options": {Command: []string{"java", "-XX:+UseG1GC", "-jar", "/opt/app.jar"}, Args: []string{"--server.port=8080"},
		Env: envs("JAVA_TOOL_OPTIONS", "-javaagent:/otel/agent.jar -Xmx2g -Xms512m", "TZ", "UTC")},
}

func BenchmarkAnalyze(b *testing.B) {
	for name, c := range benchContainers {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if h := Analyze(c); h.MaxHeap == 0 {
					b.Fatal("no heap found")
				}
			}
		})
	}
}

func BenchmarkAnalyzeRewrite(b *testing.B) {
	for name, c := range benchContainers {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Analyze(c)
				if _, _, err := Rewrite(c, 1200<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAnalyzeColdScript defeats the parse cache: a script seen for the first time.
func BenchmarkAnalyzeColdScript(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c := Container{Command: shc("java $JAVA_OPTS -jar /opt/app.jar # " + strconv.Itoa(i)), Env: envs("JAVA_OPTS", "-Xmx2000m")}
		if h := Analyze(c); h.MaxHeap == 0 {
			b.Fatal("no heap found")
		}
	}
}

package jvm

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzRewrite checks that Analyze and Rewrite never panic, that a declined rewrite leaves the container
// alone, and that an accepted one changes heap sizes only: every other whitespace-separated token of
// command, args and env stays byte for byte, apart from one added -Xmx, and the result has exactly the
// requested max heap.
func FuzzRewrite(f *testing.F) {
	f.Add(uint8(0), "java $JAVA_OPTS -jar /opt/app.jar", "-Xmx2000m", "", "", uint16(1200))
	f.Add(uint8(0), `exec java "$@" -Xms2g`, "-XX:MaxRAMPercentage=75", "-Xmx1g", "", uint16(512))
	f.Add(uint8(1), "", "-Xmx1g", "-Xmx2g -Xms1g", "-Xmx2g\n$(JAVA_OPTS)\n-jar\napp.jar", uint16(3000))
	f.Add(uint8(2), `set -- $JAVA_OPTS "$@"; exec java "$@"`, "-Xmx1g -Dx='a b'", "", "-XX:MaxHeapSize=3g\n-jar\nx", uint16(100))
	f.Add(uint8(3), "", "", "-XX:MaxRAMPercentage=50", "java\n-XX:MaxRAMPercentage=50\nMain", uint16(64))
	f.Add(uint8(4), `X=${JAVA_OPTS:--Xmx512m}; if [ -n "$A" ]; then exec java $X -jar a; fi; java -Xmx$((1+1))g $X Main`, "", "", "", uint16(7))
	f.Fuzz(func(t *testing.T, kind uint8, script, opts, tool, args string, mib uint16) {
		c := fuzzContainer(kind, script, opts, tool, args)
		orig := deepCopy(c)
		_ = analyze(c).heap() // no recover here: a panic fails the fuzz run
		heap := int64(mib%16384+4) << 20
		out, _, err := rewrite(c, heap)
		if diff := cmp.Diff(orig, c); diff != "" {
			t.Fatalf("rewrite modified its input:\n%s", diff)
		}
		if err != nil {
			var cre *CannotRewriteError
			if !errors.As(err, &cre) {
				t.Fatalf("error %v is not a CannotRewriteError", err)
			}
			if diff := cmp.Diff(orig, out); diff != "" {
				t.Fatalf("declined rewrite (%v) changed the container:\n%s", err, diff)
			}
			return
		}
		checkOnlyHeapChanged(t, orig, out)
		if h := analyze(out).heap(); h.MaxHeap != heap || !h.Certain() {
			t.Fatalf("rewrite promised %d, analysis of the result says %d (hidden %v invalid %v)", heap, h.MaxHeap, h.Hidden, h.Invalid)
		}
	})
}

func fuzzContainer(kind uint8, script, opts, tool, args string) Container {
	lines := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
	env := envs("JAVA_OPTS", opts, "JAVA_TOOL_OPTIONS", tool)
	switch kind % 5 {
	case 0:
		return Container{Command: shc(script), Env: env}
	case 1:
		return Container{Command: []string{"java"}, Args: lines(args), Env: env}
	case 2:
		return Container{Command: shc(script, lines(args)...), Env: env}
	case 3:
		return Container{Args: lines(args), Env: env}
	default:
		return Container{Command: []string{"bash", "-c", script}, Args: lines(args),
			Env: append(env, EnvVar{Name: "SECRET_OPTS", FromSource: true}, EnvVar{Name: "_JAVA_OPTIONS", Value: opts})}
	}
}

var heapPrefixList = []string{"-Xmx", "-Xms", "-XX:MaxHeapSize=", "-XX:InitialHeapSize=", "-XX:MinHeapSize="}

// checkOnlyHeapChanged is the fuzz invariant, computed without the package's machinery.
func checkOnlyHeapChanged(t *testing.T, a, b Container) {
	t.Helper()
	sizeVars := map[int]bool{} // env entries that hold nothing but a heap size the JVM uses (HEAP=2g)
	for _, o := range Analyze(a).Occurrences {
		if o.Where.Field == FieldEnv {
			sizeVars[o.Where.Index] = true
		}
	}
	if !sameList(a.Command, b.Command, nil) || !sameList(a.Args, b.Args, nil) {
		t.Fatalf("command/args changed beyond heap sizes:\n%q %q\n%q %q", a.Command, a.Args, b.Command, b.Args)
	}
	if len(b.Env) != len(a.Env) && !(len(b.Env) == len(a.Env)+1 && b.Env[len(a.Env)].Name == envJavaToolOptions && isNewXmx(b.Env[len(a.Env)].Value)) {
		t.Fatalf("env entries changed: %+v -> %+v", a.Env, b.Env)
	}
	for i, e := range a.Env {
		f := b.Env[i]
		if e.Name != f.Name || e.FromSource != f.FromSource || !sameTokens(e.Value, f.Value, sizeVars[i]) {
			t.Fatalf("env %s changed beyond heap sizes: %q -> %q", e.Name, e.Value, f.Value)
		}
	}
	if b.EnvFrom != a.EnvFrom {
		t.Fatal("EnvFrom changed")
	}
}

// sameList compares argv lists, allowing one inserted "-Xmx<size>" element.
func sameList(a, b []string, _ map[int]bool) bool {
	if len(b) == len(a)+1 {
		for i := range b {
			if isNewXmx(b[i]) {
				rest := append(append([]string{}, b[:i]...), b[i+1:]...)
				if sameList(a, rest, nil) {
					return true
				}
			}
		}
		return false
	}
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameTokens(a[i], b[i], false) {
			return false
		}
	}
	return true
}

// sameTokens compares strings token by token, allowing changed heap sizes and one added "-Xmx<size>".
func sameTokens(a, b string, sizeOnly bool) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	if len(y) == len(x)+1 {
		for i := range y {
			if isNewXmx(y[i]) {
				rest := append(append([]string{}, y[:i]...), y[i+1:]...)
				if tokensMatch(x, rest, sizeOnly) {
					return true
				}
			}
		}
		return false
	}
	return len(x) == len(y) && tokensMatch(x, y, sizeOnly)
}

func tokensMatch(x, y []string, sizeOnly bool) bool {
	for i := range x {
		if x[i] != y[i] && !heapTokenChange(x[i], y[i]) && !(sizeOnly && isSizeToken(x[i]) && isSizeToken(y[i])) {
			return false
		}
	}
	return true
}

// heapTokenChange: both tokens are the same heap option (same text around it) with another size.
func heapTokenChange(a, b string) bool {
	for _, p := range heapPrefixList {
		i := strings.Index(a, p)
		if i < 0 || !strings.HasPrefix(b, a[:i+len(p)]) {
			continue
		}
		ra, rb := a[i+len(p):], b[i+len(p):]
		na, nb := sizeRun(ra), sizeRun(rb)
		if na > 0 && nb > 0 && ra[na:] == rb[nb:] {
			return true
		}
	}
	return false
}

func sizeRun(s string) int {
	n := 0
	for n < len(s) && strings.IndexByte("0123456789abcdefABCDEFxXkKmMgGtT", s[n]) >= 0 {
		n++
	}
	return n
}

func isSizeToken(s string) bool { return s != "" && sizeRun(s) == len(s) }

func isNewXmx(s string) bool {
	if !strings.HasPrefix(s, "-Xmx") || len(s) < 5 {
		return false
	}
	v := s[4:]
	if last := v[len(v)-1]; last == 'm' || last == 'k' {
		v = v[:len(v)-1]
	}
	return v != "" && strings.Trim(v, "0123456789") == ""
}

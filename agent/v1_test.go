package agent

// Real cgroup v1 tests: they create child cgroups under this test process's own memory cgroup, run
// log writers in them and reclaim with the real kernel. They fail (not skip) when the controller is
// not writable, unless HEADROOM_SKIP_INTEGRATION is set; they skip only on a machine with no cgroup v1
// memory controller at all, and say so.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/headroom-dev/headroom/reclaim"
)

const (
	helperEnv    = "HEADROOM_AGENT_TEST_HELPER"
	skipEnv      = "HEADROOM_SKIP_INTEGRATION" // internal/testenv.SkipEnv
	v1MemoryRoot = "/sys/fs/cgroup/memory"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
	case "readonly-once":
		os.Exit(readOnlyOnce())
	default:
		os.Exit(logWriter())
	}
	os.Exit(m.Run())
}

// anon keeps the helper's simulated heap reachable.
var anon []byte

// logWriter is the helper process: it moves itself into $HEADROOM_AGENT_TEST_CGROUP (so all it
// allocates from then on is charged there), touches $HEADROOM_AGENT_TEST_ANON_MIB of anonymous memory
// (a stand-in for a heap, so rss is not zero), says "ready", then obeys "write PATH MIB keep|close"
// lines on stdin by appending MIB MiB of 256-byte log lines, one write(2) each, like a logger, and
// "read PATH" lines by reading the whole file, like a server reading its data.
func logWriter() int {
	cg := os.Getenv("HEADROOM_AGENT_TEST_CGROUP")
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "join cgroup:", err)
		return 1
	}
	mib, _ := strconv.Atoi(os.Getenv("HEADROOM_AGENT_TEST_ANON_MIB"))
	anon = make([]byte, mib<<20)
	for i := 0; i < len(anon); i += 4096 {
		anon[i] = 1
	}
	fmt.Println("ready")
	line := []byte("2026-01-01T00:00:00.000Z INFO [main] c.e.App - request handled " + strings.Repeat("x", 256-65) + "\n")
	files := map[string]*os.File{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "read" {
			// Streamed through a small buffer: reading into memory would charge the file's size as anon.
			file, err := os.Open(f[1])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			n, err := io.Copy(io.Discard, file)
			file.Close()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Println("ok", n)
			continue
		}
		if len(f) != 4 || f[0] != "write" {
			fmt.Fprintln(os.Stderr, "bad command:", sc.Text())
			return 1
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		file := files[f[1]]
		if file == nil {
			var err error
			if file, err = os.OpenFile(f[1], os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		for done := int64(0); done < n<<20; done += int64(len(line)) {
			if _, err := file.Write(line); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		if f[3] == "keep" {
			files[f[1]] = file
		} else {
			file.Close()
			delete(files, f[1])
		}
		fmt.Println("ok")
	}
	return 0
}

var cgroupSeq atomic.Int64

// v1Base creates a scratch cgroup under this process's own v1 memory cgroup (from /proc/self/cgroup)
// and removes it when the test ends.
func v1Base(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	own, found := "", false
	for _, ln := range strings.Split(string(b), "\n") {
		// "4:memory:/process_api/<id>"; a v2-only machine has just "0::/..."
		if f := strings.SplitN(ln, ":", 3); len(f) == 3 && f[1] == "memory" {
			own, found = f[2], true
		}
	}
	if _, err := os.Stat(filepath.Join(v1MemoryRoot, "memory.stat")); !found || err != nil {
		t.Skipf("this machine has no cgroup v1 memory controller (no memory line in /proc/self/cgroup, or %s/memory.stat missing: %v): "+
			"the real v1 reclaim tests cannot run here; cgroup v2 logic is covered by the fake-tree tests", v1MemoryRoot, err)
	}
	base := filepath.Join(v1MemoryRoot, own, fmt.Sprintf("headroom-agent-test-%d-%d", os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(base, 0o755); err != nil {
		if os.Getenv(skipEnv) != "" {
			t.Skipf("skipped because %s is set: cannot create a cgroup under %s: %v", skipEnv, filepath.Dir(base), err)
		}
		t.Fatalf("the cgroup v1 memory controller is not writable (%v); these tests need root (set %s=1 to skip locally)", err, skipEnv)
	}
	t.Cleanup(func() { rmdirCgroup(t, base) })
	return base
}

// mkcg creates a child cgroup with a memory limit (0: none), removed when the test ends.
func mkcg(t testing.TB, dir string, limit int64) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rmdirCgroup(t, dir) })
	if limit > 0 {
		if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rmdirCgroup removes an empty cgroup; the kernel moves any charge left to the parent. Processes are
// killed by their own cleanup, which runs first (cleanups run last-registered first).
func rmdirCgroup(t testing.TB, dir string) {
	var err error
	for range 50 {
		if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("remove cgroup %s: %v", dir, err)
}

// writer is a running logWriter process.
type writer struct {
	t     *testing.T
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startWriter(t *testing.T, cg string, anonMiB int) *writer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "HEADROOM_AGENT_TEST_CGROUP="+cg,
		"HEADROOM_AGENT_TEST_ANON_MIB="+strconv.Itoa(anonMiB), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	w := &writer{t: t, stdin: stdin, out: bufio.NewReader(stdout)}
	w.expect("ready")
	return w
}

// write appends mib MiB to path; keep leaves the file open (write-only, append) in the writer.
func (w *writer) write(path string, mib int, keep bool) {
	w.t.Helper()
	mode := "close"
	if keep {
		mode = "keep"
	}
	if _, err := fmt.Fprintf(w.stdin, "write %s %d %s\n", path, mib, mode); err != nil {
		w.t.Fatal(err)
	}
	w.expect("ok")
}

// read reads the whole file at path from inside the cgroup; it returns the bytes read.
func (w *writer) read(path string) int64 {
	w.t.Helper()
	if _, err := fmt.Fprintf(w.stdin, "read %s\n", path); err != nil {
		w.t.Fatal(err)
	}
	var n int64
	if _, err := fmt.Sscanf(w.readLine(), "ok %d", &n); err != nil {
		w.t.Fatalf("log writer did not confirm the read: %v", err)
	}
	return n
}

func (w *writer) readLine() string {
	w.t.Helper()
	got := make(chan string, 1)
	go func() { s, _ := w.out.ReadString('\n'); got <- strings.TrimSpace(s) }()
	select {
	case s := <-got:
		return s
	case <-time.After(2 * time.Minute):
		w.t.Fatal("log writer did not answer within 2 minutes")
		return ""
	}
}

func (w *writer) expect(want string) {
	w.t.Helper()
	got := make(chan string, 1)
	go func() { s, _ := w.out.ReadString('\n'); got <- strings.TrimSpace(s) }()
	select {
	case s := <-got:
		if s != want {
			w.t.Fatalf("log writer said %q, want %q", s, want)
		}
	case <-time.After(2 * time.Minute):
		w.t.Fatalf("log writer did not say %q within 2 minutes", want)
	}
}

// v1Pod lays out a burstable pod with one container in the cgroupfs-driver layout under base and
// returns the container's cgroup.
func v1Pod(t *testing.T, base string, n int, limit int64) string {
	pod := filepath.Join(base, "kubepods", "burstable", "pod"+podUIDFor(n))
	for _, d := range []string{filepath.Join(base, "kubepods"), filepath.Dir(pod), pod} {
		if _, err := os.Stat(d); err != nil {
			mkcg(t, d, 0)
		}
	}
	return mkcg(t, filepath.Join(pod, hexID(n)), limit)
}

func v1Agent(t *testing.T, base string, clock *time.Time, objs ...client.Object) *Agent {
	t.Helper()
	return v1AgentWith(t, base, "/proc", &recorder{}, clock, objs...)
}

// v1AgentWith is v1Agent with a procfs (a fake one stands for an agent without hostPID) and a recorder.
func v1AgentWith(t *testing.T, base, proc string, events *recorder, clock *time.Time, objs ...client.Object) *Agent {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeName = node
	cfg.DropCachesPath = filepath.Join(t.TempDir(), "drop_caches") // never the real one here
	a, err := New(cfg, fake.NewClientBuilder().WithObjects(objs...).Build(), events, V1{Dir: base, Proc: proc}, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return *clock }
	return a
}

func v1Stats(t *testing.T, dir string) reclaim.Stats {
	t.Helper()
	s, err := V1{}.Stats(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func line(s reclaim.Stats) string {
	return fmt.Sprintf("usage %s, cache %s (inactive %s, active %s), rss %s, working set %s",
		reclaim.MiB(s.Usage), reclaim.MiB(s.File), reclaim.MiB(s.InactiveFile), reclaim.MiB(s.ActiveFile), reclaim.MiB(s.Anon), reclaim.MiB(s.WorkingSet()))
}

func TestV1PassReclaimsOnePodsCache(t *testing.T) {
	base := v1Base(t)
	const limit = 256 << 20
	full := v1Pod(t, base, 1, limit)    // will write 384 MiB of log into 256 MiB
	calm := v1Pod(t, base, 2, 1024<<20) // 64 MiB of log in 1 GiB: under the threshold
	wFull, wCalm := startWriter(t, full, 48), startWriter(t, calm, 48)
	logs := t.TempDir() // ext4: real page cache
	wFull.write(filepath.Join(logs, "full.log"), 384, false)
	wCalm.write(filepath.Join(logs, "calm.log"), 64, false)

	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := v1Agent(t, base, &clock, namespace("default", nil),
		makePod("default", "full", podUIDFor(1), node).container("app", hexID(1)).obj(),
		makePod("default", "calm", podUIDFor(2), node).container("app", hexID(2)).obj())
	th := reclaim.DefaultThresholds
	calmBefore := v1Stats(t, calm)
	before := v1Stats(t, full)
	t.Logf("full before: %s (limit %s)", line(before), reclaim.MiB(limit))
	if before.Usage <= int64(th.Threshold*limit) || before.File < 100<<20 {
		t.Fatalf("setup: the log writer should have filled its cgroup with cache: %s", line(before))
	}

	t0 := time.Now()
	outs, err := a.Pass(context.Background())
	wall := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"full/app success"}, summary(outs)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	o := outs[0]
	t.Logf("full after %s in %s (pass %s): %s", o.Method, o.Took.Round(time.Millisecond), wall.Round(time.Millisecond), line(o.After))
	// The log is closed, so no written file is open: the v1 path goes to force_empty.
	if o.Method != MethodForceEmpty {
		t.Errorf("method = %s, want force_empty for a closed log", o.Method)
	}
	if o.After.Usage > int64(th.Target*limit) {
		t.Errorf("usage after %s, want under the target %s", reclaim.MiB(o.After.Usage), reclaim.MiB(int64(th.Target*limit)))
	}
	if o.After.File > 16<<20 {
		t.Errorf("cache after %s, want it (nearly) gone", reclaim.MiB(o.After.File))
	}
	if d := o.After.Anon - o.Before.Anon; d < -(1<<20) || d > 1<<20 {
		t.Errorf("rss changed: %s -> %s", reclaim.MiB(o.Before.Anon), reclaim.MiB(o.After.Anon))
	}
	calmAfter := v1Stats(t, calm)
	if d := calmAfter.File - calmBefore.File; d < -(1<<20) || d > 1<<20 {
		t.Errorf("the pod under the threshold lost cache: %s -> %s", line(calmBefore), line(calmAfter))
	}
	t.Logf("calm (left alone): %s -> %s", line(calmBefore), line(calmAfter))

	// The writer refills its cache; within --min-interval the pod is left alone.
	wFull.write(filepath.Join(logs, "full.log.1"), 384, false)
	clock = clock.Add(time.Minute)
	outs, err = a.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"full/app pod-min-interval"}, summary(outs)); diff != "" {
		t.Errorf("second pass within min-interval: outcomes (-want +got):\n%s", diff)
	}
	if s := v1Stats(t, full); s.File < 100<<20 {
		t.Errorf("cache was reclaimed within min-interval: %s", line(s))
	}
	clock = clock.Add(5 * time.Minute)
	outs, err = a.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"full/app success"}, summary(outs)); diff != "" {
		t.Errorf("pass after min-interval: outcomes (-want +got):\n%s", diff)
	}
}

func TestV1PassPrefersTheOpenLogWithFadvise(t *testing.T) {
	base := v1Base(t)
	const limit = 256 << 20
	cg := v1Pod(t, base, 1, limit)
	w := startWriter(t, cg, 48)
	w.write(filepath.Join(t.TempDir(), "app.log"), 384, true) // still open for append, like a live logger

	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := v1Agent(t, base, &clock, namespace("default", nil),
		makePod("default", "logger", podUIDFor(1), node).container("app", hexID(1)).obj())
	outs, err := a.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"logger/app success"}, summary(outs)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	o := outs[0]
	t.Logf("before: %s", line(o.Before))
	t.Logf("after %s of %d file(s) in %s: %s", o.Method, o.Files, o.Took.Round(time.Millisecond), line(o.After))
	if o.Method != MethodFadvise || o.Files != 1 {
		t.Errorf("method = %s on %d files, want fadvise of the one open log", o.Method, o.Files)
	}
	if o.After.Usage > int64(reclaim.DefaultThresholds.Target*limit) {
		t.Errorf("usage after %s, want under the target", reclaim.MiB(o.After.Usage))
	}
	if d := o.After.Anon - o.Before.Anon; d < -(1<<20) || d > 1<<20 {
		t.Errorf("rss changed: %s -> %s", reclaim.MiB(o.Before.Anon), reclaim.MiB(o.After.Anon))
	}
}

// Without hostPID the agent sees none of a pod's processes, so fadvise drops nothing and the only v1
// method left is force_empty, which also drops active pages. A read-heavy pod over the threshold on
// usage alone must keep its hot cache (the decision asks only for inactive pages): the pass reports
// a partial result instead. A log writer, whose active cache is negligible, still gets force_empty.
func TestV1PassKeepsHotCacheWithoutHostPID(t *testing.T) {
	base := v1Base(t)
	const limit = 512 << 20
	search := v1Pod(t, base, 1, limit) // hot index read twice + closed log, under the limit
	logger := v1Pod(t, base, 2, 256<<20)
	ws, wl := startWriter(t, search, 32), startWriter(t, logger, 48)
	dir := t.TempDir() // ext4: real page cache
	index := filepath.Join(dir, "index.dat")
	ws.write(index, 160, false)
	// Written, then read twice: the second access moves the pages to the active list (FACTS.md A.2).
	ws.read(index)
	if n := ws.read(index); n < 160<<20 {
		t.Fatalf("read %d bytes of the index, want at least %d", n, 160<<20)
	}
	ws.write(filepath.Join(dir, "search.log"), 230, false)
	wl.write(filepath.Join(dir, "app.log"), 384, false)

	th := reclaim.DefaultThresholds
	line := int64(th.Threshold * limit)
	before := v1Stats(t, search)
	t.Logf("search before: %s (limit %s, threshold %s)", statsLine(before), reclaim.MiB(limit), reclaim.MiB(line))
	if before.Usage <= line || before.WorkingSet() > line || before.ActiveFile < 128<<20 || before.Usage >= limit-(16<<20) {
		t.Fatalf("setup: want usage over the threshold from inactive (log) cache, the working set under it, "+
			"at least 128MiB of active (index) cache and room below the limit; got %s", statsLine(before))
	}

	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := &recorder{}
	noHostPID := fakeProc(t, false) // a procfs without the pods' processes, as in a pod without hostPID
	a := v1AgentWith(t, base, noHostPID, events, &clock, namespace("default", nil),
		makePod("default", "search", podUIDFor(1), node).container("app", hexID(1)).obj(),
		makePod("default", "logger", podUIDFor(2), node).container("app", hexID(2)).obj())
	prev := snapshot()
	outs, err := a.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"logger/app success", "search/app partial"}, summary(outs)); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	lo, so := outs[0], outs[1]
	t.Logf("logger: %s with %s in %s -> %s", statsLine(lo.Before), lo.Method, lo.Took.Round(time.Millisecond), statsLine(lo.After))
	t.Logf("search: asked %s (may drop active: %v) with %s in %s -> %s; %s", reclaim.MiB(so.Action.Bytes), so.Action.MayDropActive,
		so.Method, so.Took.Round(time.Millisecond), statsLine(so.After), so.Detail)
	if !lo.Action.MayDropActive || lo.Method != MethodForceEmpty || lo.After.Usage > int64(th.Target*(256<<20)) {
		t.Errorf("logger: may drop active %v, method %s, usage after %s: want force_empty down to the target",
			lo.Action.MayDropActive, lo.Method, reclaim.MiB(lo.After.Usage))
	}
	if so.Action.MayDropActive || so.Method != MethodFadvise {
		t.Errorf("search: may drop active %v, method %s; want the active cache kept and no force_empty", so.Action.MayDropActive, so.Method)
	}
	if so.After.ActiveFile < so.Before.ActiveFile-(8<<20) {
		t.Errorf("search lost its hot cache: active %s -> %s", reclaim.MiB(so.Before.ActiveFile), reclaim.MiB(so.After.ActiveFile))
	}
	if so.After.File < so.Before.File-(16<<20) {
		t.Errorf("search lost page cache although nothing could be dropped selectively: %s -> %s", reclaim.MiB(so.Before.File), reclaim.MiB(so.After.File))
	}
	ev := events.Events()
	for _, e := range ev {
		t.Logf("event (%d bytes): %s", len(e), e)
	}
	if len(ev) != 2 || !strings.Contains(ev[1], "default/search Normal PageCacheReclaimed") ||
		!strings.Contains(ev[1], "(partial: kept the active (hot) page cache, which memory.force_empty would drop as well; ") ||
		!strings.Contains(ev[1], "hostPID") {
		t.Errorf("events = %q\nwant the search pod's to say the result is partial, why, and that fadvise needs hostPID", ev)
	}
	if d := snapshot().sub(prev); d[`reclaims{fadvise,partial}`] != 1 || d[`reclaims{force_empty,success}`] != 1 {
		t.Errorf("metric deltas %v: want one fadvise partial and one force_empty success", d)
	}

	// What the pass did before the decision reached the reclaim: force_empty whenever fadvise freed
	// less than asked. It takes the hot cache too, which is what the assertions above rule out.
	if _, err := (V1{Proc: noHostPID}).Reclaim(search, so.Action.Bytes, true); err != nil {
		t.Fatal(err)
	}
	forced := v1Stats(t, search)
	t.Logf("search after force_empty (active cache allowed to go): %s", statsLine(forced))
	if forced.ActiveFile > 16<<20 {
		t.Errorf("force_empty left %s of active cache: this machine does not show what the test guards against", reclaim.MiB(forced.ActiveFile))
	}
}

func TestV1Once(t *testing.T) {
	base := v1Base(t)
	cg := mkcg(t, filepath.Join(base, "manual"), 256<<20)
	w := startWriter(t, cg, 48)
	w.write(filepath.Join(t.TempDir(), "app.log"), 384, false)
	var out strings.Builder
	if err := Once(&out, cg, reclaim.DefaultThresholds, ""); err != nil {
		t.Fatal(err)
	}
	t.Logf("headroom agent --once --cgroup %s:\n%s", cg, out.String())
	for _, want := range []string{"(cgroup v1)", "decision  reclaim: ", "with force_empty (cgroup v1 reclaims all the cache it can", ": success", "after     usage "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if s := v1Stats(t, cg); s.Usage > int64(reclaim.DefaultThresholds.Target*(256<<20)) {
		t.Errorf("after --once: %s, want usage under the target", line(s))
	}
	if err := Once(io.Discard, filepath.Join(base, "gone"), reclaim.DefaultThresholds, ""); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Once on a missing cgroup = %v, want a clear error", err)
	}
}

// BenchmarkV1Pass200 is BenchmarkPass200 on 200 real cgroup v1 memory cgroups of this machine.
func BenchmarkV1Pass200(b *testing.B) {
	base := v1Base(b)
	kubepods := mkcg(b, filepath.Join(base, "kubepods"), 0)
	burstable := mkcg(b, filepath.Join(kubepods, "burstable"), 0)
	pods := map[string]bool{}
	a := pass200(b, V1{Dir: base, Proc: "/proc"}, func(podUID, id string) {
		pod := filepath.Join(burstable, "pod"+podUID)
		if !pods[pod] {
			mkcg(b, pod, 0)
			pods[pod] = true
		}
		mkcg(b, filepath.Join(pod, id), 512<<20)
	})
	// Real v1 memory.stat files are generated by the kernel on every read (about 1.5 KiB, ~70 keys).
	benchPasses(b, a)
}

func TestV1NeverForceEmptiesWithSwapActive(t *testing.T) {
	// With swap, force_empty's reclaim may page anon memory out. The writer's log is closed, so
	// fadvise finds nothing either: the reclaim must fail and leave the cgroup as it was.
	base := v1Base(t)
	cg := mkcg(t, filepath.Join(base, "swap"), 256<<20)
	w := startWriter(t, cg, 48)
	w.write(filepath.Join(t.TempDir(), "app.log"), 384, false)
	before := v1Stats(t, cg)
	_, err := V1{Proc: fakeProc(t, true)}.Reclaim(cg, 100<<20, true)
	if err == nil || !strings.Contains(err.Error(), "swap is active") {
		t.Errorf("Reclaim with swap active = %v, want a refusal naming swap", err)
	}
	if after := v1Stats(t, cg); after.File < before.File-(4<<20) {
		t.Errorf("cache fell with swap active: %s -> %s", line(before), line(after))
	}
}

package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/headroom-dev/headroom/reclaim"
)

func TestV2Stats(t *testing.T) {
	dir := t.TempDir()
	want := reclaim.Stats{Usage: 900 * mi, Limit: 1000 * mi, Anon: 300 * mi, File: 600 * mi, ActiveFile: 100 * mi, InactiveFile: 500 * mi}
	writeV2(t, dir, want)
	got, err := V2{}.Stats(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reclaim.Stats (-want +got):\n%s", diff)
	}

	writeV2(t, dir, reclaim.Stats{Usage: 5 * mi})
	if got, err := (V2{}).Stats(dir); err != nil || got.Limit != 0 {
		t.Errorf(`memory.max "max": Limit = %d, %v; want 0 (no limit)`, got.Limit, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.stat"), []byte("anon 1\nfile 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (V2{}).Stats(dir); err == nil {
		t.Error("memory.stat without active_file/inactive_file: want an error")
	}
	if _, err := (V2{}).Stats(filepath.Join(dir, "gone")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reclaim.Stats of a removed cgroup = %v, want ErrNotExist", err)
	}
}

func TestV1Stats(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"memory.usage_in_bytes": "536870912\n",
		"memory.limit_in_bytes": "536870912\n",
		// Non-hierarchical lines come first in v1; the total_* lines must win.
		"memory.stat": "cache 1\nrss 2\nactive_file 3\ninactive_file 4\n" +
			"total_cache 362807296\ntotal_rss 158441472\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_inactive_file 362708992\ntotal_active_file 98304\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := V1{}.Stats(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := reclaim.Stats{Usage: 536870912, Limit: 536870912, Anon: 158441472, File: 362807296, ActiveFile: 98304, InactiveFile: 362708992}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reclaim.Stats (-want +got):\n%s", diff)
	}
	// An unlimited v1 cgroup reads PAGE_COUNTER_MAX pages.
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte("9223372036854771712\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := (V1{}).Stats(dir); err != nil || got.Limit != 0 {
		t.Errorf("unlimited v1 cgroup: Limit = %d, %v; want 0", got.Limit, err)
	}
}

// fakeProc makes a procfs with just a swaps file.
func fakeProc(t *testing.T, swap bool) string {
	t.Helper()
	dir := t.TempDir()
	s := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	if swap {
		s += "/swapfile                               file\t\t1048572\t\t0\t\t-2\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "swaps"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestV2Reclaim(t *testing.T) {
	over := reclaim.Stats{Usage: 900 * mi, Limit: 1000 * mi, Anon: 300 * mi, File: 600 * mi, InactiveFile: 600 * mi}
	tests := map[string]struct {
		swap    bool
		errs    []error // returned by successive writes
		want    Result
		wantErr bool
		writes  []string
	}{
		"writes the byte count with swappiness=0": {
			errs: []error{nil}, want: Result{Method: MethodReclaim},
			writes: []string{"314572800 swappiness=0"},
		},
		"EAGAIN (less reclaimed than asked) is a partial success": {
			errs: []error{unix.EAGAIN}, want: Result{Method: MethodReclaim, Partial: true},
			writes: []string{"314572800 swappiness=0"},
		},
		"a kernel without swappiness= is retried without it when no swap is active": {
			errs: []error{unix.EINVAL, nil}, want: Result{Method: MethodReclaim},
			writes: []string{"314572800 swappiness=0", "314572800"},
		},
		"a kernel without swappiness= is not retried when swap is active: anon could be swapped": {
			swap: true, errs: []error{unix.EINVAL}, want: Result{Method: MethodReclaim}, wantErr: true,
			writes: []string{"314572800 swappiness=0"},
		},
		"other errors are errors": {
			errs: []error{unix.EBUSY}, want: Result{Method: MethodReclaim}, wantErr: true,
			writes: []string{"314572800 swappiness=0"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeV2(t, dir, over)
			var writes []string
			v := V2{Proc: fakeProc(t, tc.swap), write: func(path string, data []byte) error {
				if filepath.Base(path) != "memory.reclaim" {
					t.Errorf("wrote %s, want memory.reclaim only", path)
				}
				writes = append(writes, string(data))
				err := tc.errs[0]
				tc.errs = tc.errs[1:]
				return err
			}}
			got, err := v.Reclaim(dir, 300*mi, false)
			if (err != nil) != tc.wantErr {
				t.Errorf("Reclaim error = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Reclaim (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.writes, writes); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("the real writer puts the request in memory.reclaim", func(t *testing.T) {
		dir := t.TempDir()
		writeV2(t, dir, over)
		if _, err := (V2{Proc: fakeProc(t, false)}).Reclaim(dir, 300*mi, false); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "memory.reclaim"))
		if string(b) != "314572800 swappiness=0" {
			t.Errorf("memory.reclaim = %q", b)
		}
	})
}

func TestV2WithoutMemoryReclaimFallsBackToFadvise(t *testing.T) {
	dir := t.TempDir()
	writeV2(t, dir, reclaim.Stats{Usage: 900 * mi, Limit: 1000 * mi, File: 600 * mi, InactiveFile: 600 * mi})
	if err := os.Remove(filepath.Join(dir, "memory.reclaim")); err != nil {
		t.Fatal(err)
	}
	// A kernel before 5.19: the agent drops the cache of files the cgroup's processes write. Put this
	// test process "in" the fake cgroup, holding a log open for append.
	log, err := os.OpenFile(filepath.Join(t.TempDir(), "app.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := log.WriteString(strings.Repeat("x", 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := V2{Proc: "/proc"}.Reclaim(dir, 100*mi, false)
	if err != nil || got.Method != MethodFadvise || got.Files < 1 {
		t.Errorf("Reclaim = %+v, %v; want fadvise of at least the open log", got, err)
	}

	// No process holding a written file: nothing to do is an error, so drop_caches may step in.
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (V2{Proc: "/proc"}).Reclaim(dir, 100*mi, false); err == nil {
		t.Error("fadvise with no processes: want an error")
	}
}

// TestV1ReclaimKeepsActiveCacheWhenTold runs the v1 reclaim on a fake tree, where no write frees
// anything: which files it writes is what matters. The cgroup's one process is outside the agent's PID
// namespace (cgroup.procs reads 0, as without hostPID), so fadvise finds nothing to drop.
func TestV1ReclaimKeepsActiveCacheWhenTold(t *testing.T) {
	hot := reclaim.Stats{Usage: 830 * mi, Limit: 1000 * mi, Anon: 300 * mi, File: 530 * mi, InactiveFile: 130 * mi, ActiveFile: 400 * mi}
	tests := map[string]struct {
		mayDropActive, swap bool
		want                Result
		wantReason          []string // substrings of Result.Reason
		wantErr             string
		forceEmpty          string // memory.force_empty afterwards
	}{
		"active cache must stay: no force_empty, a partial result that says why": {
			want:       Result{Method: MethodFadvise, Partial: true},
			wantReason: []string{"kept the active (hot) page cache, which memory.force_empty would drop as well", "freed 0.0MiB of the 130.0MiB asked", "hostPID"},
		},
		"active cache may go: force_empty": {
			mayDropActive: true, want: Result{Method: MethodForceEmpty}, forceEmpty: "0",
		},
		"active cache may go, but swap is active: force_empty is not used either": {
			mayDropActive: true, swap: true, want: Result{Method: MethodFadvise}, wantErr: "swap is active",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeV1(t, dir, hot)
			got, err := V1{Proc: fakeProc(t, tc.swap)}.Reclaim(dir, 130*mi, tc.mayDropActive)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Reclaim error = %v, want %q", err, tc.wantErr)
			}
			reason := got.Reason
			got.Reason = ""
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Reclaim (-want +got):\n%s", diff)
			}
			for _, w := range tc.wantReason {
				if !strings.Contains(reason, w) {
					t.Errorf("Reason %q lacks %q", reason, w)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "memory.force_empty")); string(b) != tc.forceEmpty {
				t.Errorf("memory.force_empty = %q, want %q", b, tc.forceEmpty)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	v2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(v2, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := Detect(v2, "/proc"); err != nil || m.Version() != "v2" || m.Root() != v2 {
		t.Errorf("Detect(v2 root) = %v, %v", m, err)
	}

	// Hybrid: a cgroup2 without the memory controller at unified/ (this machine), v1 memory at memory/.
	hybrid := t.TempDir()
	for _, p := range []string{"unified/cgroup.controllers", "memory/memory.stat"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(hybrid, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hybrid, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if m, err := Detect(hybrid, "/proc"); err != nil || m.Version() != "v1" || m.Root() != filepath.Join(hybrid, "memory") {
		t.Errorf("Detect(v1 root) = %v, %v", m, err)
	}
	if _, err := Detect(t.TempDir(), "/proc"); err == nil {
		t.Error("Detect(empty dir): want an error")
	}
}

func TestOpenedForWriting(t *testing.T) {
	tests := map[string]bool{
		"pos:\t0\nflags:\t0100000\nmnt_id:\t25\n": false, // O_RDONLY|O_LARGEFILE
		"pos:\t0\nflags:\t0100001\nmnt_id:\t25\n": true,  // O_WRONLY
		"pos:\t0\nflags:\t0102001\nmnt_id:\t25\n": true,  // O_WRONLY|O_APPEND
		"pos:\t0\nflags:\t0102002\nmnt_id:\t25\n": true,  // O_RDWR|O_APPEND
		"pos:\t0\nflags:\t0100002\nmnt_id:\t25\n": false, // O_RDWR: a data file or database
		"pos:\t0\n": false,
	}
	for content, want := range tests {
		p := filepath.Join(t.TempDir(), "fdinfo")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := openedForWriting(p); got != want {
			t.Errorf("openedForWriting(%q) = %v, want %v", content, got, want)
		}
	}
}

func TestSwapActive(t *testing.T) {
	for _, swap := range []bool{false, true} {
		if got, err := swapActive(fakeProc(t, swap)); err != nil || got != swap {
			t.Errorf("swapActive = %v, %v; want %v", got, err, swap)
		}
	}
}

package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/headroom-dev/headroom/reclaim"
)

// Memcg reads and reclaims the memory cgroups of one cgroup version. V1 and V2 implement it; the
// node loop and the manual mode only talk to this interface.
type Memcg interface {
	// Version is "v1" or "v2".
	Version() string
	// Root is the memory hierarchy's root directory; the kubepods tree is searched under it.
	Root() string
	// Stats reads the memory figures of the cgroup at dir.
	Stats(dir string) (reclaim.Stats, error)
	// Reclaim asks the kernel to drop about want bytes of page cache charged to the cgroup at dir.
	// mayDropActive is the decision's reclaim.Action.MayDropActive: when false the active (hot) cache
	// must stay, so no method that would take it as well is used, and less than want is a partial
	// result rather than a reason to use one.
	Reclaim(dir string, want int64, mayDropActive bool) (Result, error)
	// CheckWritable fails when the reclaim interface of dir is missing or cannot be written.
	CheckWritable(dir string) error
}

// Method names how cache was reclaimed; it is the method label of headroom_agent_reclaims_total.
type Method string

const (
	// MethodReclaim is cgroup v2 memory.reclaim (Linux 5.19+): the kernel reclaims the amount asked.
	MethodReclaim Method = "memory.reclaim"
	// MethodForceEmpty is cgroup v1 memory.force_empty: reclaims everything it can.
	MethodForceEmpty Method = "force_empty"
	// MethodFadvise is posix_fadvise(DONTNEED) on the files the container has open for writing.
	MethodFadvise Method = "fadvise"
	// MethodDropCaches is the node-wide last resort, /proc/sys/vm/drop_caches.
	MethodDropCaches Method = "drop_caches"
)

// Result says how a reclaim went when it did not fail.
type Result struct {
	Method Method
	// Partial: the kernel reclaimed less than asked (memory.reclaim returned EAGAIN, or fadvise alone
	// freed less and nothing else was safe or allowed to try).
	Partial bool
	// Reason says why a reclaim was partial, for the event and the log; empty otherwise.
	Reason string
	// Files is how many files fadvise dropped, when it was used.
	Files int
}

// Detect finds the memory controller under a cgroup fs mount (e.g. /sys/fs/cgroup mounted from the
// host): cgroup v2 when the unified root lists the memory controller, else the v1 memory hierarchy.
// proc is the procfs to use for swap detection and open files (/proc; the host's with hostPID).
func Detect(cgroupRoot, proc string) (Memcg, error) {
	if b, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		for _, c := range bytes.Fields(b) {
			if string(c) == "memory" {
				return V2{Dir: cgroupRoot, Proc: proc}, nil
			}
		}
	}
	v1 := filepath.Join(cgroupRoot, "memory")
	if _, err := os.Stat(filepath.Join(v1, "memory.stat")); err == nil {
		return V1{Dir: v1, Proc: proc}, nil
	}
	return nil, fmt.Errorf("no memory controller under %s: neither cgroup v2 (cgroup.controllers lists memory) nor v1 (memory/memory.stat)", cgroupRoot)
}

// ForDir picks the implementation for one cgroup directory from the files it holds (manual mode).
func ForDir(dir, proc string) (Memcg, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cgroup %s does not exist", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("cgroup %s: not a directory", dir)
	}
	if exists(filepath.Join(dir, "memory.usage_in_bytes")) {
		return V1{Dir: dir, Proc: proc}, nil
	}
	if exists(filepath.Join(dir, "memory.current")) {
		return V2{Dir: dir, Proc: proc}, nil
	}
	return nil, fmt.Errorf("cgroup %s: not a memory cgroup (no memory.usage_in_bytes or memory.current)", dir)
}

// V1 is the cgroup v1 memory controller.
type V1 struct {
	Dir  string // e.g. /sys/fs/cgroup/memory
	Proc string // procfs, e.g. /proc
}

// v1Unlimited: an unlimited v1 limit reads as PAGE_COUNTER_MAX pages (9223372036854771712 on x86-64);
// anything this large is no limit at all.
const v1Unlimited = int64(1) << 60

func (v V1) Version() string { return "v1" }
func (v V1) Root() string    { return v.Dir }

// Stats reads memory.usage_in_bytes, memory.limit_in_bytes and the hierarchical total_* lines of
// memory.stat (a container cgroup may have children, e.g. cri-o's).
func (v V1) Stats(dir string) (reclaim.Stats, error) {
	var s reclaim.Stats
	var err error
	if s.Usage, err = readInt(filepath.Join(dir, "memory.usage_in_bytes")); err != nil {
		return s, err
	}
	if s.Limit, err = readInt(filepath.Join(dir, "memory.limit_in_bytes")); err != nil {
		return s, err
	}
	if s.Limit >= v1Unlimited {
		s.Limit = 0
	}
	err = readStat(filepath.Join(dir, "memory.stat"), map[string]*int64{
		"total_rss": &s.Anon, "total_cache": &s.File, "total_active_file": &s.ActiveFile, "total_inactive_file": &s.InactiveFile,
	})
	return s, err
}

// Reclaim on v1. There is no v1 interface that reclaims an amount (memory.reclaim is v2 only, and we
// never lower limit_in_bytes: the application can hit the lowered limit while it is low). So:
//  1. fadvise(DONTNEED) the files the container holds open write-only or append: its logs. Appended
//     pages stay on the inactive list on this kernel (FACTS.md A.1), so this is the inactive cache we
//     prefer to drop, and it leaves files the container reads (its hot data) alone. Done if enough.
//  2. Otherwise memory.force_empty, which reclaims all the cache it can, active pages included: more
//     than asked, but measured here at ~0.1 s for 350 MiB on a live cgroup with no rss change (A.5).
//     Only when mayDropActive: else the decision kept a read-heavy pod's hot cache (FACTS.md A.2),
//     which force_empty would throw away on every pass (and without hostPID fadvise sees no process,
//     so that would be every v1 reclaim); the result is then partial. force_empty reclaims with
//     may-swap, so with swap active it would page anon out: then we stop at 1 as well.
func (v V1) Reclaim(dir string, want int64, mayDropActive bool) (Result, error) {
	fad := fadviseFreed(v.proc(), dir, "memory.usage_in_bytes")
	if fad.files > 0 && fad.freed >= want {
		return Result{Method: MethodFadvise, Files: fad.files}, nil
	}
	partial := func(why string) (Result, error) {
		return Result{Method: MethodFadvise, Files: fad.files, Partial: true, Reason: why + "; " + fad.String(want)}, nil
	}
	if !mayDropActive {
		return partial("kept the active (hot) page cache, which memory.force_empty would drop as well")
	}
	swap, serr := swapActive(v.proc())
	if serr != nil || swap {
		if serr == nil {
			serr = errors.New("swap is active, so force_empty could swap anon memory out")
		}
		if fad.files > 0 {
			return partial(fmt.Sprintf("force_empty not used: %v", serr))
		}
		return Result{Method: MethodFadvise}, fmt.Errorf("fadvise: %v; force_empty not used: %w", fad.err, serr)
	}
	if err := writeFile(filepath.Join(dir, "memory.force_empty"), []byte("0")); err != nil {
		if fad.files > 0 {
			return partial(fmt.Sprintf("force_empty failed: %v", err))
		}
		return Result{Method: MethodForceEmpty}, fmt.Errorf("force_empty: %w (fadvise: %v)", err, fad.err)
	}
	return Result{Method: MethodForceEmpty, Files: fad.files}, nil
}

// CheckWritable checks memory.force_empty.
func (v V1) CheckWritable(dir string) error {
	return checkWritable(filepath.Join(dir, "memory.force_empty"))
}

func (v V1) proc() string { return orDefault(v.Proc, "/proc") }

// V2 is the cgroup v2 memory controller.
type V2 struct {
	Dir  string // e.g. /sys/fs/cgroup
	Proc string // procfs, e.g. /proc
	// write replaces writeFile in tests (a fake tree cannot return EAGAIN or EINVAL).
	write func(path string, data []byte) error
}

func (v V2) Version() string { return "v2" }
func (v V2) Root() string    { return v.Dir }

// Stats reads memory.current, memory.max and memory.stat (hierarchical in v2).
func (v V2) Stats(dir string) (reclaim.Stats, error) {
	var s reclaim.Stats
	var err error
	if s.Usage, err = readInt(filepath.Join(dir, "memory.current")); err != nil {
		return s, err
	}
	maxPath := filepath.Join(dir, "memory.max")
	err = readSmall(maxPath, func(b []byte) error {
		if string(bytes.TrimSpace(b)) == "max" {
			return nil
		}
		s.Limit, err = parseInt(maxPath, b)
		return err
	})
	if err != nil {
		return s, err
	}
	err = readStat(filepath.Join(dir, "memory.stat"), map[string]*int64{
		"anon": &s.Anon, "file": &s.File, "active_file": &s.ActiveFile, "inactive_file": &s.InactiveFile,
	})
	return s, err
}

// Reclaim writes the byte count to memory.reclaim, which reclaims about that much from the cgroup's
// LRU lists, inactive pages first: exactly "just enough, prefer inactive". When the active cache must
// stay, the decision asks no more than the inactive list holds, so mayDropActive needs no other
// method here. swappiness=0 keeps anon memory out of it where swap exists. EAGAIN means the kernel
// reclaimed less than asked: partial.
func (v V2) Reclaim(dir string, want int64, _ bool) (Result, error) {
	p := filepath.Join(dir, "memory.reclaim")
	if !exists(p) {
		// Kernels before 5.19 have no memory.reclaim: fall back to the container's written files, which
		// never include the files it only reads.
		fad := fadviseFreed(v.proc(), dir, "memory.current")
		if fad.files == 0 {
			return Result{Method: MethodFadvise}, fmt.Errorf("no memory.reclaim (Linux 5.19+) and fadvise failed: %w", fad.err)
		}
		if fad.freed < want {
			return Result{Method: MethodFadvise, Files: fad.files, Partial: true, Reason: "no memory.reclaim (Linux 5.19+); " + fad.String(want)}, nil
		}
		return Result{Method: MethodFadvise, Files: fad.files}, nil
	}
	write := v.write
	if write == nil {
		write = writeFile
	}
	err := write(p, []byte(strconv.FormatInt(want, 10)+" swappiness=0"))
	if errors.Is(err, unix.EINVAL) {
		// Kernels without the swappiness= key reject it. Without it reclaim may swap anon out, so
		// retry only when no swap is active on the node.
		swap, serr := swapActive(v.proc())
		if serr != nil || swap {
			return Result{Method: MethodReclaim}, fmt.Errorf("memory.reclaim rejects swappiness=0 and swap may be active (%v): not reclaiming: %w", serr, err)
		}
		err = write(p, []byte(strconv.FormatInt(want, 10)))
	}
	switch {
	case err == nil:
		return Result{Method: MethodReclaim}, nil
	case errors.Is(err, unix.EAGAIN):
		return Result{Method: MethodReclaim, Partial: true}, nil
	default:
		return Result{Method: MethodReclaim}, err
	}
}

// CheckWritable checks memory.reclaim.
func (v V2) CheckWritable(dir string) error {
	return checkWritable(filepath.Join(dir, "memory.reclaim"))
}

func (v V2) proc() string { return orDefault(v.Proc, "/proc") }

// fadvised is what fadviseFreed did.
type fadvised struct {
	files int   // files dropped
	freed int64 // fall of the cgroup's usage meanwhile
	err   error // why some or all files could not be dropped
}

// String says what fadvise freed of want, and why it was not more when it knows.
func (f fadvised) String(want int64) string {
	s := fmt.Sprintf("fadvise of %d written file(s) freed %s of the %s asked", f.files, reclaim.MiB(f.freed), reclaim.MiB(want))
	if f.err != nil {
		s += fmt.Sprintf(" (%v)", f.err)
	}
	return s
}

// fadviseFreed runs fadviseWritten and measures what it freed from the cgroup's usage file.
func fadviseFreed(proc, dir, usageFile string) fadvised {
	usage := filepath.Join(dir, usageFile)
	before, berr := readInt(usage)
	var f fadvised
	f.files, f.err = fadviseWritten(proc, dir)
	if f.files > 0 && berr == nil {
		if after, err := readInt(usage); err == nil {
			f.freed = max(0, before-after)
		}
	}
	return f
}

// fadviseWritten drops the page cache of every regular file a process of the cgroup holds open
// write-only or for append (logs), with posix_fadvise(DONTNEED) through /proc/<pid>/fd. Files opened
// read-only or read-write without append (data files, databases) are left alone: they are the cache
// the application reads. Needs the host's /proc (hostPID) to see the container's processes.
// DONTNEED starts writeback of dirty pages and drops the clean ones; measured here without fsync it
// dropped everything (FACTS.md A.5 (3)). It drops a file's pages whichever cgroup they are charged to.
func fadviseWritten(proc, dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return 0, err
	}
	type fileID struct{ dev, ino uint64 }
	seen := map[fileID]bool{}
	var files, procs, unseen int
	var firstErr error
	for _, f := range bytes.Fields(b) {
		procs++
		pid := string(f)
		if pid == "0" { // a process outside our pid namespace: not reachable without hostPID
			unseen++
			continue
		}
		fdDir := filepath.Join(proc, pid, "fd")
		ents, err := os.ReadDir(fdDir)
		if err != nil {
			unseen++ // the process exited, or proc is not the procfs of its PID namespace
			continue
		}
		for _, e := range ents {
			p := filepath.Join(fdDir, e.Name())
			var st unix.Stat_t
			if unix.Stat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
				continue
			}
			id := fileID{uint64(st.Dev), uint64(st.Ino)}
			if seen[id] || !openedForWriting(filepath.Join(proc, pid, "fdinfo", e.Name())) {
				continue
			}
			seen[id] = true
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOATIME, 0)
			if err != nil {
				fd, err = unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0) // O_NOATIME needs ownership or CAP_FOWNER
			}
			if err != nil {
				firstErr = cmpErr(firstErr, fmt.Errorf("open %s: %w", p, err))
				continue
			}
			err = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
			_ = unix.Close(fd)
			if err != nil {
				firstErr = cmpErr(firstErr, fmt.Errorf("fadvise %s: %w", p, err))
				continue
			}
			files++
		}
	}
	if files == 0 && firstErr == nil {
		switch {
		case procs == 0:
			firstErr = errors.New("no process in the cgroup")
		case unseen == procs:
			firstErr = fmt.Errorf("none of the cgroup's %d processes is visible in %s: the agent needs the host's PIDs (hostPID)", procs, proc)
		default:
			firstErr = errors.New("no file open for writing (or append) in the cgroup's processes")
		}
	}
	return files, firstErr
}

// openedForWriting reads the octal "flags:" line of /proc/<pid>/fdinfo/<fd>.
func openedForWriting(fdinfo string) bool {
	b, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	for _, ln := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(ln, []byte("flags:")); ok {
			flags, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 64)
			if err != nil {
				return false
			}
			return flags&unix.O_ACCMODE == unix.O_WRONLY || flags&unix.O_APPEND != 0
		}
	}
	return false
}

// swapActive reports whether any swap device or file is in use: /proc/swaps has more than its header.
// /proc/swaps is not namespaced, so a container sees the node's.
func swapActive(proc string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(proc, "swaps"))
	if err != nil {
		return false, err
	}
	return bytes.Count(bytes.TrimSpace(b), []byte("\n")) > 0, nil
}

// bufs holds read buffers: a pass reads ~600 small cgroup files and should not allocate for each.
var bufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readSmall reads a small cgroup file with plain open/read/close, about half the system calls of
// os.ReadFile (which also fstats and registers with the poller): it is most of a pass's CPU time.
// f gets the content, valid only during the call.
func readSmall(path string, f func([]byte) error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf, n := *bp, 0
	for {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
			*bp = buf
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return f(buf[:n])
		}
		n += m
	}
}

// readInt reads a file holding one decimal number.
func readInt(path string) (int64, error) {
	var v int64
	err := readSmall(path, func(b []byte) error {
		var err error
		v, err = parseInt(path, b)
		return err
	})
	return v, err
}

func parseInt(path string, b []byte) (int64, error) {
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// readStat fills the wanted keys of a "key value" file such as memory.stat. A missing key is an error:
// it means the file is not what we think it is.
func readStat(path string, want map[string]*int64) error {
	return readSmall(path, func(b []byte) error { return parseStat(path, b, want) })
}

func parseStat(path string, b []byte, want map[string]*int64) error {
	found := 0
	for len(b) > 0 {
		var ln []byte
		ln, b, _ = bytes.Cut(b, []byte("\n"))
		k, v, ok := bytes.Cut(ln, []byte(" "))
		if !ok {
			continue
		}
		if dst, ok := want[string(k)]; ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("parse %s %s: %w", path, k, err)
			}
			*dst = n
			found++
		}
	}
	if found != len(want) {
		return fmt.Errorf("%s: expected keys missing (found %d of %d)", path, found, len(want))
	}
	return nil
}

// writeFile writes one value to an existing cgroup file in a single write(2), as the kernel expects.
// It never creates the file.
func writeFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func checkWritable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is missing: %w", path, err)
		}
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	// access(2) honours read-only mounts (EROFS) and, for non-root, permissions.
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

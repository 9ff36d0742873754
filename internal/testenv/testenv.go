package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SkipEnv is the variable a developer may set to skip integration tests locally. CI never sets it.
const SkipEnv = "HEADROOM_SKIP_INTEGRATION"

// BinDir returns the directory holding the test binaries (kube-apiserver, etcd, ...):
// $HEADROOM_BIN_DIR, or bin/ at the repository root, which hack/setup.sh fills.
func BinDir() (string, error) {
	if d := os.Getenv("HEADROOM_BIN_DIR"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// RepoRoot walks up from the working directory to the directory holding the product's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/headroom-dev/headroom\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of github.com/headroom-dev/headroom) not found above the working directory")
		}
		dir = parent
	}
}

// Require returns the path of a binary the test needs. It looks in BinDir first, then on PATH.
// When it is missing the test fails, or skips if SkipEnv is set.
func Require(t testing.TB, name string) string {
	t.Helper()
	if dir, err := BinDir(); err == nil {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	missing(t, "%s not found in bin/ or on PATH; run hack/setup.sh (or make setup)", name)
	return ""
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(SkipEnv) != "" {
		t.Skipf("skipped because %s is set: "+format, append([]any{SkipEnv}, args...)...)
	}
	t.Fatalf(format+" (set %s=1 to skip integration tests locally)", append(args, SkipEnv)...)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTails prints the end of every *.log in dir when the test has failed: that is where a
// server that died says why.
func logTails(t testing.TB, dir string) {
	if !t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, name := range logs {
		b, _ := os.ReadFile(name)
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		t.Logf("last lines of %s:\n%s", name, bytes.Join(lines, []byte("\n")))
	}
}

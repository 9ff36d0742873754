package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Prometheus is a real Prometheus server on loopback whose TSDB was backfilled from an OpenMetrics file.
type Prometheus struct {
	URL  string
	t    testing.TB
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
}

// StartPrometheus backfills openMetricsFile (OpenMetrics text with timestamps, ending in "# EOF")
// into a fresh TSDB with promtool, starts Prometheus on a free loopback port, waits until it is
// ready and stops it when the test ends. An empty file name starts an empty server.
func StartPrometheus(t testing.TB, openMetricsFile string) *Prometheus {
	t.Helper()
	bin := Require(t, "prometheus")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if openMetricsFile != "" {
		Backfill(t, openMetricsFile, data)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatalf("write prometheus config: %v", err)
	}
	p := &Prometheus{t: t, bin: bin, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", FreePort(t))}
	p.URL = "http://" + p.addr
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Backfill writes the samples of an OpenMetrics file into TSDB blocks under dataDir with promtool.
func Backfill(t testing.TB, openMetricsFile, dataDir string) {
	t.Helper()
	promtool := Require(t, "promtool")
	start := time.Now()
	// The hidden --max-block-duration makes a week of history a few large blocks: 1 s instead of 30 s.
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=336h",
		openMetricsFile, dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool backfill of %s: %v\n%s", openMetricsFile, err, tail(out, 20))
	}
	t.Logf("backfilled %s into Prometheus TSDB in %s", filepath.Base(openMetricsFile), time.Since(start).Round(time.Millisecond))
}

// Start (re)starts the server on the same port and data directory and waits until it is ready.
func (p *Prometheus) Start() {
	t := p.t
	t.Helper()
	if p.cmd != nil {
		t.Fatalf("prometheus already running")
	}
	cmd := exec.Command(p.bin,
		"--config.file="+filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(p.dir, "data"),
		// Backfilled history is old; a long retention keeps Prometheus from deleting it at start.
		"--storage.tsdb.retention.time=3650d",
		"--web.listen-address="+p.addr,
		"--log.level=warn",
	)
	cmd.Stdout = processLog(t, p.dir, "prometheus")
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	p.cmd = cmd
	WaitFor(t, 30*time.Second, "prometheus /-/ready", func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
	t.Logf("started prometheus %s (pid %d) in %s", p.URL, cmd.Process.Pid, time.Since(start).Round(time.Millisecond))
}

// Stop stops the server; Start brings it back with the same data. Safe to call twice.
func (p *Prometheus) Stop() {
	if p.cmd == nil {
		return
	}
	stopProcess(p.cmd)
	p.cmd = nil
}

func tail(b []byte, n int) string {
	s := string(b)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if n--; n < 0 {
				return s[i+1:]
			}
		}
	}
	return s
}

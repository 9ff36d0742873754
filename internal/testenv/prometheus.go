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
	bin  string
	dir  string
	addr string
	cmd  *exec.Cmd
	t    testing.TB // nil outside tests
}

// StartPrometheus backfills openMetricsFile (OpenMetrics text with timestamps, ending in "# EOF")
// into a fresh TSDB with promtool, starts Prometheus on a free loopback port, waits until it is
// ready and stops it when the test ends. An empty file name starts an empty server.
func StartPrometheus(t testing.TB, openMetricsFile string) *Prometheus {
	t.Helper()
	bin := Require(t, "prometheus")
	dir := t.TempDir()
	t.Cleanup(func() { logTails(t, dir) })
	if openMetricsFile != "" {
		Backfill(t, openMetricsFile, filepath.Join(dir, "data"))
	}
	p, err := NewPrometheus(dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	p.t = t
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Backfill writes the samples of an OpenMetrics file into TSDB blocks under dataDir with promtool.
func Backfill(t testing.TB, openMetricsFile, dataDir string) {
	t.Helper()
	start := time.Now()
	if err := BackfillFile(Require(t, "promtool"), openMetricsFile, dataDir); err != nil {
		t.Fatal(err)
	}
	t.Logf("backfilled %s into Prometheus TSDB in %s", filepath.Base(openMetricsFile), time.Since(start).Round(time.Millisecond))
}

// BackfillFile is Backfill without a test.
func BackfillFile(promtool, openMetricsFile, dataDir string) error {
	// The hidden --max-block-duration makes a week of history a few large blocks: 1 s instead of 30 s.
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=336h",
		openMetricsFile, dataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("promtool backfill of %s: %w\n%s", openMetricsFile, err, tail(out, 20))
	}
	return nil
}

// NewPrometheus prepares a server with its configuration, data (dir/data) and log in dir on a
// free loopback port; StartServer runs it. It is StartPrometheus without a test.
func NewPrometheus(dir, bin string) (*Prometheus, error) {
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\nscrape_configs: []\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write prometheus config: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Prometheus{bin: bin, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.URL = "http://" + p.addr
	return p, nil
}

// Start (re)starts the server of a test on the same port and data directory and waits until it is ready.
func (p *Prometheus) Start() {
	p.t.Helper()
	start := time.Now()
	if err := p.StartServer(context.Background()); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("started prometheus %s (pid %d) in %s", p.URL, p.cmd.Process.Pid, time.Since(start).Round(time.Millisecond))
}

// StartServer starts the server and waits until it is ready.
func (p *Prometheus) StartServer(ctx context.Context) error {
	if p.cmd != nil {
		return fmt.Errorf("prometheus already running")
	}
	log, err := os.OpenFile(filepath.Join(p.dir, "prometheus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open prometheus log: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(p.bin,
		"--config.file="+filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(p.dir, "data"),
		// Backfilled history is old; a long retention keeps Prometheus from deleting it at start.
		"--storage.tsdb.retention.time=3650d",
		"--web.listen-address="+p.addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start prometheus: %w", err)
	}
	p.cmd = cmd
	err = Poll(ctx, 30*time.Second, func(ctx context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
	if err != nil {
		p.Stop()
		return fmt.Errorf("prometheus %s not ready (log in %s): %w", p.URL, p.dir, err)
	}
	return nil
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

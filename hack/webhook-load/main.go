// Command webhook-load sends a fixed number of AdmissionReviews to a running admission webhook
// over HTTPS keep-alive connections and prints throughput and latency percentiles; with -pid it
// also prints the webhook process's CPU time per 1,000 admissions and its RSS.
//
//	go run ./hack/webhook-load -url https://127.0.0.1:9443/mutate-v1-pod -n 20000 -c 8 -pid $(pgrep -f 'headroom webhook')
//
// The default body (review.json) is the 3-container JVM pod of webhook.BenchmarkAdmission in
// namespace "shop", owned by Deployment "orders": create MemoryRecommendation deployment-orders
// there to measure sized admissions.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

//go:embed review.json
var defaultBody []byte

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webhook-load:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "https://127.0.0.1:9443/mutate-v1-pod", "webhook URL")
	n := flag.Int("n", 10000, "admissions to send (after the warm-up)")
	c := flag.Int("c", 1, "concurrent connections, each sending one request at a time")
	warmup := flag.Int("warmup", 500, "admissions sent first and not measured")
	bodyFile := flag.String("body", "", "AdmissionReview JSON to send (default: the embedded 3-container JVM pod)")
	caFile := flag.String("cacert", "", "CA that signed the webhook's certificate (default: do not verify)")
	pid := flag.Int("pid", 0, "webhook process to read CPU time and RSS of (Linux /proc)")
	expect := flag.String("expect", `"allowed":true`, "every response body must contain this")
	flag.Parse()
	if *n <= 0 || *c <= 0 {
		return errors.New("-n and -c must be positive")
	}

	body := defaultBody
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			return err
		}
		body = b
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback load test; -cacert verifies
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificates", *caFile)
		}
		tlsCfg = &tls.Config{RootCAs: pool}
	}
	// HTTP/1.1 with keep-alive, one connection per worker, like the API server's webhook client
	// under load (and like the VPA measurement in ANCHORS.md).
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: tlsCfg, MaxIdleConnsPerHost: *c, MaxConnsPerHost: *c,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	send := func() (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(*url, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(*expect)) {
			return 0, fmt.Errorf("status %d, body %.200s", resp.StatusCode, b)
		}
		return took, nil
	}

	// Warm up every connection.
	if err := loop(*warmup, *c, func(int) error { _, err := send(); return err }); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	cpu0, _ := cpuTime(*pid)
	lat := make([]time.Duration, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	_ = loop(*n, *c, func(i int) error {
		d, err := send()
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		lat[i] = d
		return nil
	})
	elapsed := time.Since(start)
	cpu1, cpuErr := cpuTime(*pid)

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("requests %d  concurrency %d  body %d B  elapsed %s  failed %d\n", *n, *c, len(body), elapsed.Round(time.Millisecond), failed.Load())
	fmt.Printf("throughput %.0f/s  p50 %s  p90 %s  p99 %s  max %s\n", float64(*n)/elapsed.Seconds(),
		pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	if *pid != 0 {
		if cpuErr != nil {
			return cpuErr
		}
		fmt.Printf("webhook CPU %.3f s per 1,000 admissions  RSS %s\n", (cpu1-cpu0).Seconds()/float64(*n)*1000, rss(*pid))
	}
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%d requests failed, first: %s", failed.Load(), e)
	}
	return nil
}

// loop runs f(0..n-1) on c workers.
func loop(n, c int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var first error
	var mu sync.Mutex
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// cpuTime reads utime+stime of a process from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may contain spaces) start after the last ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

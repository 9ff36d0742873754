package recommender

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
)

// TransportOptions say how to reach a Prometheus that needs authentication or its own CA.
type TransportOptions struct {
	// BearerTokenFile holds a token sent as "Authorization: Bearer". It is read on every request,
	// so a rotated token (a projected service account token, a renewed Secret) is used at once.
	BearerTokenFile string
	// CAFile holds the PEM CA bundle that signed Prometheus' certificate (default: the system's).
	// It is read again when the file changes (cert-manager or a ConfigMap update rotating it).
	CAFile string
	// InsecureSkipVerify skips verification of Prometheus' certificate: for tests only.
	InsecureSkipVerify bool
	// Compression asks Prometheus for gzip responses. Off by default: range query results are
	// noisy numbers that gzip only 3-4x, and compressing them more than doubled Prometheus' CPU
	// time per query in the scale benchmark (docs/benchmarks.md). Worth it only when the network
	// to Prometheus is slow or billed.
	Compression bool
}

// NewTransport returns the round tripper for history.PrometheusOptions.RoundTripper. The files
// must be readable now, so that a wrong mount fails at start, not at the first cycle.
func NewTransport(o TransportOptions) (http.RoundTripper, error) {
	t := &transport{opts: o}
	if o.BearerTokenFile != "" {
		if _, err := readToken(o.BearerTokenFile); err != nil {
			return nil, err
		}
	}
	if _, err := t.base(); err != nil {
		return nil, err
	}
	return t, nil
}

type transport struct {
	opts TransportOptions

	mu      sync.Mutex
	rt      *http.Transport
	caStamp string // size and modification time of the CA file rt was built with
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt, err := t.base()
	if err != nil {
		return nil, err
	}
	if t.opts.BearerTokenFile != "" {
		token, err := readToken(t.opts.BearerTokenFile)
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return rt.RoundTrip(req)
}

// base returns the HTTP transport, rebuilt when the CA file changed.
func (t *transport) base() (*http.Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	stamp := ""
	if t.opts.CAFile != "" {
		st, err := os.Stat(t.opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("prometheus CA file: %w", err)
		}
		stamp = fmt.Sprint(st.Size(), st.ModTime().UnixNano())
	}
	if t.rt != nil && stamp == t.caStamp {
		return t.rt, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.opts.InsecureSkipVerify} //nolint:gosec // only when asked for
	if t.opts.CAFile != "" {
		pem, err := os.ReadFile(t.opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("prometheus CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("prometheus CA file %s: no PEM certificates", t.opts.CAFile)
		}
		cfg.RootCAs = pool
	}
	rt := http.DefaultTransport.(*http.Transport).Clone()
	rt.TLSClientConfig = cfg
	rt.DisableCompression = !t.opts.Compression
	if t.rt != nil {
		t.rt.CloseIdleConnections()
	}
	t.rt, t.caStamp = rt, stamp
	return rt, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("prometheus bearer token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", errors.New("prometheus bearer token: file " + path + " is empty")
	}
	return token, nil
}

package recommender

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTransportBearerTokenIsReadOnEveryRequest(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, err := NewTransport(TransportOptions{BearerTokenFile: token})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: rt}
	get := func() error {
		resp, err := client.Get(srv.URL)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(token, []byte("rotated"), 0o600); err != nil { // the kubelet rotates projected tokens
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "Bearer first,Bearer rotated" {
		t.Errorf("Authorization headers %q", seen)
	}
	if err := os.Remove(token); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "prometheus bearer token") {
		t.Errorf("a missing token file: %v", err)
	}
}

func TestTransportTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	// httptest's servers all share one certificate: make another CA.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"}, IsCA: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := filepath.Join(dir, "other.crt")
	if err := os.WriteFile(wrongCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	do := func(o TransportOptions) error {
		rt, err := NewTransport(o)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := do(TransportOptions{CAFile: ca}); err != nil {
		t.Errorf("with the right CA: %v", err)
	}
	if err := do(TransportOptions{CAFile: wrongCA}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("with another CA: %v", err)
	}
	if err := do(TransportOptions{InsecureSkipVerify: true}); err != nil {
		t.Errorf("skipping verification: %v", err)
	}

	// The CA file is read again when it changes (a rotated CA bundle).
	rt, err := NewTransport(TransportOptions{CAFile: wrongCA})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(ca)
	later := time.Now().Add(time.Minute)
	if err := os.WriteFile(wrongCA, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(wrongCA, later, later)
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
	if err != nil {
		t.Errorf("after the CA file changed: %v", err)
	} else {
		resp.Body.Close()
	}

	for name, o := range map[string]TransportOptions{
		"a missing CA file":    {CAFile: filepath.Join(dir, "missing")},
		"a CA file of no PEM":  {CAFile: filepath.Join(dir, "missing") + "x"},
		"a missing token file": {BearerTokenFile: filepath.Join(dir, "token")},
	} {
		if name == "a CA file of no PEM" {
			_ = os.WriteFile(o.CAFile, []byte("not pem"), 0o644)
		}
		if _, err := NewTransport(o); err == nil {
			t.Errorf("%s: no error at start", name)
		}
	}
}

func TestTransportCompression(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Accept-Encoding"))
	}))
	defer srv.Close()
	for _, on := range []bool{false, true} {
		rt, err := NewTransport(TransportOptions{Compression: on})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if strings.Join(seen, ",") != ",gzip" {
		t.Errorf("Accept-Encoding %q, want none by default and gzip when asked for", seen)
	}
}

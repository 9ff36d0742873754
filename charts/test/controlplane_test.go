package charttest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controlPlane is a real etcd + kube-apiserver with the third-party CRDs the chart uses installed.
type controlPlane struct {
	config     *rest.Config
	kubeconfig string // admin kubeconfig file, for helm
}

// startControlPlane starts etcd and kube-apiserver (bin/, built by hack/setup.sh) with envtest and
// installs crdPaths; everything stops when the test ends. The product's internal/testenv does the
// same, but a separate module cannot import it.
func startControlPlane(t *testing.T, crdPaths []string) *controlPlane {
	t.Helper()
	dir := t.TempDir()
	env := &envtest.Environment{CRDDirectoryPaths: crdPaths, ErrorIfCRDPathMissing: true}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: requireTool(t, "etcd"), Out: logFile(t, dir, "etcd"), Err: logFile(t, dir, "etcd.err")}
	api := &envtest.APIServer{Path: requireTool(t, "kube-apiserver"), Out: logFile(t, dir, "kube-apiserver"), Err: logFile(t, dir, "kube-apiserver.err")}
	// Since 1.37 the endpoint reconciler refuses loopback addresses, and without a default route the
	// API server cannot derive an advertise address itself.
	api.Configure().Set("advertise-address", "127.0.0.1").Set("endpoint-reconciler-type", "none")
	env.ControlPlane.APIServer = api

	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start etcd + kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	t.Logf("started etcd and kube-apiserver %s in %s", cfg.Host, time.Since(start).Round(time.Millisecond))

	user, err := env.AddUser(envtest.User{Name: "chart-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("add admin user: %v", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatalf("admin kubeconfig: %v", err)
	}
	path := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = user.Config()
	// Client-side throttling (5 requests/s by default) would make the test wait, not the server.
	cfg.QPS, cfg.Burst = 500, 1000
	return &controlPlane{config: cfg, kubeconfig: path}
}

// logFile is a log for a server; its tail is printed when the test has failed.
func logFile(t *testing.T, dir, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if !t.Failed() {
			return
		}
		b, _ := os.ReadFile(f.Name())
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		t.Logf("last lines of %s:\n%s", name, bytes.Join(lines, []byte("\n")))
	})
	return f
}

// moduleDir is where the Go module cache holds a dependency of this module (go list -m).
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("module %s is not in the module cache (go mod download)", module)
	}
	return dir
}

// certManagerCRDs are cert-manager's own CRD files from the module this test compiles against
// (deploy/crds: controller-gen's output, which cert-manager's chart wraps in templates), so the
// Go types and the API server's schema are of the same release.
func certManagerCRDs(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(moduleDir(t, "github.com/cert-manager/cert-manager"), "deploy", "crds")
	var paths []string
	for _, f := range []string{"cert-manager.io_certificates.yaml", "cert-manager.io_issuers.yaml", "cert-manager.io_clusterissuers.yaml", "cert-manager.io_certificaterequests.yaml"} {
		paths = append(paths, filepath.Join(dir, f))
	}
	return paths
}

// serviceMonitorCRD generates the ServiceMonitor CRD from the Prometheus Operator's Go types with
// controller-gen, as the Prometheus Operator builds its own CRDs (its module of API types ships no
// YAML), and returns the file.
func serviceMonitorCRD(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(requireTool(t, "controller-gen"), "crd:crdVersions=v1,maxDescLen=0",
		"paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1", "output:crd:dir="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen the ServiceMonitor CRD: %v\n%s", err, b)
	}
	path := filepath.Join(out, "monitoring.coreos.com_servicemonitors.yaml")
	if !isFile(path) {
		t.Fatalf("controller-gen wrote no %s", path)
	}
	return path
}

package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlaneOptions selects the extras a test needs on top of etcd + kube-apiserver.
type ControlPlaneOptions struct {
	// CRDPaths are files or directories of CustomResourceDefinitions to install before returning.
	CRDPaths []string
	// Webhooks makes the API server call webhooks served by the test (envtest sets up
	// certificates, host and port: see ControlPlane.Env.WebhookInstallOptions).
	Webhooks envtest.WebhookInstallOptions
	// ControllerManager also runs kube-controller-manager, so Deployments create Pods.
	ControllerManager bool
}

// ControlPlane is a running etcd + kube-apiserver (+ kube-controller-manager).
type ControlPlane struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Kubeconfig string // path of an admin kubeconfig, for kubectl, helm and child processes
	Dir        string // scratch directory with the logs
}

// StartControlPlane starts etcd and kube-apiserver on free loopback ports and stops them when the test ends.
func StartControlPlane(t testing.TB, opts ControlPlaneOptions) *ControlPlane {
	t.Helper()
	apiserver := Require(t, "kube-apiserver")
	etcd := Require(t, "etcd")
	var kcm string
	if opts.ControllerManager {
		kcm = Require(t, "kube-controller-manager")
	}
	dir := t.TempDir()

	env := &envtest.Environment{
		CRDDirectoryPaths:     opts.CRDPaths,
		ErrorIfCRDPathMissing: len(opts.CRDPaths) > 0,
		WebhookInstallOptions: opts.Webhooks,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: etcd, Out: processLog(t, dir, "etcd"), Err: processLog(t, dir, "etcd.err")}
	api := &envtest.APIServer{Path: apiserver, Out: processLog(t, dir, "kube-apiserver"), Err: processLog(t, dir, "kube-apiserver.err")}
	// Since 1.37 the endpoint reconciler refuses loopback addresses, and without a default route
	// (a network namespace with only lo) the API server cannot derive an advertise address itself.
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

	cp := &ControlPlane{Env: env, Config: cfg, Dir: dir}
	user, err := env.AddUser(envtest.User{Name: "headroom-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("add admin user: %v", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatalf("admin kubeconfig: %v", err)
	}
	cp.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kc, 0o600); err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}
	if opts.ControllerManager {
		startControllerManager(t, kcm, cp)
	}
	return cp
}

// startControllerManager runs the workload controllers (and the garbage collector, so owner
// references take effect) against the API server, without leader election or service accounts.
func startControllerManager(t testing.TB, bin string, cp *ControlPlane) {
	t.Helper()
	cmd := exec.Command(bin,
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--controllers=deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller,job-controller,cronjob-controller,garbage-collector-controller",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(FreePort(t)),
		"--concurrent-deployment-syncs=5",
		"--concurrent-replicaset-syncs=5",
	)
	cmd.Stdout = processLog(t, cp.Dir, "kube-controller-manager")
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kube-controller-manager: %v", err)
	}
	t.Cleanup(func() { stopProcess(cmd) })
	t.Logf("started kube-controller-manager (pid %d)", cmd.Process.Pid)
}

// stopProcess asks a child to stop and kills it if it has not after a few seconds.
func stopProcess(cmd *exec.Cmd) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// WaitFor polls cond every 100ms until it returns true or the timeout passes; the last error is reported.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

package testenv

import (
	"context"
	"errors"
	"fmt"
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

// Binaries are the paths of the control plane programs.
type Binaries struct {
	Etcd, KubeAPIServer, KubeControllerManager string
}

// ControlPlane is a running etcd + kube-apiserver (+ kube-controller-manager).
type ControlPlane struct {
	Env        *envtest.Environment
	Config     *rest.Config
	Kubeconfig string // path of an admin kubeconfig, for kubectl, helm and child processes
	Dir        string // scratch directory with the logs
	kcm        *exec.Cmd
}

// StartControlPlane starts etcd and kube-apiserver on free loopback ports and stops them when the test ends.
func StartControlPlane(t testing.TB, opts ControlPlaneOptions) *ControlPlane {
	t.Helper()
	bins := Binaries{Etcd: Require(t, "etcd"), KubeAPIServer: Require(t, "kube-apiserver")}
	if opts.ControllerManager {
		bins.KubeControllerManager = Require(t, "kube-controller-manager")
	}
	dir := t.TempDir()
	t.Cleanup(func() { logTails(t, dir) }) // runs last: after the processes stopped
	start := time.Now()
	cp, err := NewControlPlane(dir, bins, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cp.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	t.Logf("started etcd and kube-apiserver %s in %s", cp.Config.Host, time.Since(start).Round(time.Millisecond))
	if cp.kcm != nil {
		t.Logf("started kube-controller-manager (pid %d)", cp.kcm.Process.Pid)
	}
	return cp
}

// NewControlPlane starts etcd, kube-apiserver and, if asked, kube-controller-manager on free
// loopback ports, with their logs and an admin kubeconfig in dir. Stop stops them. It is the
// part of StartControlPlane that does not need a test (the demo uses it).
func NewControlPlane(dir string, bins Binaries, opts ControlPlaneOptions) (*ControlPlane, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:     opts.CRDPaths,
		ErrorIfCRDPathMissing: len(opts.CRDPaths) > 0,
		WebhookInstallOptions: opts.Webhooks,
	}
	logs := map[string]*os.File{}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, fmt.Errorf("create %s log: %w", name, err)
		}
		defer f.Close() // the children hold their own descriptors
		logs[name] = f
	}
	env.ControlPlane.Etcd = &envtest.Etcd{Path: bins.Etcd, Out: logs["etcd"], Err: logs["etcd"]}
	api := &envtest.APIServer{Path: bins.KubeAPIServer, Out: logs["kube-apiserver"], Err: logs["kube-apiserver"]}
	// Since 1.37 the endpoint reconciler refuses loopback addresses, and without a default route
	// (a network namespace with only lo) the API server cannot derive an advertise address itself.
	api.Configure().Set("advertise-address", "127.0.0.1").Set("endpoint-reconciler-type", "none")
	env.ControlPlane.APIServer = api

	cfg, err := env.Start()
	if err != nil {
		// Start can fail after the processes are up (waiting for the default namespace, installing
		// CRDs): stop whatever runs, or it outlives the test.
		return nil, errors.Join(fmt.Errorf("start etcd + kube-apiserver (logs in %s): %w", dir, err), env.Stop())
	}
	cp := &ControlPlane{Env: env, Config: cfg, Dir: dir}
	if err := cp.writeKubeconfig(); err != nil {
		return nil, errors.Join(err, cp.Stop())
	}
	if opts.ControllerManager {
		if err := cp.startControllerManager(bins.KubeControllerManager); err != nil {
			return nil, errors.Join(err, cp.Stop())
		}
	}
	return cp, nil
}

func (cp *ControlPlane) writeKubeconfig() error {
	user, err := cp.Env.AddUser(envtest.User{Name: "headroom-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add admin user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("admin kubeconfig: %w", err)
	}
	cp.Kubeconfig = filepath.Join(cp.Dir, "admin.kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kc, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// startControllerManager runs the workload controllers (and the garbage collector, so owner
// references take effect) against the API server, without leader election or service accounts.
func (cp *ControlPlane) startControllerManager(bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--controllers=deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller,job-controller,cronjob-controller,garbage-collector-controller",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--concurrent-deployment-syncs=5",
		"--concurrent-replicaset-syncs=5",
	)
	log, err := os.Create(filepath.Join(cp.Dir, "kube-controller-manager.log"))
	if err != nil {
		return fmt.Errorf("create kube-controller-manager log: %w", err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start kube-controller-manager: %w", err)
	}
	cp.kcm = cmd
	return nil
}

// Stop stops kube-controller-manager, kube-apiserver and etcd.
func (cp *ControlPlane) Stop() error {
	if cp.kcm != nil {
		stopProcess(cp.kcm)
		cp.kcm = nil
	}
	return cp.Env.Stop()
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
	if err := Poll(context.Background(), timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Poll calls cond every 100ms until it returns true, or fails with the last error after timeout.
func Poll(ctx context.Context, timeout time.Duration, cond func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond(ctx)
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s (last error: %v)", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

package agent

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/headroom-dev/headroom/internal/testenv"
	"github.com/headroom-dev/headroom/mode"
)

// agentRBAC is exactly what the agent needs, and what the chart's ClusterRole must grant: the pod
// informer (list, watch; restricted to the node by a field selector), the namespace informer for the
// headroom.dev/mode label (list, watch), and events.k8s.io/v1 Events (create, and patch for series).
var agentRBAC = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch"}},
	{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
}

// TestAgentAgainstAPIServer runs the agent as a user holding only agentRBAC against a real
// kube-apiserver: the field-selected informer sees only this node's pods, the namespace label opts
// out, and the reclaim shows up as an Event on the pod.
func TestAgentAgainstAPIServer(t *testing.T) {
	cp := testenv.StartControlPlane(t, testenv.ControlPlaneOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := kubernetes.NewForConfigOrDie(cp.Config)

	user, err := cp.Env.AddUser(envtest.User{Name: "headroom-agent"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	must(t, create(ctx, admin, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "headroom-agent"}, Rules: agentRBAC}))
	must(t, create(ctx, admin, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "headroom-agent"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "headroom-agent"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "headroom-agent"}},
	}))
	must(t, create(ctx, admin, namespace("team", nil)))
	must(t, create(ctx, admin, namespace("quiet", map[string]string{mode.Key: "off"})))

	root := t.TempDir()
	kernel := &fakeKernel{t: t}
	for i, p := range []*corev1.Pod{
		makePod("team", "logger", "", node).container("app", hexID(1)).obj(),
		makePod("team", "elsewhere", "", "node-b").container("app", hexID(2)).obj(),
		makePod("quiet", "opted-out", "", node).container("app", hexID(3)).obj(),
	} {
		p.Spec.Containers[0].Image = "example/app:1"
		status := p.Status
		created, err := admin.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = status // the kubelet's part: running, with a container ID
		if _, err := admin.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		writeV2(t, containerDir(root, string(created.UID), hexID(i+1)), overLimit)
	}

	mgr, err := ctrl.NewManager(user.Config(), ctrl.Options{
		Cache:                  CacheOptions(node),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 testr.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeName = node
	a, err := NewForManager(ctx, mgr, cfg, V2{Dir: root, Proc: fakeProc(t, false), write: kernel.write})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})

	var ev eventsv1.Event
	testenv.WaitFor(t, 30*time.Second, "a PageCacheReclaimed event on team/logger", func(ctx context.Context) (bool, error) {
		list, err := admin.EventsV1().Events("team").List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return false, err
		}
		ev = list.Items[0]
		return true, nil
	})
	if ev.Reason != EventReclaimed || ev.Regarding.Name != "logger" || ev.ReportingController != "headroom-agent" ||
		!strings.HasPrefix(ev.Note, "container app: reclaimed 350.0MiB of page cache with memory.reclaim") {
		t.Errorf("event: reason %s, regarding %s, controller %s, note %q", ev.Reason, ev.Regarding.Name, ev.ReportingController, ev.Note)
	}
	// Only the logger was reclaimed: node-b's pod is not in the cache, the quiet namespace opted out.
	if diff := cmp.Diff([]string{hexID(1) + " 367001600 swappiness=0"}, kernel.Writes()); diff != "" {
		t.Errorf("memory.reclaim writes (-want +got):\n%s", diff)
	}
	var cached corev1.PodList
	if err := mgr.GetClient().List(ctx, &cached); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range cached.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"quiet/opted-out", "team/logger"}, names); diff != "" {
		t.Errorf("pods in the agent's cache (-want +got):\n%s", diff)
	}
	if err := a.Ready(nil); err != nil {
		t.Errorf("Ready after the first pass: %v", err)
	}
}

func create[T interface{ GetName() string }](ctx context.Context, cs *kubernetes.Clientset, obj T) error {
	var err error
	switch o := any(obj).(type) {
	case *corev1.Namespace:
		_, err = cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRole:
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRoleBinding:
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
	default:
		panic("create: unsupported type")
	}
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

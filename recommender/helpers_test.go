package recommender

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/headroom-dev/headroom/api/v1alpha1"
	"github.com/headroom-dev/headroom/history"
	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/internal/scenario"
)

// scenarioEnd is where the committed scenarios' history ends.
var scenarioEnd = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func loadScenario(t testing.TB, name string) *scenario.Spec {
	t.Helper()
	s, err := scenario.Load(filepath.Join("..", "testdata", "scenarios", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fileHistory is the history of the specs, read with the file source.
func fileHistory(t testing.TB, specs ...*scenario.Spec) *history.File {
	t.Helper()
	var b bytes.Buffer
	if err := scenario.Write(&b, specs...); err != nil {
		t.Fatal(err)
	}
	f, err := history.ReadFile(&b, history.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// workloadObjects are the specs' workloads as typed objects with UIDs.
func workloadObjects(t testing.TB, specs ...*scenario.Spec) []client.Object {
	t.Helper()
	var b bytes.Buffer
	if err := scenario.WriteManifests(&b, specs...); err != nil {
		t.Fatal(err)
	}
	ws, err := manifest.Decode(&b, "scenario")
	if err != nil {
		t.Fatal(err)
	}
	var out []client.Object
	for _, w := range ws {
		o := w.Object.(client.Object)
		o.SetUID(types.UID("uid-" + w.Namespace + "-" + w.Name))
		out = append(out, o)
	}
	return out
}

func namespace(name string, labels, annotations map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
}

// fakeSource wraps a history source: it counts calls and fails where told to.
type fakeSource struct {
	history.Source
	mu         sync.Mutex
	loads      map[string]int
	lists      int
	failList   error
	extra      []string         // namespaces Namespaces lists besides the real ones
	failLoad   map[string]error // namespace -> error; "*" for all
	failLoadsN int              // fail this many more loads (any namespace)
}

func (f *fakeSource) Namespaces(ctx context.Context, w history.Window) ([]string, error) {
	f.mu.Lock()
	f.lists++
	err := f.failList
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	names, err := f.Source.Namespaces(ctx, w)
	return append(names, f.extra...), err
}

func (f *fakeSource) Load(ctx context.Context, ns string, w history.Window) (*history.Namespace, error) {
	f.mu.Lock()
	if f.loads == nil {
		f.loads = map[string]int{}
	}
	f.loads[ns]++
	err := f.failLoad[ns]
	if err == nil {
		err = f.failLoad["*"]
	}
	if err == nil && f.failLoadsN > 0 {
		f.failLoadsN--
		err = fmt.Errorf("injected failure of %s", ns)
	}
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return f.Source.Load(ctx, ns, w)
}

func (f *fakeSource) loadCount() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.loads {
		out[k] = v
	}
	return out
}

// requests counts the writes a fake client receives.
type requests struct {
	mu                 sync.Mutex
	apply, statusApply int
	fail               error
}

func (r *requests) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.apply, r.statusApply
}

func (r *requests) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.apply, r.statusApply = 0, 0
}

// fakeClient is a fake API with the recommender's scheme, a status subresource for
// MemoryRecommendations and counted writes.
func fakeClient(t testing.TB, objs ...client.Object) (client.WithWatch, *requests) {
	t.Helper()
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	req := &requests{}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithStatusSubresource(&v1alpha1.MemoryRecommendation{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
				req.mu.Lock()
				req.apply++
				fail := req.fail
				req.mu.Unlock()
				if fail != nil {
					return fail
				}
				return c.Apply(ctx, obj, opts...)
			},
			SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
				req.mu.Lock()
				req.statusApply++
				fail := req.fail
				req.mu.Unlock()
				if fail != nil {
					return fail
				}
				return c.SubResource(sub).Apply(ctx, obj, opts...)
			},
		}).Build()
	return c, req
}

func testLogger(t testing.TB) logr.Logger {
	return funcr.New(func(prefix, args string) { t.Log(prefix, args) }, funcr.Options{})
}

func get(t testing.TB, c client.Client, ns, name string) *v1alpha1.MemoryRecommendation {
	t.Helper()
	mr := &v1alpha1.MemoryRecommendation{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, mr); err != nil {
		t.Fatalf("get %s/%s: %v", ns, name, err)
	}
	return mr
}

func keyOf(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

func typesUID(s string) types.UID { return types.UID(s) }

// metricValue reads a gauge or counter with one label from controller-runtime's registry.
func metricValue(t testing.TB, name, label string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{%s}", name, label)
	return 0
}

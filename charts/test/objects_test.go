package charttest

import (
	"encoding/json"
	"fmt"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// scheme knows every kind the chart renders: Kubernetes' own, the CRD type, cert-manager's
// Certificate and Issuer, and the Prometheus Operator's ServiceMonitor.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, cmapi.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strict rejects unknown and duplicate fields, so a misspelt field in a template fails the decode.
var strict = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

// objects is a render decoded into typed Go objects.
type objects struct {
	all []client.Object
}

func typed(t testing.TB, objs []*unstructured.Unstructured) objects {
	t.Helper()
	var o objects
	for _, u := range objs {
		b, err := json.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		obj, gvk, err := strict.Decode(b, nil, nil)
		if err != nil {
			t.Fatalf("%s %s does not decode strictly into its Go type: %v", u.GetKind(), u.GetName(), err)
		}
		co, ok := obj.(client.Object)
		if !ok {
			t.Fatalf("%s is not a client.Object", gvk)
		}
		co.GetObjectKind().SetGroupVersionKind(*gvk)
		o.all = append(o.all, co)
	}
	return o
}

// ofType returns the objects of one Go type.
func ofType[T client.Object](o objects) []T {
	var out []T
	for _, obj := range o.all {
		if v, ok := obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the object of type T with the given name; it fails the test when there is none.
func one[T client.Object](t testing.TB, o objects, name string) T {
	t.Helper()
	for _, v := range ofType[T](o) {
		if v.GetName() == name {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T named %q in the render", zero, name)
	return zero
}

func has[T client.Object](o objects, name string) bool {
	for _, v := range ofType[T](o) {
		if v.GetName() == name {
			return true
		}
	}
	return false
}

func kindName(obj client.Object) string {
	return fmt.Sprintf("%s/%s", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
}

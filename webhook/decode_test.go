package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

// decodeCases are AdmissionReviews and pods with the corners of JSON and of the view types.
var decodeCases = map[string]string{
	"escapes and unicode in values": `{"request":{"uid":"u\"1","object":{"metadata":{"annotations":{"a\/b":"x\n\u00e9\ud83d\ude00","k":""}},` +
		`"spec":{"containers":[{"name":"app","command":["sh","-c","echo \"$JAVA_OPTS\"\t"],"env":[{"name":"JAVA_OPTS","value":"-Xmx1g \\ \u0041"}]}]}}}}`,
	"invalid UTF-8 in a string": "{\"request\":{\"uid\":\"1\",\"object\":{\"spec\":{\"containers\":[{\"name\":\"a\xffb\"}]}}}}",
	"nulls everywhere": `{"apiVersion":null,"request":{"uid":"1","dryRun":null,"object":{"metadata":{"labels":null,"annotations":null,"ownerReferences":null},` +
		`"spec":{"resources":null,"initContainers":null,"containers":[{"name":"a","command":null,"env":[{"name":"X","value":null,"valueFrom":null}],` +
		`"envFrom":null,"resources":{"limits":null,"requests":{"memory":null}},"restartPolicy":null}]}}}}`,
	"empty lists and objects": `{"request":{"uid":"1","object":{"metadata":{"labels":{},"annotations":{},"ownerReferences":[]},` +
		`"spec":{"containers":[{"name":"a","command":[],"args":[],"env":[],"envFrom":[],"resources":{"limits":{},"requests":{}}}]}}}}`,
	"escapes in a quantity": `{"request":{"uid":"1","object":{"spec":{"containers":[{"name":"a","resources":{"limits":{"memory":"1\u0047i","cpu":"1\/2"}}}]}}}}`,
	"quantities as numbers": `{"request":{"uid":"1","object":{"spec":{"containers":[{"name":"a","resources":{"limits":{"memory":1073741824,"cpu":0.5},"requests":{"memory":1e9,"cpu":-0}}}]}}}}`,
	"unknown fields of every shape": `{"x":[1,{"y":[true,false,null,"s",-1.5e-3]}],"request":{"uid":"1","z":{},"object":{"w":"v","metadata":{"managedFields":[{"a":{"b":{}}}]},` +
		`"spec":{"volumes":[{"name":"v","emptyDir":{}}],"containers":[{"name":"a","livenessProbe":{"httpGet":{"port":8080}},"env":[{"name":"X","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],"envFrom":[{"configMapRef":{"name":"c"}}]}]}}}}`,
	"whitespace between everything": " \n{ \"request\" :\t{ \"uid\" : \"1\" , \"object\" : { \"spec\" : { \"containers\" : [ { \"name\" : \"a\" , \"args\" : [ \"-Xmx1g\" ] } ] } } } }\r\n",
	"owner references and restart policy": `{"request":{"uid":"1","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","dryRun":true,"object":{"metadata":{"generateName":"w-","labels":{"pod-template-hash":"abc","app":"w"},` +
		`"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"w-abc","uid":"u","controller":true,"blockOwnerDeletion":true},{"kind":"Other","controller":false}]},` +
		`"spec":{"initContainers":[{"name":"s","restartPolicy":"Always"}],"containers":[{"name":"a"}],"resources":{"limits":{"memory":"2Gi"}}}}}}`,
	"wrong type of a field read":  `{"request":{"uid":"1","object":{"spec":{"containers":[{"name":5,"command":"java"}]}}}}`,
	"wrong type of an annotation": `{"request":{"uid":"1","object":{"metadata":{"annotations":{"a":1}}}}}`,
}

// TestDecodeMatchesEncodingJSON checks that decodeReview (go-json-experiment) decodes what encoding/json
// decodes into the same view types, for the corner cases above, every golden pod and the
// benchmark pod.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	inputs := map[string][]byte{}
	for name, s := range decodeCases {
		inputs[name] = []byte(s)
	}
	body, _ := benchReview(t)
	inputs["benchmark pod"] = body
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		dir := filepath.Join("testdata", d.Name())
		if exists(filepath.Join(dir, "pod.yaml")) || exists(filepath.Join(dir, "pod.json")) {
			c := loadCase(t, dir)
			inputs["golden "+d.Name()] = admissionReview("uid", c.namespace.Name, c.podJSON, false)
		}
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			compareDecoders(t, in, true)
		})
	}
}

func TestDecodeRejectsInvalidJSON(t *testing.T) {
	for name, in := range map[string]string{
		"empty":                    ``,
		"truncated":                `{"request":{"uid":"1"`,
		"trailing comma in object": `{"request":{"uid":"1",}}`,
		"trailing comma in array":  `{"request":{"uid":"1","object":{"spec":{"containers":[{"name":"a"},]}}}}`,
		"missing comma":            `{"apiVersion":"v1" "kind":"x"}`,
		"bad literal in skipped":   `{"x":tru,"request":{"uid":"1"}}`,
		"bad number in skipped":    `{"x":01,"request":{"uid":"1"}}`,
		"bad escape":               `{"request":{"uid":"\q"}}`,
		"control byte in string":   "{\"request\":{\"uid\":\"a\x01\"}}",
		"data after the value":     `{"request":{"uid":"1"}} {}`,
		"single quotes":            `{'request':{}}`,
		"deeply nested":            strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		t.Run(name, func(t *testing.T) {
			if json.Valid([]byte(in)) {
				t.Fatalf("test input is valid JSON")
			}
			if _, err := decodeReview([]byte(in)); err == nil {
				t.Errorf("decodeReview accepted invalid JSON %.60q", in)
			}
		})
	}
}

// compareDecoders decodes in with both decoders and reports differences; with strict, a
// difference in errors is reported too (only for inputs encoding/json reads the same way:
// see comparable).
func compareDecoders(t *testing.T, in []byte, strict bool) {
	t.Helper()
	got, gotErr := decodeReview(in)
	// Invalid JSON must fail; valid JSON must never fail as a syntax error. (Invalid JSON may be
	// reported as a type error: the decoder stops at the first value it cannot use.)
	if valid := json.Valid(in); !valid && gotErr == nil || valid && gotErr != nil && isSyntaxError(gotErr) {
		t.Fatalf("json.Valid = %v but decodeReview error = %v\ninput %.200q", valid, gotErr, in)
	}
	if !comparable(in) {
		return
	}
	var want reviewView
	wantErr := json.Unmarshal(in, &want)
	if (wantErr == nil) != (gotErr == nil) {
		if strict || wantErr == nil || gotErr == nil {
			t.Fatalf("encoding/json error %v, decodeReview error %v\ninput %.300q", wantErr, gotErr, in)
		}
	}
	if wantErr != nil || gotErr != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decodeReview differs from encoding/json (-want +got):\n%s\ninput %.300q", diff, in)
	}
}

func isSyntaxError(err error) bool {
	var se *jsontext.SyntacticError
	return errors.As(err, &se)
}

// viewKeys are the JSON keys of the view types.
var viewKeys = func() map[string]bool {
	keys := map[string]bool{"pod-template-hash": true}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				keys[name] = true
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[reviewView]())
	return keys
}()

// comparable reports whether encoding/json is a fair oracle for in: valid JSON without
// duplicate keys in an object (encoding/json merges them into what it decoded before) and
// without keys that differ from a view key only in case (encoding/json matches those; the API
// server and decodeReview do not).
func comparable(in []byte) bool {
	if !json.Valid(in) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	type frame struct {
		object bool
		key    bool // the next string token is a key
		keys   map[string]bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.keys[s] {
				return false
			}
			top.keys[s] = true
			for k := range viewKeys {
				if k != s && strings.EqualFold(k, s) {
					return false
				}
			}
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, key: true, keys: map[string]bool{}})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, the next string is a key again.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// FuzzDecodeReview: on any bytes the decoder never panics, fails when the input is not
// valid JSON, and otherwise decodes what encoding/json decodes.
func FuzzDecodeReview(f *testing.F) {
	for _, s := range decodeCases {
		f.Add([]byte(s))
	}
	body, _ := benchReview(f)
	f.Add(body)
	f.Add([]byte(`{"request":{"uid":"1","object":{"spec":{"containers":[{"name":"a","resources":{"limits":{"memory":"1Gi"}}}]}}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		compareDecoders(t, in, false)
	})
}

package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/headroom-dev/headroom/internal/manifest"
)

// SizeObject sizes a pod, or a pod template ({metadata, spec}), held as a JSON-like map (as decoded
// from YAML or JSON). It runs exactly what the webhook runs — the same view of the pod, the same
// Size, the same JSON patch — and applies that patch to obj in place, so every field headroom does
// not set stays as it was. On error obj is unchanged. Like the API server before it calls the
// webhook, it first defaults the requests of containers with limits to those limits (templates are
// not defaulted, the pods made from them are): a container with limits only is Guaranteed.
func (s *Sizer) SizeObject(obj map[string]any, in Input) (Result, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return Result{}, fmt.Errorf("encode pod: %w", err)
	}
	v, err := decodePod(raw)
	if err != nil {
		return Result{}, fmt.Errorf("decode pod: %w", err)
	}
	pod, err := v.toPod(in.Namespace.Name)
	if err != nil {
		return Result{}, err
	}
	manifest.DefaultRequests(&pod.Spec)
	res := s.Size(pod, in)
	var annotation string
	if res.AnnotationKey != "" {
		annotation = pod.Annotations[res.AnnotationKey]
	}
	patch, err := appendPatch(nil, &v, &res, annotation)
	if err != nil || patch == nil {
		return res, err
	}
	var ops []PatchOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		return Result{}, fmt.Errorf("decode own patch: %w", err)
	}
	// Apply to a copy first, so a failing operation leaves obj as it was.
	cp := deepCopy(obj).(map[string]any)
	if err := ApplyPatch(cp, ops); err != nil {
		return Result{}, err
	}
	for k := range obj {
		delete(obj, k)
	}
	for k, val := range cp {
		obj[k] = val
	}
	return res, nil
}

// deepCopy copies the maps and slices of a JSON-like value; other values are shared.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// PatchOp is one operation of a JSON patch (RFC 6902).
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// ApplyPatch applies "add" and "replace" operations (all the webhook writes) to a JSON document
// held as maps and slices. Other operations are an error.
func ApplyPatch(doc map[string]any, ops []PatchOp) error {
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			return fmt.Errorf("patch: unsupported op %q", op.Op)
		}
		if !strings.HasPrefix(op.Path, "/") {
			return fmt.Errorf("patch: bad path %q", op.Path)
		}
		tokens := strings.Split(op.Path[1:], "/")
		for i, t := range tokens {
			tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		}
		var parent any = doc
		for _, t := range tokens[:len(tokens)-1] {
			next, err := child(parent, t)
			if err != nil {
				return fmt.Errorf("patch %s: %w", op.Path, err)
			}
			parent = next
		}
		last := tokens[len(tokens)-1]
		switch p := parent.(type) {
		case map[string]any:
			if _, ok := p[last]; op.Op == "replace" && !ok {
				return fmt.Errorf("patch %s: replace of a missing member", op.Path)
			}
			p[last] = op.Value
		case []any:
			// Slices cannot grow in place: appends go through the grandparent. The webhook only
			// appends with "/-" to env lists, handled here by re-setting the list.
			if last == "-" && op.Op == "add" {
				if err := setChild(doc, tokens[:len(tokens)-1], append(p, op.Value)); err != nil {
					return fmt.Errorf("patch %s: %w", op.Path, err)
				}
				continue
			}
			i, err := strconv.Atoi(last)
			if err != nil || i < 0 || i >= len(p) || op.Op != "replace" {
				return fmt.Errorf("patch %s: bad array index %q for %s", op.Path, last, op.Op)
			}
			p[i] = op.Value
		default:
			return fmt.Errorf("patch %s: parent is not an object or array", op.Path)
		}
	}
	return nil
}

func child(node any, token string) (any, error) {
	switch n := node.(type) {
	case map[string]any:
		v, ok := n[token]
		if !ok {
			return nil, fmt.Errorf("no member %q", token)
		}
		return v, nil
	case []any:
		i, err := strconv.Atoi(token)
		if err != nil || i < 0 || i >= len(n) {
			return nil, fmt.Errorf("bad array index %q", token)
		}
		return n[i], nil
	}
	return nil, fmt.Errorf("cannot descend into %T at %q", node, token)
}

func setChild(doc map[string]any, tokens []string, v any) error {
	var parent any = doc
	for _, t := range tokens[:len(tokens)-1] {
		next, err := child(parent, t)
		if err != nil {
			return err
		}
		parent = next
	}
	last := tokens[len(tokens)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(p) {
			return fmt.Errorf("bad array index %q", last)
		}
		p[i] = v
	default:
		return fmt.Errorf("cannot set into %T", parent)
	}
	return nil
}

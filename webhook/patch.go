package webhook

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
)

// appendPatch appends the RFC 6902 JSON patch that turns the pod the view was decoded from into
// the pod Size produced, and returns b unchanged when there is nothing to patch. It only ever
// writes "add" (to object members, which adds or replaces) and "replace" (array elements), at the
// deepest path that exists in the original, so no field it does not set is touched.
func appendPatch(b []byte, v *podView, res *Result, annotation string) ([]byte, error) {
	if len(res.changes) == 0 && res.AnnotationKey == "" {
		return b, nil
	}
	start := len(b)
	b = append(b, '[')
	for i := range res.changes {
		var err error
		if b, err = appendContainerOps(b, v, &res.changes[i]); err != nil {
			return b[:start], err
		}
	}
	if res.AnnotationKey != "" {
		switch {
		case v.Metadata == nil:
			b = opStart(b, "add", "/metadata", "")
			b = append(b, `{"annotations":{`...)
			b = appendString(b, res.AnnotationKey)
			b = append(b, ':')
			b = appendString(b, annotation)
			b = append(b, "}}},"...)
		case v.Metadata.Annotations == nil:
			b = opStart(b, "add", "/metadata/annotations", "")
			b = append(b, '{')
			b = appendString(b, res.AnnotationKey)
			b = append(b, ':')
			b = appendString(b, annotation)
			b = append(b, "}},"...)
		default:
			b = opStart(b, "add", "/metadata/annotations/", escapePointer(res.AnnotationKey))
			b = appendString(b, annotation)
			b = append(b, "},"...)
		}
	}
	if len(b) == start+1 {
		return b[:start], nil
	}
	b[len(b)-1] = ']'
	return b, nil
}

func appendContainerOps(b []byte, v *podView, ch *change) ([]byte, error) {
	if v.Spec == nil {
		return b, fmt.Errorf("patch: pod has no spec")
	}
	list, field := v.Spec.Containers, "/spec/containers/"
	if ch.init {
		list, field = v.Spec.InitContainers, "/spec/initContainers/"
	}
	if ch.index >= len(list) {
		return b, fmt.Errorf("patch: container %d out of range", ch.index)
	}
	cv := &list[ch.index]
	var pathBuf [64]byte
	base := strconv.AppendInt(append(pathBuf[:0], field...), int64(ch.index), 10)

	// Resources.
	if ch.limit != nil || ch.request != nil {
		if cv.Resources == nil {
			b = opStartPath(b, "add", base, "/resources", -1, "")
			b = append(b, '{')
			if ch.limit != nil {
				b = append(b, `"limits":{"memory":`...)
				b = appendQuantity(b, ch.limit)
				b = append(b, '}')
				if ch.request != nil {
					b = append(b, ',')
				}
			}
			if ch.request != nil {
				b = append(b, `"requests":{"memory":`...)
				b = appendQuantity(b, ch.request)
				b = append(b, '}')
			}
			b = append(b, "}},"...)
		} else {
			b = appendMemory(b, base, "/resources/limits", cv.Resources.Limits, ch.limit)
			b = appendMemory(b, base, "/resources/requests", cv.Resources.Requests, ch.request)
		}
	}

	// JVM options.
	if e := ch.heap; e != nil {
		b = appendStrings(b, base, "/command", cv.Command, e.command)
		b = appendStrings(b, base, "/args", cv.Args, e.args)
		for j, ev := range e.env {
			if j < len(cv.Env) {
				old := &cv.Env[j]
				if old.Name != ev.name {
					return b, fmt.Errorf("patch: container %s: env %d is %s, rewritten as %s", cv.Name, j, old.Name, ev.name)
				}
				if old.Value != nil && *old.Value == ev.value || old.Value == nil && ev.value == "" {
					continue
				}
				if old.ValueFrom != nil {
					return b, fmt.Errorf("patch: container %s: env %s comes from a source", cv.Name, ev.name)
				}
				b = opStartPath(b, "add", base, "/env/", j, "/value")
				b = appendString(b, ev.value)
				b = append(b, "},"...)
				continue
			}
			if cv.Env == nil && j == 0 {
				b = opStartPath(b, "add", base, "/env", -1, "")
				b = append(b, '[')
				for k, ev := range e.env {
					if k > 0 {
						b = append(b, ',')
					}
					b = appendEnv(b, ev)
				}
				b = append(b, "]},"...)
				break
			}
			b = opStartPath(b, "add", base, "/env/-", -1, "")
			b = appendEnv(b, ev)
			b = append(b, "},"...)
		}
	}
	return b, nil
}

// appendMemory sets the memory entry of a resource list (limits or requests) that may be missing.
func appendMemory(b, base []byte, field string, list *listView, q *resource.Quantity) []byte {
	if q == nil {
		return b
	}
	if list == nil {
		b = opStartPath(b, "add", base, field, -1, "")
		b = append(b, `{"memory":`...)
		b = appendQuantity(b, q)
		return append(b, "}},"...)
	}
	b = opStartPath(b, "add", base, field, -1, "/memory")
	b = appendQuantity(b, q)
	return append(b, "},"...)
}

// appendStrings patches a command or args list: element by element when only values changed.
func appendStrings(b, base []byte, field string, old, new []string) []byte {
	if len(old) == len(new) {
		for i := range old {
			if old[i] != new[i] {
				b = opStartPath(b, "replace", base, field+"/", i, "")
				b = appendString(b, new[i])
				b = append(b, "},"...)
			}
		}
		return b
	}
	op := "replace"
	if old == nil {
		op = "add"
	}
	b = opStartPath(b, op, base, field, -1, "")
	b = append(b, '[')
	for i, s := range new {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, "]},"...)
}

func appendEnv(b []byte, ev envPair) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, ev.name)
	b = append(b, `,"value":`...)
	b = appendString(b, ev.value)
	return append(b, '}')
}

// opStart starts an operation at path prefix+token (token already escaped for a JSON pointer,
// and like prefix free of JSON string escapes).
func opStart(b []byte, op, prefix, token string) []byte {
	b = append(b, `{"op":"`...)
	b = append(b, op...)
	b = append(b, `","path":"`...)
	b = append(b, prefix...)
	b = append(b, token...)
	return append(b, `","value":`...)
}

// opStartPath starts an operation at base+field[+index]+suffix; index < 0 means none.
func opStartPath(b []byte, op string, base []byte, field string, index int, suffix string) []byte {
	b = append(b, `{"op":"`...)
	b = append(b, op...)
	b = append(b, `","path":"`...)
	b = append(b, base...)
	b = append(b, field...)
	if index >= 0 {
		b = strconv.AppendInt(b, int64(index), 10)
	}
	b = append(b, suffix...)
	return append(b, `","value":`...)
}

func appendQuantity(b []byte, q *resource.Quantity) []byte {
	return appendString(b, quantityString(q))
}

// escapePointer escapes a JSON pointer reference token (RFC 6901) for headroom's own annotation keys.
func escapePointer(s string) string {
	switch s {
	case SizedKey:
		return "headroom.dev~1sized"
	case WouldSizeKey:
		return "headroom.dev~1would-size"
	}
	return pointerEscaper.Replace(s)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			// U+2028 and U+2029 are valid JSON; no need to escape them for this consumer.
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

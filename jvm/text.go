package jvm

import "strings"

// Every string the analysis derives (an expanded argument, a shell field, a JVM option) keeps, byte for
// byte, where in the container spec it came from. That is what lets Rewrite change the exact bytes of the
// winning -Xmx in the one field that holds them, however many expansions they went through.

// Field names a list of strings in the container spec.
type Field uint8

const (
	FieldNone    Field = iota // bytes made up by an expansion (IFS joins, $#), or hidden: never rewritable
	FieldCommand              // Container.Command[i]
	FieldArgs                 // Container.Args[i]
	FieldEnv                  // Container.Env[i].Value
)

func (f Field) String() string {
	switch f {
	case FieldCommand:
		return "command"
	case FieldArgs:
		return "args"
	case FieldEnv:
		return "env"
	default:
		return "none"
	}
}

// ref is one string of the container spec.
type ref struct {
	f Field
	i int
}

// hiddenByte stands for content the analysis cannot see (a valueFrom variable, a command substitution,
// a variable the image may set). NUL cannot occur in an argv or environment string, so it never collides
// with real content.
const hiddenByte = '\x00'

// span maps text[start:end] to source[off:off+end-start] of ref (verbatim), or marks it hidden.
type span struct {
	start, end int
	ref        ref
	off        int
	via        string      // how these bytes left their field: "via sh -c", "via $(X) in args[2]", "(sh -c script)"
	hidden     *hiddenInfo // set for a hiddenByte: what is hidden and why
}

// hiddenInfo says why some content cannot be seen.
type hiddenInfo struct {
	reason Reason
	msg    string
	loc    Location // where the hidden content is referenced, when known
}

// text is a string with the provenance of every byte. spans are sorted and cover s exactly.
type text struct {
	s     string
	spans []span
}

func literal(s string, r ref) text {
	if s == "" {
		return text{}
	}
	return text{s: s, spans: []span{{start: 0, end: len(s), ref: r}}}
}

func (t text) hasHidden() bool { return strings.IndexByte(t.s, hiddenByte) >= 0 }

// spanAt returns the span holding byte i.
func (t text) spanAt(i int) (span, bool) {
	lo, hi := 0, len(t.spans)
	for lo < hi {
		m := (lo + hi) / 2
		sp := t.spans[m]
		switch {
		case i < sp.start:
			hi = m
		case i >= sp.end:
			lo = m + 1
		default:
			return sp, true
		}
	}
	return span{}, false
}

// source reports where t.s[from:to] lives when it is one verbatim piece of one field.
func (t text) source(from, to int) (r ref, off int, via string, ok bool) {
	if from < 0 || to > len(t.s) || from > to {
		return ref{}, 0, "", false
	}
	if from == to {
		// An empty range (an insertion point) belongs to the byte before it.
		if from == 0 {
			return ref{}, 0, "", false
		}
		sp, found := t.spanAt(from - 1)
		if !found || sp.ref.f == FieldNone || sp.hidden != nil {
			return ref{}, 0, "", false
		}
		return sp.ref, sp.off + from - sp.start, sp.via, true
	}
	sp, found := t.spanAt(from)
	if !found || to > sp.end || sp.ref.f == FieldNone || sp.hidden != nil {
		return ref{}, 0, "", false
	}
	return sp.ref, sp.off + from - sp.start, sp.via, true
}

// builder assembles a text piece by piece.
type builder struct {
	sb    strings.Builder
	spans []span
}

func (b *builder) len() int { return b.sb.Len() }

func (b *builder) push(sp span) {
	if n := len(b.spans); n > 0 {
		last := &b.spans[n-1]
		if last.end == sp.start && last.ref == sp.ref && last.ref.f != FieldNone && last.hidden == nil && sp.hidden == nil &&
			last.off+(last.end-last.start) == sp.off && last.via == sp.via {
			last.end = sp.end
			return
		}
	}
	b.spans = append(b.spans, sp)
}

// add appends t[from:to]; via is recorded on spans that have none yet and do not come from keep.
func (b *builder) add(t text, from, to int, via string, keep ref) {
	if from >= to {
		return
	}
	base := b.sb.Len()
	b.sb.WriteString(t.s[from:to])
	for _, sp := range t.spans {
		if sp.end <= from || sp.start >= to {
			continue
		}
		s, e := max(sp.start, from), min(sp.end, to)
		n := sp
		n.off = sp.off + s - sp.start
		n.start, n.end = base+s-from, base+e-from
		if n.via == "" && via != "" && n.ref != keep && n.ref.f != FieldNone {
			n.via = via
		}
		b.push(n)
	}
}

func (b *builder) addText(t text, via string, keep ref) { b.add(t, 0, len(t.s), via, keep) }

// addSynth appends bytes made up by the expansion itself.
func (b *builder) addSynth(s string) {
	if s == "" {
		return
	}
	base := b.sb.Len()
	b.sb.WriteString(s)
	b.push(span{start: base, end: base + len(s)})
}

// addHidden appends one hiddenByte standing for content the analysis cannot see.
func (b *builder) addHidden(why *hiddenInfo) {
	base := b.sb.Len()
	b.sb.WriteByte(hiddenByte)
	b.push(span{start: base, end: base + 1, hidden: why})
}

func (b *builder) text() text {
	t := text{s: b.sb.String(), spans: b.spans}
	b.sb = strings.Builder{}
	b.spans = nil
	return t
}

// hiddenWhy returns what is known about the first hidden byte of t.
func (t text) hiddenWhy() *hiddenInfo {
	i := strings.IndexByte(t.s, hiddenByte)
	if i >= 0 {
		if sp, ok := t.spanAt(i); ok && sp.hidden != nil {
			return sp.hidden
		}
	}
	return &hiddenInfo{reason: ReasonAmbiguous, msg: "hidden content"}
}

// slice returns t[from:to] with its provenance, sharing t's bytes.
func (t text) slice(from, to int) text {
	if from >= to {
		return text{}
	}
	n := 0
	for _, sp := range t.spans {
		if sp.end > from && sp.start < to {
			n++
		}
	}
	out := text{s: t.s[from:to], spans: make([]span, 0, n)}
	for _, sp := range t.spans {
		if sp.end <= from || sp.start >= to {
			continue
		}
		s, e := max(sp.start, from), min(sp.end, to)
		sp.off += s - sp.start
		sp.start, sp.end = s-from, e-from
		out.spans = append(out.spans, sp)
	}
	return out
}

package jvm

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// edit is one change to the container spec.
type edit struct {
	r        ref
	from, to int    // byte range of the source string to replace; from == to inserts
	text     string // the new bytes, or the new element for newArg/newEnv
	newArg   bool   // insert text as a new element after r (exec-form command/args)
	newEnv   bool   // append JAVA_TOOL_OPTIONS=text to env
}

// heapPlan is how one invocation gets the new max heap.
type heapPlan struct {
	edits    []edit
	where    Location
	appended bool
}

// Rewrite returns the container with its JVM's effective max heap set to exactly maxHeap bytes: the
// winning -Xmx/-XX:MaxHeapSize is changed in place (every other byte kept), a larger -Xms is lowered to
// maxHeap, and where no explicit size applies -Xmx is added where it wins. The result is analysed again
// and compared with the original before it is returned: every command must see the same arguments and
// environment except for heap sizes. The error is a *CannotRewriteError, or wraps ErrInvalidSize for a
// maxHeap the JVM cannot take; on error c is returned unchanged.
func Rewrite(c Container, maxHeap int64) (out Container, ch Change, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, ch, err = c, Change{}, &CannotRewriteError{Reason: ReasonAmbiguous, Message: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	return rewrite(c, maxHeap)
}

func rewrite(c Container, maxHeap int64) (Container, Change, error) {
	if maxHeap < minMaxHeap || maxHeap > maxMaxHeap {
		return c, Change{}, fmt.Errorf("new max heap %d bytes: must be between %s and %s: %w", maxHeap, FormatSize(minMaxHeap), FormatSize(maxMaxHeap), ErrInvalidSize)
	}
	before := analyze(c)
	newVal := FormatSize(maxHeap)

	// Decision: JVMs started one after the other (a migration step, then the application) are all given
	// the new size, since they never hold their heaps at the same time. JVMs that may run at once (one
	// started in the background) would each take that heap while the limit is sized for one: ambiguous.
	if len(before.invs) > 1 {
		for _, inv := range before.invs {
			if inv.bg {
				return c, Change{}, &CannotRewriteError{Reason: ReasonAmbiguous,
					Message: fmt.Sprintf("%d java invocations, one in the background: their heaps may add up", len(before.invs))}
			}
		}
	}

	var fixed []edit // in-place size changes and -Xms lowering, needed whatever else happens
	plans := make([]heapPlan, len(before.invs))
	var adding []int // invocations without an explicit size
	for i, inv := range before.invs {
		e := inv.eff
		if len(e.invalid) > 0 {
			o := e.invalid[0]
			return c, Change{}, &CannotRewriteError{Reason: ReasonInvalid, Where: o.Where,
				Message: fmt.Sprintf("%s in %s: %s", o.Option, o.Where, o.Invalid)}
		}
		if len(e.maxHidden) > 0 {
			o := e.maxHidden[0]
			return c, Change{}, &CannotRewriteError{Reason: o.hid.reason, Where: o.Where,
				Message: "the heap may be set where it cannot be seen or edited: " + o.Hidden}
		}
		for _, o := range e.xmsHidden {
			// A visible -Xms that may or may not reach the JVM (java not visible): if it does, it must fit.
			if o.Kind != KindUnknown && o.hid != nil && o.Bytes > maxHeap {
				return c, Change{}, &CannotRewriteError{Reason: o.hid.reason, Where: o.Where,
					Message: fmt.Sprintf("%s in %s may reach the JVM and would exceed the new -Xmx: %s", o.Option, o.Where, o.Hidden)}
			}
		}
		if e.max != nil {
			plans[i].where = e.max.Where
			if e.max.Bytes != maxHeap {
				ed, err := valueEdit(e.max, newVal)
				if err != nil {
					return c, Change{}, err
				}
				fixed = append(fixed, ed)
			}
		} else {
			adding = append(adding, i)
		}
		for _, x := range []*occ{e.min, e.init} {
			if x != nil && x.Bytes > maxHeap {
				ed, err := valueEdit(x, newVal)
				if err != nil {
					return c, Change{}, err
				}
				fixed = append(fixed, ed)
			}
		}
	}

	// Where no explicit size applies, first try next to the setting that sizes the heap now (the
	// MaxRAMPercentage in JAVA_OPTS...), then JAVA_TOOL_OPTIONS. An explicit size beats a percentage at
	// any level (FACTS.md B.1), so both are exact; verification decides.
	var candidates [][]heapPlan
	if len(adding) > 0 {
		near, tool := slices.Clone(plans), slices.Clone(plans)
		useNear := false
		for _, i := range adding {
			var err error
			if tool[i], err = toolOptionsPlan(c, newVal); err != nil {
				return c, Change{}, err
			}
			near[i] = tool[i]
			if p, ok := nearPlan(c, before.invs[i].eff, newVal); ok {
				near[i], useNear = p, true
			}
		}
		if useNear {
			candidates = append(candidates, near)
		}
		candidates = append(candidates, tool)
	} else {
		candidates = append(candidates, plans)
	}

	var lastErr error
	for _, cand := range candidates {
		edits := slices.Clone(fixed)
		for _, p := range cand {
			edits = append(edits, p.edits...)
		}
		if len(edits) == 0 {
			return c, change(before, cand, maxHeap, nil), nil
		}
		next, edited, n, err := apply(c, edits)
		if err != nil {
			lastErr = err
			continue
		}
		if err := verify(before, analyze(next), maxHeap, edited); err != nil {
			lastErr = err
			continue
		}
		ch := change(before, cand, maxHeap, edits)
		ch.Edits = n
		return next, ch, nil
	}
	return c, Change{}, lastErr
}

// valueEdit replaces the value of a size option, which must be one verbatim piece of one field.
func valueEdit(o *occ, val string) (edit, error) {
	r, off, _, ok := o.opt.source(o.nameLen, len(o.opt.s))
	if !ok {
		return edit{}, &CannotRewriteError{Reason: ReasonAmbiguous, Where: o.Where,
			Message: fmt.Sprintf("the value of %s (%s) is assembled from several places", o.Option, o.Where)}
	}
	return edit{r: r, from: off, to: off + len(o.opt.s) - o.nameLen, text: val}, nil
}

// nearPlan adds -Xmx right after the highest MaxRAMPercentage/MaxRAMFraction/MaxRAM on the command line
// or in _JAVA_OPTIONS: in the same variable, script or a new argument after it.
func nearPlan(c Container, e effective, val string) (heapPlan, bool) {
	var p *occ
	for _, o := range []*occ{e.pct, e.frac, e.maxRAM} {
		if o != nil && o.Level >= LevelCommandLine && (p == nil || p.before(*o)) {
			p = o
		}
	}
	if p == nil {
		return heapPlan{}, false
	}
	n := len(p.opt.s)
	r, end, via, ok := p.opt.source(n, n)
	if !ok {
		return heapPlan{}, false
	}
	rs, start, viaStart, whole := p.opt.source(0, n)
	where := Location{Field: r.f, Index: r.i, Via: via, Appended: true}
	if r.f == FieldEnv {
		where.Name = c.Env[r.i].Name
	}
	if r.f != FieldEnv && via == "" && viaStart == "" && whole && rs == r && start == 0 && end == n && len(get(c, r)) == n {
		// A whole exec-form argument: the option gets an argument of its own after it.
		where.Index++
		return heapPlan{edits: []edit{{r: r, text: "-Xmx" + val, newArg: true}}, where: where, appended: true}, true
	}
	return heapPlan{edits: []edit{{r: r, from: end, to: end, text: " -Xmx" + val}}, where: where, appended: true}, true
}

// toolOptionsPlan appends -Xmx to the last JAVA_TOOL_OPTIONS entry, or adds one at the end of env.
func toolOptionsPlan(c Container, val string) (heapPlan, error) {
	for i := len(c.Env) - 1; i >= 0; i-- {
		if c.Env[i].Name != envJavaToolOptions {
			continue
		}
		if c.Env[i].FromSource {
			return heapPlan{}, &CannotRewriteError{Reason: ReasonValueFrom, Where: Location{Field: FieldEnv, Index: i, Name: envJavaToolOptions},
				Message: "env JAVA_TOOL_OPTIONS comes from valueFrom: -Xmx cannot be added to it"}
		}
		v := c.Env[i].Value
		sep := " "
		if v == "" {
			sep = ""
		}
		return heapPlan{edits: []edit{{r: ref{FieldEnv, i}, from: len(v), to: len(v), text: sep + "-Xmx" + val}},
			where: Location{Field: FieldEnv, Index: i, Name: envJavaToolOptions, Appended: true}, appended: true}, nil
	}
	return heapPlan{edits: []edit{{newEnv: true, text: "-Xmx" + val}},
		where: Location{Field: FieldEnv, Index: len(c.Env), Name: envJavaToolOptions, Appended: true}, appended: true}, nil
}

// apply makes the edits on a copy of c and reports the env names whose value it changed or added, and
// how many edits it made.
func apply(c Container, edits []edit) (Container, map[string]bool, int, error) {
	out := Container{Command: slices.Clone(c.Command), Args: slices.Clone(c.Args), Env: slices.Clone(c.Env), EnvFrom: c.EnvFrom}
	edited := map[string]bool{}
	// Identical edits come from several invocations sharing one setting.
	sort.SliceStable(edits, func(i, j int) bool {
		a, b := edits[i], edits[j]
		if a.r != b.r {
			return a.r.f < b.r.f || a.r.f == b.r.f && a.r.i < b.r.i
		}
		return a.from > b.from || a.from == b.from && a.to > b.to
	})
	edits = slices.CompactFunc(edits, func(a, b edit) bool { return a == b })
	var strs, args []edit
	for _, e := range edits {
		switch {
		case e.newEnv:
			out.Env = append(out.Env, EnvVar{Name: envJavaToolOptions, Value: e.text})
			edited[envJavaToolOptions] = true
		case e.newArg:
			args = append(args, e)
		default:
			strs = append(strs, e)
		}
	}
	for i, e := range strs {
		if i > 0 && strs[i-1].r == e.r && (e.to > strs[i-1].from || e.from == strs[i-1].from) {
			return c, nil, 0, &CannotRewriteError{Reason: ReasonAmbiguous, Message: "two settings to change overlap in " + refString(c, e.r)}
		}
		s := get(out, e.r)
		if e.from < 0 || e.to > len(s) || e.from > e.to {
			return c, nil, 0, &CannotRewriteError{Reason: ReasonAmbiguous, Message: "edit outside " + refString(c, e.r)}
		}
		set(&out, e.r, s[:e.from]+e.text+s[e.to:])
		if e.r.f == FieldEnv {
			edited[c.Env[e.r.i].Name] = true
		}
	}
	// New arguments go in from the back so that earlier indices stay valid.
	for i := len(args) - 1; i >= 0; i-- {
		e := args[i]
		if i > 0 && args[i-1].r == e.r {
			return c, nil, 0, &CannotRewriteError{Reason: ReasonAmbiguous, Message: "two options to add after " + refString(c, e.r)}
		}
		switch e.r.f {
		case FieldCommand:
			out.Command = slices.Insert(out.Command, e.r.i+1, e.text)
		case FieldArgs:
			out.Args = slices.Insert(out.Args, e.r.i+1, e.text)
		}
	}
	return out, edited, len(edits), nil
}

func get(c Container, r ref) string {
	switch r.f {
	case FieldCommand:
		return c.Command[r.i]
	case FieldArgs:
		return c.Args[r.i]
	case FieldEnv:
		return c.Env[r.i].Value
	}
	return ""
}

func set(c *Container, r ref, s string) {
	switch r.f {
	case FieldCommand:
		c.Command[r.i] = s
	case FieldArgs:
		c.Args[r.i] = s
	case FieldEnv:
		c.Env[r.i].Value = s
	}
}

func refString(c Container, r ref) string {
	if r.f == FieldEnv {
		return "env " + c.Env[r.i].Name
	}
	return Location{Field: r.f, Index: r.i}.String()
}

// verify checks the promise: every JVM now has exactly maxHeap and a fitting -Xms, and every command sees
// what it saw before except for heap sizes; env values other than the edited ones are unchanged.
func verify(before, after *analysis, maxHeap int64, edited map[string]bool) error {
	fail := func(format string, args ...any) error {
		return &CannotRewriteError{Reason: ReasonAmbiguous, Message: fmt.Sprintf(format, args...)}
	}
	if len(after.invs) != len(before.invs) || len(after.records) != len(before.records) {
		return fail("the edit changes which commands the container runs")
	}
	for i, inv := range after.invs {
		e := inv.eff
		switch {
		case len(e.invalid) > 0:
			return fail("the edit would leave %s: %s", e.invalid[0].Option, e.invalid[0].Invalid)
		case len(e.maxHidden) > 0:
			return fail("after the edit the heap may still be set by %s", e.maxHidden[0].Hidden)
		case e.max == nil || e.max.Bytes != maxHeap:
			return fail("the edit does not reach the JVM's winning heap setting")
		case e.min != nil && e.min.Bytes > maxHeap || e.init != nil && e.init.Bytes > maxHeap:
			return fail("-Xms would stay above the new -Xmx")
		}
		if !slices.Equal(inv.shape(), before.invs[i].shape()) {
			return fail("the edit would change JVM options other than the heap size")
		}
	}
	for i, r := range after.records {
		b := before.records[i]
		switch {
		case (r.inv == nil) != (b.inv == nil):
			return fail("the edit changes which commands the container runs")
		case r.inv != nil && !slices.Equal(r.inv.shape(), b.inv.shape()):
			return fail("the edit would change the options of another java invocation")
		case r.inv == nil && !slices.Equal(r.argv, b.argv):
			return fail("the edit would also change the command %q", strings.Join(b.argv, " "))
		}
	}
	for name, v := range before.env.vars {
		if edited[name] {
			continue
		}
		// A variable that carries the edited bytes on to the JVM (JAVA_OPTS=$(HEAP)) may differ in heap
		// sizes only; anything else it holds must stay as it was.
		w, ok := after.env.vars[name]
		if !ok || w.t.s != v.t.s && !slices.Equal(optionShape(w.t), optionShape(v.t)) {
			return fail("the edit would also change env %s", name)
		}
	}
	return nil
}

// optionShape is a value split like an options variable, with heap sizes left out.
func optionShape(t text) []string {
	toks, bad := splitEnvOptions(t)
	out := make([]string, 0, len(toks)+1)
	if bad {
		out = append(out, "!")
	}
	for _, tok := range toks {
		if k, _, ok := classify(tok.s); !ok || !isHeapClass(k) || tok.hasHidden() {
			out = append(out, tok.s)
		}
	}
	return out
}

// shape is what an invocation's JVM and application see, with heap sizes left out.
func (inv *invocation) shape() []string {
	var out []string
	keep := func(t text) {
		if k, _, ok := classify(t.s); ok && isHeapClass(k) && !t.hasHidden() {
			return
		}
		out = append(out, t.s)
	}
	if inv.visible {
		out = append(out, inv.argv[0].s)
	}
	for i, name := range jvmVarNames {
		out = append(out, "|"+name)
		switch inv.states[i] {
		case varUnknown:
			out = append(out, "?")
		case varSet:
			if inv.bad[i] {
				out = append(out, "!")
			}
			for _, t := range inv.toks[i] {
				keep(t)
			}
		}
	}
	out = append(out, "|cmd")
	for _, e := range inv.cl.entries {
		keep(e.t)
	}
	out = append(out, "|rest")
	for _, t := range inv.cl.rest {
		out = append(out, t.s)
	}
	return out
}

// change describes the rewrite of the main invocation.
func change(before *analysis, plans []heapPlan, maxHeap int64, edits []edit) Change {
	idx := len(before.invs) - 1
	inv := before.invs[idx]
	e := inv.eff
	ch := Change{NewMaxHeap: maxHeap, Where: plans[idx].where, Appended: plans[idx].appended}
	if e.max != nil {
		ch.OldMaxHeap = e.max.Bytes
	}
	if x := e.xms(); x != nil && x.Bytes > maxHeap {
		ch.OldXms, ch.NewXms, ch.XmsWhere = x.Bytes, maxHeap, x.Where
	}
	for _, ed := range edits {
		if ed.newEnv {
			ch.Notes = append(ch.Notes, "JAVA_TOOL_OPTIONS added to env: it replaces any JAVA_TOOL_OPTIONS the image or envFrom sets")
		}
	}
	if len(e.xmsHidden) > 0 {
		ch.Notes = append(ch.Notes, "an -Xms may be hidden and cannot be checked against the new -Xmx: "+e.xmsHidden[0].Hidden)
	}
	if len(before.invs) > 1 {
		ch.Notes = append(ch.Notes, fmt.Sprintf("all %d java invocations now use -Xmx%s", len(before.invs), FormatSize(maxHeap)))
	}
	if maxHeap%(2*mib) != 0 {
		ch.Notes = append(ch.Notes, "the JVM rounds the heap up to its alignment (2 MiB with OpenJDK 17 here)")
	}
	if !inv.visible {
		ch.Notes = append(ch.Notes, "java not visible in command/args: the image's own command line is assumed not to set the heap")
	}
	return ch
}

package jvm

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// varState is what is known about a variable.
type varState uint8

const (
	varUnset   varState = iota
	varSet              // value known (it may still contain hidden bytes)
	varUnknown          // cannot tell whether or how it is set
)

// envView is the environment a process starts with.
type envView interface {
	// get looks a variable up. jvm selects the convention for the variables the JVM reads by itself: one
	// the pod spec does not define is taken as unset (image defaults are invisible and documented as
	// such), whereas a shell reference to an undefined variable is unknown (the image may well set it).
	get(name string, jvm bool) (text, varState)
}

// kubeView is the container environment as the kubelet hands it to the process.
type kubeView struct{ env *kubeEnv }

func (k kubeView) get(name string, jvm bool) (text, varState) {
	if v, ok := k.env.vars[name]; ok {
		return v.t, varSet
	}
	if jvm {
		return text{}, varUnset
	}
	var b builder
	b.addHidden(&hiddenInfo{reason: ReasonUnresolved, msg: "$" + name + " is not set in the pod spec (the image may set it)"})
	return b.text(), varUnknown
}

// overlayView adds a command's own assignments (X=1 cmd, env X=1 cmd) to an environment.
type overlayView struct {
	base  envView
	vars  map[string]text
	unset map[string]bool
	clear bool
}

func (o overlayView) get(name string, jvm bool) (text, varState) {
	if t, ok := o.vars[name]; ok {
		return t, varSet
	}
	if o.clear || o.unset[name] {
		return text{}, varUnset
	}
	return o.base.get(name, jvm)
}

// invocation is one start of the java launcher (or, when visible is false, the JVM the image starts).
type invocation struct {
	argv    []text
	cl      cmdline
	vars    [3]text // JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS as the process sees them
	states  [3]varState
	toks    [3][]text // vars split into options
	bad     [3]bool   // unmatched quote
	visible bool
	bg      bool
	assumed string // assumption under which the invocation was found
	occs    []occ
	eff     effective
}

var jvmVarNames = [3]string{envJavaToolOptions, envJDKJavaOptions, envJavaOptions}
var jvmVarLevels = [3]Level{LevelJavaToolOptions, LevelJDKJavaOptions, LevelJavaOptions}

// record is what one command of the container sees; Rewrite compares records before and after an edit
// to prove that nothing but heap options changed.
type record struct {
	inv  *invocation // a java invocation
	argv []string    // any other command
}

type analysis struct {
	c          Container
	env        *kubeEnv
	invs       []*invocation // java invocations that run an application
	infos      int           // java -version and the like
	records    []record
	notes      []string
	possible   []occ   // heap options in places that may or may not reach an invisible JVM
	last       envView // environment of the last command started: the one an invisible JVM gets
	shellNames []string
	budget     int // bounds the work on pathological scripts (fuzzing)
	// incomplete is set when the analysis had to stop early (nesting, budget): then anything may set the
	// heap, and Rewrite must refuse.
	incomplete *hiddenInfo
}

const (
	maxDepth  = 4    // nested sh -c, function calls
	maxBudget = 4096 // commands and words
)

func (a *analysis) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, n := range a.notes {
		if n == msg {
			return
		}
	}
	a.notes = append(a.notes, msg)
}

func (a *analysis) spend() bool {
	a.budget--
	if a.budget < 0 {
		a.stop("the command is too large to follow")
		return false
	}
	return true
}

func (a *analysis) stop(why string) {
	if a.incomplete == nil {
		a.incomplete = &hiddenInfo{reason: ReasonUnparsable, msg: why}
		a.note("%s", why)
	}
}

// Analyze finds every heap setting of the container's JVM and the one that wins. It never panics.
func Analyze(c Container) (h Heap) {
	defer func() {
		if r := recover(); r != nil {
			h = Heap{Notes: []string{fmt.Sprintf("internal error while analysing the container: %v", r)}}
		}
	}()
	return analyze(c).heap()
}

func analyze(c Container) *analysis {
	a := &analysis{c: c, budget: maxBudget}
	a.env = resolveEnv(c)
	view := kubeView{a.env}
	a.last = view
	argv := kubeArgv(c, a.env)
	if len(c.Command) == 0 {
		// The image's ENTRYPOINT runs first and receives args; stand for it with a hidden word.
		var b builder
		b.addHidden(&hiddenInfo{reason: ReasonAmbiguous, msg: "the image's ENTRYPOINT"})
		argv = append([]text{b.text()}, argv...)
		if len(c.Args) == 0 {
			argv = argv[:1]
		}
	}
	a.run(argv, view, runCtx{})
	a.finish()
	return a
}

type runCtx struct {
	bg    bool
	depth int
	// assumed is set when the command was found by assuming a wrapper runs its arguments.
	assumed string
}

// harmless commands neither start a JVM nor take JVM options, and their output does not matter.
var harmless = map[string]bool{
	"echo": true, "printf": true, ":": true, "true": true, "false": true, "logger": true, "cd": true,
	"mkdir": true, "cp": true, "mv": true, "rm": true, "ln": true, "chmod": true, "chown": true, "cat": true,
	"sleep": true, "touch": true, "sed": true, "grep": true, "awk": true, "wait": true, "trap": true,
	"ulimit": true, "umask": true, "id": true, "whoami": true, "ls": true, "tee": true, "date": true,
	"test": true, "[": true, "find": true, "tar": true, "unzip": true, "curl": true, "wget": true,
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "ksh": true, "mksh": true}

// run interprets one command the container starts: wrappers, java, sh -c, or anything else.
func (a *analysis) run(argv []text, env envView, ctx runCtx) {
	if ctx.depth > maxDepth {
		a.stop("commands nested too deep to follow")
		return
	}
	if !a.spend() {
		return
	}
	a.last = env
	for guard := 0; len(argv) > 0 && guard < 16; guard++ {
		w := argv[0].s
		if isJavaLauncher(w) {
			a.java(argv, env, ctx)
			return
		}
		if strings.IndexByte(w, hiddenByte) >= 0 {
			a.opaque(argv, env, ctx, argv[0].hiddenWhy().msg)
			return
		}
		base := path.Base(w)
		switch base {
		case "exec":
			i := 1
			for i < len(argv) {
				s := argv[i].s
				if s == "-a" {
					i += 2
				} else if s == "-c" || s == "-l" || s == "-cl" || s == "-lc" {
					i++
				} else {
					if s == "--" {
						i++
					}
					break
				}
			}
			argv = argv[min(i, len(argv)):]
			continue
		case "nohup", "setsid", "command", "builtin", "stdbuf", "nice", "ionice", "chrt", "taskset", "numactl":
			// Their own options are not followed; the common forms have none.
			argv = argv[1:]
			continue
		case "tini", "tini-static", "dumb-init", "catatonit":
			i := 1
			for i < len(argv) && strings.HasPrefix(argv[i].s, "-") {
				s := argv[i].s
				i++
				if s == "--" {
					break
				}
				if s == "-e" || s == "-p" || s == "-r" || s == "--rewrite" {
					i++
				}
			}
			argv = argv[min(i, len(argv)):]
			continue
		case "gosu", "su-exec":
			argv = argv[min(2, len(argv)):]
			continue
		case "env":
			o := overlayView{base: env, vars: map[string]text{}, unset: map[string]bool{}}
			i := 1
		envArgs:
			for ; i < len(argv); i++ {
				s := argv[i].s
				switch {
				case s == "-i" || s == "-" || s == "--ignore-environment":
					o.clear = true
				case s == "-u" && i+1 < len(argv):
					o.unset[argv[i+1].s] = true
					i++
				case strings.HasPrefix(s, "-u") && len(s) > 2:
					o.unset[s[2:]] = true
				case s == "--":
					i++
					break envArgs
				case !strings.HasPrefix(s, "-") && strings.IndexByte(s, '=') > 0:
					eq := strings.IndexByte(s, '=')
					o.vars[s[:eq]] = argv[i].slice(eq+1, len(s))
				default:
					break envArgs
				}
			}
			argv, env = argv[min(i, len(argv)):], o
			continue
		}
		if shells[base] {
			a.shell(base, argv, env, ctx)
			return
		}
		a.other(argv, env, ctx, base)
		return
	}
}

// other records a command that is not java. Unless it is known to be harmless, heap options among its
// arguments may reach a JVM it starts (an entrypoint script that execs "$@", catalina.sh...).
func (a *analysis) other(argv []text, env envView, ctx runCtx, base string) {
	r := record{argv: make([]string, len(argv))}
	for i, t := range argv {
		r.argv[i] = t.s
	}
	if (base == "test" || base == "[") && len(argv) >= 3 && (argv[1].s == "-z" || argv[1].s == "-n") {
		// Only the emptiness of the operand matters, and Rewrite never empties a value.
		r.argv = []string{base, argv[1].s, strconv.FormatBool(argv[2].s == "")}
	}
	if base == "echo" || base == "printf" || base == "logger" || base == ":" {
		r.argv = r.argv[:1] // what they print is informational
	}
	a.records = append(a.records, r)
	if harmless[base] || len(argv) < 2 {
		return
	}
	if next := argv[1].s; isJavaLauncher(next) || shells[path.Base(next)] {
		ctx.assumed = fmt.Sprintf("assuming %s runs its arguments as a command (exec \"$@\")", base)
		a.run(argv[1:], env, runCtx{bg: ctx.bg, depth: ctx.depth + 1, assumed: ctx.assumed})
		return
	}
	a.scanPossible(argv[1:], fmt.Sprintf("java is not visible: %s may pass it to java", base))
}

// opaque handles a command whose name is hidden (the image's ENTRYPOINT, exec $JAVA_CMD ...).
func (a *analysis) opaque(argv []text, env envView, ctx runCtx, what string) {
	a.records = append(a.records, record{argv: []string{string(hiddenByte)}})
	if len(argv) < 2 {
		return
	}
	if next := argv[1].s; isJavaLauncher(next) || shells[path.Base(next)] {
		ctx.assumed = fmt.Sprintf("assuming %s runs its arguments as a command (no ENTRYPOINT, or one that execs \"$@\")", what)
		a.run(argv[1:], env, runCtx{bg: ctx.bg, depth: ctx.depth + 1, assumed: ctx.assumed})
		return
	}
	r := &a.records[len(a.records)-1]
	for _, t := range argv[1:] {
		r.argv = append(r.argv, t.s)
	}
	a.scanPossible(argv[1:], fmt.Sprintf("java is not visible: %s may pass it to java", what))
}

// scanPossible records heap options among arguments that may or may not be JVM options.
func (a *analysis) scanPossible(args []text, why string) {
	for _, t := range args {
		if o, ok := makeOcc(t, LevelCommandLine, 0); ok && isHeapClass(o.Kind) {
			o.Hidden = why
			if o.Invalid != "" {
				// Only a JVM that gets it refuses to start; whether one does is the open question.
				o.Hidden += "; it would be invalid: " + o.Invalid
				o.Invalid = ""
			}
			a.possible = append(a.possible, o)
		}
	}
}

// java records a start of the java launcher.
func (a *analysis) java(argv []text, env envView, ctx runCtx) {
	inv := &invocation{argv: argv, visible: true, bg: ctx.bg, assumed: ctx.assumed}
	inv.cl = splitCmdline(argv)
	for i, name := range jvmVarNames {
		inv.vars[i], inv.states[i] = env.get(name, true)
	}
	a.records = append(a.records, record{inv: inv})
	if inv.cl.info {
		a.infos++
		return
	}
	a.invs = append(a.invs, inv)
}

// finish adds the JVM an invisible launcher starts, and computes every invocation's occurrences.
func (a *analysis) finish() {
	if len(a.invs) == 0 {
		inv := &invocation{}
		for i, name := range jvmVarNames {
			inv.vars[i], inv.states[i] = a.last.get(name, true)
		}
		a.invs = append(a.invs, inv)
		// Heap options in other variables reach the JVM only if the image's launcher passes them on.
		names := make([]string, 0, len(a.env.vars)+len(a.shellNames))
		for name := range a.env.vars {
			names = append(names, name)
		}
		names = append(names, a.shellNames...)
		sort.Strings(names)
		for i, name := range names {
			if i > 0 && names[i-1] == name || name == envJavaToolOptions || name == envJDKJavaOptions || name == envJavaOptions {
				continue
			}
			t, st := a.last.get(name, true)
			if st != varSet {
				continue
			}
			toks, _ := splitEnvOptions(t)
			a.scanPossible(toks, "java is not visible: whether the image's launcher passes env "+name+" to java is unknown")
		}
	}
	for _, inv := range a.invs {
		inv.occs = a.occurrences(inv)
		inv.eff = computeEffective(inv.occs)
	}
}

// occ is an Occurrence with the option text and its provenance.
type occ struct {
	Occurrence
	opt     text
	nameLen int // the value starts here
	seq     int
	hid     *hiddenInfo
}

// makeOcc classifies one JVM option; ok is false for options that do not concern the heap.
func makeOcc(t text, level Level, seq int) (occ, bool) {
	s := t.s
	o := occ{opt: t, seq: seq}
	o.Level = level
	o.Option = strings.ReplaceAll(s, string(hiddenByte), "…")
	if h := strings.IndexByte(s, hiddenByte); h >= 0 {
		o.hid = t.hiddenWhy()
		o.Hidden = o.hid.msg
		o.Where = o.hid.loc
		if h == 0 {
			o.Kind = KindUnknown
			return o, true
		}
		if lvl, ok := optionsFile(s[:h]); ok {
			o.Kind = KindUnknown
			if lvl != 0 {
				o.Level = lvl
			}
			o.hid = &hiddenInfo{reason: ReasonOptionsFile, msg: "options file " + o.Option}
			o.Hidden = o.hid.msg
			return o, true
		}
		if k, n, ok := classify(s); ok && n <= h {
			// A heap option whose value is hidden.
			o.Kind, o.nameLen = k, n
			o.Where = t.location(n)
			return o, true
		}
		// Hidden bytes inside another option's value are taken not to hold JVM options.
		return occ{}, false
	}
	if lvl, ok := optionsFile(s); ok {
		o.Kind = KindUnknown
		if lvl != 0 {
			o.Level = lvl
		}
		o.hid = &hiddenInfo{reason: ReasonOptionsFile, msg: "options file " + s + " is not read", loc: t.location(0)}
		o.Hidden = o.hid.msg
		o.Where = o.hid.loc
		return o, true
	}
	k, n, ok := classify(s)
	if !ok {
		return occ{}, false
	}
	o.Kind, o.nameLen = k, n
	o.Where = t.location(n)
	v := s[n:]
	switch k {
	case KindMaxHeap:
		b, err := ParseSize(v)
		switch {
		case err != nil:
			o.Invalid = "invalid maximum heap size " + strconv.Quote(v) + " (the JVM does not start)"
		case b <= 2*mib:
			o.Invalid = "maximum heap " + strconv.Quote(v) + " too small (the JVM needs more than 2m)"
		default:
			o.Bytes = b
		}
	case KindXms, KindInitialHeap, KindMinHeap, KindMaxRAM:
		b, err := ParseSize(v)
		if err != nil {
			o.Invalid = "invalid size " + strconv.Quote(v) + " (the JVM does not start)"
		} else {
			o.Bytes = b
		}
	case KindMaxRAMPercentage:
		p, err := parsePercent(v)
		if err != nil {
			o.Invalid = "invalid percentage " + strconv.Quote(v) + " (the JVM does not start)"
		} else {
			o.Percent = p
		}
	case KindMaxRAMFraction:
		f, err := parseFraction(v)
		if err != nil {
			o.Invalid = "invalid fraction " + strconv.Quote(v) + " (the JVM does not start)"
		} else {
			o.Percent = 100 / float64(f)
		}
	}
	return o, true
}

// location describes where byte i of t comes from.
func (t text) location(i int) Location {
	if i >= len(t.s) {
		i = len(t.s) - 1
	}
	sp, ok := t.spanAt(i)
	if !ok {
		return Location{}
	}
	if sp.hidden != nil {
		return sp.hidden.loc
	}
	l := Location{Field: sp.ref.f, Index: sp.ref.i, Via: sp.via}
	if sp.ref.f == FieldNone {
		l.Index = 0
	}
	return l
}

// occurrences lists the heap options of one invocation in the order the JVM reads them.
func (a *analysis) occurrences(inv *invocation) []occ {
	occs := make([]occ, 0, 4)
	seq := 0
	add := func(t text, level Level) {
		seq++
		if o, ok := makeOcc(t, level, seq); ok {
			occs = append(occs, o)
		}
	}
	fromVar := func(i int) {
		t, st := inv.vars[i], inv.states[i]
		name, level := jvmVarNames[i], jvmVarLevels[i]
		if level == LevelJDKJavaOptions && inv.visible && !isJavaLauncher(inv.argv[0].s) {
			return
		}
		switch st {
		case varUnknown:
			seq++
			h := t.hiddenWhy()
			occs = append(occs, occ{Occurrence: Occurrence{Option: name, Kind: KindUnknown, Level: level, Hidden: h.msg, Where: h.loc}, hid: h, seq: seq})
			return
		case varUnset:
			return
		}
		toks, bad := splitEnvOptions(t)
		inv.toks[i], inv.bad[i] = toks, bad
		if bad {
			occs = append(occs, occ{Occurrence: Occurrence{Option: name, Level: level, Invalid: "unmatched quote in " + name + " (the JVM does not start)", Where: t.location(0)}})
		}
		for _, tok := range toks {
			if level == LevelJDKJavaOptions && !tok.hasHidden() && (isTerminalOpt(tok.s) || tok.s != "" && tok.s[0] != '-' && tok.s[0] != '@') {
				// libjli args.c: "Option ... is not allowed in environment variable JDK_JAVA_OPTIONS",
				// "Cannot specify main class in environment variable JDK_JAVA_OPTIONS".
				occs = append(occs, occ{Occurrence: Occurrence{Option: tok.s, Level: level, Where: tok.location(0),
					Invalid: tok.s + " is not allowed in JDK_JAVA_OPTIONS (the JVM does not start)"}})
				continue
			}
			if level == LevelJDKJavaOptions && len(tok.s) > 1 && tok.s[0] == '@' && tok.s[1] != '@' {
				seq++
				occs = append(occs, occ{Occurrence: Occurrence{Option: tok.s, Kind: KindUnknown, Level: level, Hidden: "argument file " + tok.s + " is not read", Where: tok.location(0)},
					hid: &hiddenInfo{reason: ReasonOptionsFile, msg: "argument file " + tok.s + " in " + name + " is not read"}, seq: seq})
				continue
			}
			add(tok, level)
		}
	}
	fromVar(0)
	fromVar(1)
	if inv.visible {
		for _, e := range inv.cl.entries {
			switch e.kind {
			case entryOption, entryHidden:
				add(e.t, LevelCommandLine)
			case entryArgFile:
				seq++
				occs = append(occs, occ{Occurrence: Occurrence{Option: e.t.s, Kind: KindUnknown, Level: LevelCommandLine, Hidden: "argument file " + e.t.s + " is not read", Where: e.t.location(0)},
					hid: &hiddenInfo{reason: ReasonOptionsFile, msg: "argument file " + e.t.s + " is not read", loc: e.t.location(0)}, seq: seq})
			}
		}
	} else {
		for _, o := range a.possible {
			seq++
			o.seq = seq
			if o.hid == nil {
				o.hid = &hiddenInfo{reason: ReasonAmbiguous, msg: o.Hidden, loc: o.Where}
			}
			occs = append(occs, o)
		}
	}
	fromVar(2)
	if h := a.incomplete; h != nil {
		seq++
		occs = append(occs, occ{Occurrence: Occurrence{Option: "…", Kind: KindUnknown, Level: LevelJavaOptions, Hidden: h.msg, Where: h.loc}, hid: h, seq: seq})
	}
	slices.SortStableFunc(occs, func(x, y occ) int {
		switch {
		case x.before(y):
			return -1
		case y.before(x):
			return 1
		}
		return 0
	})
	for i := range occs {
		occs[i].Where = a.named(occs[i].Where)
	}
	return occs
}

// named fills in the variable name of an env location.
func (a *analysis) named(l Location) Location {
	if l.Field == FieldEnv && l.Index >= 0 && l.Index < len(a.c.Env) {
		l.Name = a.c.Env[l.Index].Name
	}
	return l
}

func (o occ) before(p occ) bool {
	if o.Level != p.Level {
		return o.Level < p.Level
	}
	return o.seq < p.seq
}

// effective is what one invocation's JVM ends up with.
type effective struct {
	max, min, init, pct, frac, maxRAM *occ
	maxHidden, xmsHidden              []*occ // hidden settings read after the winner (they may override it)
	invalid                           []*occ
}

func computeEffective(occs []occ) effective {
	var e effective
	var hidden []*occ
	for i := range occs {
		o := &occs[i]
		switch {
		case o.Invalid != "":
			e.invalid = append(e.invalid, o)
			continue
		case o.Hidden != "":
			hidden = append(hidden, o)
			continue
		}
		switch o.Kind {
		case KindMaxHeap:
			e.max = o
		case KindXms:
			e.min, e.init = o, o
		case KindInitialHeap:
			e.init = o
		case KindMinHeap:
			e.min = o
		case KindMaxRAMPercentage:
			e.pct = o
		case KindMaxRAMFraction:
			e.frac = o
		case KindMaxRAM:
			e.maxRAM = o
		}
	}
	// Cross-option checks HotSpot makes after parsing (FACTS.md B.1): "Initial heap size set to a larger
	// value than the maximum heap size", "Incompatible minimum and maximum/initial heap sizes".
	if x := e.xms(); x != nil && e.max != nil && x.Bytes > e.max.Bytes {
		bad := *x
		bad.Invalid = fmt.Sprintf("initial/minimum heap %s above the maximum %s (the JVM does not start)", FormatSize(x.Bytes), FormatSize(e.max.Bytes))
		e.invalid = append(e.invalid, &bad)
	}
	if e.min != nil && e.init != nil && e.init.Bytes != 0 && e.init.Bytes < e.min.Bytes {
		bad := *e.init
		bad.Invalid = fmt.Sprintf("initial heap %s below the minimum %s (the JVM does not start)", FormatSize(e.init.Bytes), FormatSize(e.min.Bytes))
		e.invalid = append(e.invalid, &bad)
	}
	for _, h := range hidden {
		if (h.Kind == KindUnknown || h.Kind == KindMaxHeap) && (e.max == nil || e.max.before(*h)) {
			e.maxHidden = append(e.maxHidden, h)
		}
		if h.Kind == KindUnknown || h.Kind == KindXms || h.Kind == KindInitialHeap || h.Kind == KindMinHeap {
			if (e.min == nil || e.min.before(*h)) || (e.init == nil || e.init.before(*h)) {
				e.xmsHidden = append(e.xmsHidden, h)
			}
		}
	}
	return e
}

// xms is the effective initial/minimum heap that must stay <= the max heap.
func (e effective) xms() *occ {
	switch {
	case e.min == nil:
		return e.init
	case e.init == nil:
		return e.min
	case e.min.Bytes > e.init.Bytes:
		return e.min
	default:
		return e.init
	}
}

// main is the invocation Heap describes: the last one, which is what a script normally execs.
func (a *analysis) main() *invocation { return a.invs[len(a.invs)-1] }

func (a *analysis) heap() Heap {
	inv := a.main()
	e := inv.eff
	h := Heap{JavaVisible: inv.visible}
	if inv.visible {
		h.Invocations = len(a.invs)
	}
	for _, o := range inv.occs {
		h.Occurrences = append(h.Occurrences, o.Occurrence)
	}
	seen := map[string]bool{}
	for _, o := range e.maxHidden {
		// One entry per reason: a sourced file hides every variable at once.
		if !seen[o.Hidden] {
			seen[o.Hidden] = true
			h.Hidden = append(h.Hidden, o.Occurrence)
		}
	}
	for _, o := range e.invalid {
		h.Invalid = append(h.Invalid, o.Occurrence)
	}
	if e.max != nil {
		h.MaxHeap, h.Where = e.max.Bytes, e.max.Where
	} else {
		switch {
		case e.pct != nil:
			h.MaxRAMPercentage, h.MaxRAMPercentageWhere = e.pct.Percent, e.pct.Where
		case e.frac != nil:
			h.MaxRAMPercentage, h.MaxRAMPercentageWhere = e.frac.Percent, e.frac.Where
		}
		if e.maxRAM != nil {
			h.MaxRAM = e.maxRAM.Bytes
		}
	}
	if x := e.xms(); x != nil {
		h.Xms, h.XmsWhere = x.Bytes, x.Where
	}
	h.Notes = append(h.Notes, a.notes...)
	if !inv.visible {
		h.Notes = append(h.Notes, "java not visible in command/args: only JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and _JAVA_OPTIONS are seen")
	}
	if inv.assumed != "" {
		h.Notes = append(h.Notes, inv.assumed)
	}
	if len(a.invs) > 1 {
		h.Notes = append(h.Notes, fmt.Sprintf("%d java invocations; the heap shown is the last one's, Rewrite sizes them all", len(a.invs)))
		for _, other := range a.invs[:len(a.invs)-1] {
			if o := other.eff.max; (o == nil) != (e.max == nil) || o != nil && o.Bytes != e.max.Bytes {
				h.Notes = append(h.Notes, "the java invocations do not all use the same max heap")
				break
			}
		}
		for _, other := range a.invs {
			if other.bg {
				h.Notes = append(h.Notes, "a java invocation runs in the background: two JVMs may run at once")
				break
			}
		}
	}
	if a.infos > 0 {
		h.Notes = append(h.Notes, "java -version (or another informational run) ignored")
	}
	if len(e.xmsHidden) > 0 {
		h.Notes = append(h.Notes, "an -Xms may be hidden: "+e.xmsHidden[0].Hidden)
	}
	if a.c.EnvFrom {
		h.Notes = append(h.Notes, "envFrom may define JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or _JAVA_OPTIONS; they are taken as unset")
	}
	return h
}

package jvm

import (
	"maps"
	"strconv"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/syntax"
)

// The shell part follows a `sh -c` script the way the shell would run it, far enough to know the exact
// argv and environment of every command it starts: variables (from the container env, assignments,
// export, ${X:-default}), positional parameters ("$@" from the args after the script), quoting and word
// splitting on the default IFS, exec, && / ||, if/case/loops (an assignment made in a branch makes the
// variable unknown afterwards), subshells, functions. It does not execute anything: command substitution,
// arithmetic, sourced files and eval yield hidden content. Pathname expansion (globs) is not performed:
// a word in a java command line is taken as written.

var parsers = map[syntax.LangVariant]*sync.Pool{}

func init() {
	for _, l := range []syntax.LangVariant{syntax.LangPOSIX, syntax.LangBash, syntax.LangMirBSDKorn} {
		l := l
		parsers[l] = &sync.Pool{New: func() any { return syntax.NewParser(syntax.Variant(l)) }}
	}
}

// parsed memoizes parse: a webhook sees the same pod template (and script) for every replica. Parsed
// files are only read, so sharing them is safe. The cache is bounded by dropping it whole when full.
var parsed struct {
	sync.Mutex
	m map[parseKey]parseResult
}

type parseKey struct {
	src  string
	lang syntax.LangVariant
}

type parseResult struct {
	f   *syntax.File
	err error
}

const (
	maxParsed    = 512
	maxParsedLen = 4096 // longer scripts are rare; not caching them bounds the memory held
)

func parse(src string, lang syntax.LangVariant) (*syntax.File, error) {
	k := parseKey{src, lang}
	parsed.Lock()
	r, ok := parsed.m[k]
	parsed.Unlock()
	if ok {
		return r.f, r.err
	}
	f, err := parseUncached(src, lang)
	if len(src) > maxParsedLen {
		return f, err
	}
	parsed.Lock()
	if parsed.m == nil || len(parsed.m) >= maxParsed {
		parsed.m = make(map[parseKey]parseResult)
	}
	parsed.m[k] = parseResult{f, err}
	parsed.Unlock()
	return f, err
}

func parseUncached(src string, lang syntax.LangVariant) (f *syntax.File, err error) {
	pool := parsers[lang]
	p := pool.Get().(*syntax.Parser)
	defer func() {
		if r := recover(); r != nil {
			// A parser panic must not take the webhook down; a fresh parser replaces the broken one.
			f, err = nil, &syntax.ParseError{Text: "parser failure"}
			return
		}
		pool.Put(p)
	}()
	return p.Parse(strings.NewReader(src), "")
}

type shVar struct {
	t        text
	st       varState
	exported bool
}

type shell struct {
	a          *analysis
	name       string
	src        text
	parent     envView
	vars       map[string]shVar
	funcs      map[string]*syntax.Stmt
	arg0       text
	pos        []text
	posUnknown bool
	sourced    *hiddenInfo // set after ". file" or eval: variables not assigned since are unknown
	ifs        bool        // IFS was assigned: word splitting is not followed
	exited     bool
	cond       int // > 0 inside a branch that may not run
	bg         int // > 0 inside something that runs in the background
	depth      int
	ctx        runCtx
	litVia     string // "(sh -c script)"
	varVia     string // "via sh -c"
}

// shell starts `sh -c SCRIPT [ARG0 [ARGS...]]`; anything else (a script file) is just another command.
func (a *analysis) shell(name string, argv []text, env envView, ctx runCtx) {
	i, cflag, login := 1, false, false
	for i < len(argv) {
		s := argv[i].s
		if s == "--" || s == "-" {
			i++
			break
		}
		if len(s) < 2 || s[0] != '-' && s[0] != '+' {
			break
		}
		i++
		switch {
		case s == "--login":
			login = true
		case strings.HasPrefix(s, "--"):
		default:
			// A cluster such as -euo pipefail -c: every o/O takes the next argument as its option name.
			for _, f := range s[1:] {
				switch {
				case f == 'o' || f == 'O':
					i++
				case s[0] == '-' && f == 'c':
					cflag = true
				case s[0] == '-' && f == 'l':
					login = true
				}
			}
		}
	}
	if !cflag || i >= len(argv) {
		a.other(argv, env, ctx, name)
		return
	}
	script := argv[i]
	sh := &shell{a: a, name: name, src: script, parent: env, arg0: argv[0], depth: ctx.depth + 1, ctx: ctx}
	switch name {
	case "sh":
		sh.litVia, sh.varVia = "(sh -c script)", "via sh -c"
	case "bash":
		sh.litVia, sh.varVia = "(bash -c script)", "via bash -c"
	default:
		sh.litVia, sh.varVia = "("+name+" -c script)", "via "+name+" -c"
	}
	if i+1 < len(argv) {
		sh.arg0 = argv[i+1]
	}
	if i+2 < len(argv) {
		sh.pos = argv[i+2:]
	}
	if ctx.bg {
		sh.bg = 1
	}
	if login {
		// Decision: a login shell's profile files are system files that set PATH and the like; they are
		// not taken to set JVM options (a script's own ". file" is, see source).
		a.note("%s -l reads profile files, which are taken not to set JVM options", name)
	}
	if script.hasHidden() {
		a.unfollowable(&hiddenInfo{reason: script.hiddenWhy().reason, msg: "the " + name + " -c script is hidden: " + script.hiddenWhy().msg, loc: script.location(0)})
		return
	}
	lang := syntax.LangPOSIX
	switch name {
	case "bash":
		lang = syntax.LangBash
	case "ksh", "mksh":
		lang = syntax.LangMirBSDKorn
	}
	f, err := parse(script.s, lang)
	if err != nil && lang == syntax.LangPOSIX {
		// Many images' sh is bash or busybox, which accept bash syntax that strict POSIX parsing rejects.
		f, err = parse(script.s, syntax.LangBash)
	}
	if err != nil {
		a.unfollowable(&hiddenInfo{reason: ReasonUnparsable, msg: "the " + name + " -c script does not parse: " + err.Error(), loc: script.location(0)})
		return
	}
	sh.stmts(f.Stmts)
}

// unfollowable records a script nothing can be known about: it may start java with any options, or
// start the application's JVM while the visible one is a helper.
func (a *analysis) unfollowable(h *hiddenInfo) {
	a.records = append(a.records, record{argv: []string{string(hiddenByte)}})
	if a.incomplete == nil {
		a.incomplete = h
		a.note("%s", h.msg)
	}
}

func (s *shell) hiddenText(h *hiddenInfo) text {
	var b builder
	b.addHidden(h)
	return b.text()
}

// lookup is a variable as the script sees it.
func (s *shell) lookup(name string) (text, varState) {
	if v, ok := s.vars[name]; ok {
		return v.t, v.st
	}
	if s.sourced != nil {
		return s.hiddenText(s.sourced), varUnknown
	}
	return s.parent.get(name, false)
}

// get is the environment of a command the script starts: its exported variables.
func (s *shell) get(name string, jvm bool) (text, varState) {
	if v, ok := s.vars[name]; ok {
		if !v.exported && v.st != varUnknown {
			return text{}, varUnset
		}
		return v.t, v.st
	}
	if s.sourced != nil {
		return s.hiddenText(s.sourced), varUnknown
	}
	return s.parent.get(name, jvm)
}

func (s *shell) assign(name string, t text, st varState) {
	v, ok := s.vars[name]
	exported := v.exported
	if !ok {
		_, pst := s.parent.get(name, true)
		exported = pst != varUnset
	}
	s.setVar(name, shVar{t: t, st: st, exported: exported})
	s.a.shellNames = append(s.a.shellNames, name)
	if name == "IFS" {
		s.ifs = true
	}
}

func (s *shell) setVar(name string, v shVar) {
	if s.vars == nil {
		s.vars = map[string]shVar{}
	}
	s.vars[name] = v
}

func (s *shell) setUnknown(name string, h *hiddenInfo) { s.assign(name, s.hiddenText(h), varUnknown) }

// branch runs fn as code that may or may not run: whatever it changes is unknown afterwards.
func (s *shell) branch(fn func()) {
	saved, savedPos, savedExited := maps.Clone(s.vars), s.pos, s.exited
	s.cond++
	fn()
	s.cond--
	after, afterPos := s.vars, s.pos
	s.vars, s.pos, s.exited = saved, savedPos, savedExited
	h := &hiddenInfo{reason: ReasonUnparsable, msg: "set in a branch of the " + s.name + " -c script"}
	for name, v := range after {
		old, ok := saved[name]
		if !ok || old.st != v.st || old.t.s != v.t.s || old.exported != v.exported {
			s.setVar(name, shVar{t: s.hiddenText(h), st: varUnknown, exported: v.exported || old.exported})
		}
	}
	if !sameTexts(savedPos, afterPos) {
		s.posUnknown = true
	}
	// A ". file" inside the branch keeps s.sourced set: variables not assigned since stay unknown.
}

// subshell runs fn in a copy of the shell: nothing it assigns survives.
func (s *shell) subshell(fn func()) {
	saved, savedPos, savedSourced, savedExited, savedIFS := maps.Clone(s.vars), s.pos, s.sourced, s.exited, s.ifs
	fn()
	s.vars, s.pos, s.sourced, s.exited, s.ifs = saved, savedPos, savedSourced, savedExited, savedIFS
}

func sameTexts(a, b []text) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].s != b[i].s {
			return false
		}
	}
	return true
}

func (s *shell) stmts(list []*syntax.Stmt) {
	for _, st := range list {
		if s.exited {
			return
		}
		s.stmt(st)
	}
}

func (s *shell) stmt(st *syntax.Stmt) {
	if st == nil || !s.a.spend() {
		return
	}
	if st.Background || st.Coprocess || st.Disown {
		s.subshell(func() {
			s.bg++
			s.command(st.Cmd)
			s.bg--
		})
		return
	}
	s.command(st.Cmd)
}

func (s *shell) command(c syntax.Command) {
	switch c := c.(type) {
	case nil:
	case *syntax.CallExpr:
		s.call(c)
	case *syntax.DeclClause:
		s.decl(c.Variant.Value, c.Args)
	case *syntax.BinaryCmd:
		switch c.Op {
		case syntax.AndStmt, syntax.OrStmt:
			s.stmt(c.X)
			if !s.exited {
				s.branch(func() { s.stmt(c.Y) })
			}
		default: // pipelines: every part runs in a subshell
			s.subshell(func() { s.stmt(c.X) })
			s.subshell(func() { s.stmt(c.Y) })
		}
	case *syntax.IfClause:
		s.ifClause(c)
	case *syntax.WhileClause:
		s.branch(func() {
			s.stmts(c.Cond)
			s.stmts(c.Do)
		})
	case *syntax.ForClause:
		s.branch(func() {
			if wi, ok := c.Loop.(*syntax.WordIter); ok {
				for _, w := range wi.Items {
					s.words([]*syntax.Word{w})
				}
				s.setUnknown(wi.Name.Value, &hiddenInfo{reason: ReasonUnparsable, msg: "loop variable $" + wi.Name.Value})
			}
			s.stmts(c.Do)
		})
	case *syntax.CaseClause:
		// Which branch runs depends on the word and the patterns: Rewrite must not change them.
		r := record{argv: []string{"case"}}
		for _, f := range s.words([]*syntax.Word{c.Word}) {
			r.argv = append(r.argv, f.s)
		}
		for _, item := range c.Items {
			for _, p := range item.Patterns {
				r.argv = append(r.argv, s.joined(p).s)
			}
		}
		s.a.records = append(s.a.records, r)
		for _, item := range c.Items {
			s.branch(func() { s.stmts(item.Stmts) })
		}
	case *syntax.Block:
		s.stmts(c.Stmts)
	case *syntax.Subshell:
		s.subshell(func() { s.stmts(c.Stmts) })
	case *syntax.FuncDecl:
		if c.Name != nil {
			if s.funcs == nil {
				s.funcs = map[string]*syntax.Stmt{}
			}
			s.funcs[c.Name.Value] = c.Body
		}
	case *syntax.TimeClause:
		s.stmt(c.Stmt)
	case *syntax.CoprocClause:
		s.subshell(func() {
			s.bg++
			s.stmt(c.Stmt)
			s.bg--
		})
	case *syntax.TestClause:
		s.testClause(c)
	case *syntax.ArithmCmd, *syntax.LetClause, *syntax.TestDecl:
		// They start no command; assignments inside arithmetic are not followed.
	default:
		s.a.note("%s -c script: a %T is not followed", s.name, c)
	}
}

// testClause records what a [[ ... ]] test looks at, so that Rewrite cannot silently flip it; for
// [[ -n $X ]] and [[ -z $X ]] only emptiness matters, which Rewrite never changes.
func (s *shell) testClause(c *syntax.TestClause) {
	r := record{argv: []string{"[["}}
	if u, ok := c.X.(*syntax.UnaryTest); ok && (u.Op == syntax.TsEmpStr || u.Op == syntax.TsNempStr) {
		if w, ok := u.X.(*syntax.Word); ok {
			r.argv = append(r.argv, u.Op.String(), strconv.FormatBool(s.joined(w).s == ""))
			s.a.records = append(s.a.records, r)
			return
		}
	}
	syntax.Walk(c.X, func(n syntax.Node) bool {
		if w, ok := n.(*syntax.Word); ok {
			r.argv = append(r.argv, s.joined(w).s)
			return false
		}
		return true
	})
	s.a.records = append(s.a.records, r)
}

func (s *shell) ifClause(c *syntax.IfClause) {
	s.branch(func() {
		s.stmts(c.Cond)
		s.stmts(c.Then)
	})
	if e := c.Else; e != nil {
		s.branch(func() {
			if e.ThenPos.IsValid() { // elif
				s.ifClause(e)
			} else {
				s.stmts(e.Then)
			}
		})
	}
}

func (s *shell) call(c *syntax.CallExpr) {
	if len(c.Args) == 0 {
		for _, as := range c.Assigns {
			s.assignNode(as)
		}
		return
	}
	fields := s.words(c.Args)
	if len(fields) == 0 {
		for _, as := range c.Assigns {
			s.assignNode(as)
		}
		return
	}
	var env envView = s
	if len(c.Assigns) > 0 {
		o := overlayView{base: s, vars: map[string]text{}}
		for _, as := range c.Assigns {
			if as.Name != nil {
				o.vars[as.Name.Value] = s.assignValue(as)
			}
		}
		env = o
	}
	name := fields[0].s
	switch name {
	case "export", "readonly", "local", "declare", "typeset":
		s.declWords(name, c.Args[1:])
		return
	case "unset":
		for _, f := range fields[1:] {
			if !strings.HasPrefix(f.s, "-") {
				s.assign(f.s, text{}, varUnset)
			}
		}
		return
	case "set":
		s.set(fields[1:])
		return
	case "shift":
		n := 1
		if len(fields) > 1 {
			if v, err := strconv.Atoi(fields[1].s); err == nil && v >= 0 {
				n = v
			}
		}
		s.pos = s.pos[min(n, len(s.pos)):]
		return
	case ".", "source":
		file := ""
		if len(fields) > 1 {
			file = fields[1].s
		}
		s.source(&hiddenInfo{reason: ReasonUnparsable, msg: "variables may be set by the sourced file " + strings.ReplaceAll(file, string(hiddenByte), "…")})
		return
	case "eval":
		h := &hiddenInfo{reason: ReasonUnparsable, msg: "eval in the " + s.name + " -c script is not followed"}
		s.source(h)
		s.a.unfollowable(h)
		return
	case "exit", "return":
		if s.cond == 0 {
			s.exited = true
		}
		return
	case "exec":
		if len(fields) == 1 {
			return // only redirections
		}
	}
	if body, ok := s.funcs[name]; ok {
		if s.depth >= maxDepth {
			s.a.stop("shell functions nested too deep to follow")
			return
		}
		savedPos := s.pos
		s.pos = fields[1:]
		s.depth++
		s.stmt(body)
		s.depth--
		s.pos = savedPos
		return
	}
	s.a.run(fields, env, runCtx{bg: s.bg > 0, depth: s.depth, assumed: s.ctx.assumed})
	if name == "exec" && s.cond == 0 {
		s.exited = true
	}
}

// source makes every variable unknown: a sourced file or eval may set any of them.
func (s *shell) source(h *hiddenInfo) {
	s.sourced = h
	for name, v := range s.vars {
		s.setVar(name, shVar{t: s.hiddenText(h), st: varUnknown, exported: v.exported})
	}
}

func (s *shell) set(args []text) {
	for i := 0; i < len(args); i++ {
		a := args[i].s
		switch {
		case a == "--":
			s.pos = args[i+1:]
			return
		case a == "-o" || a == "+o":
			i++
		case strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+"):
		default:
			s.pos = args[i:]
			return
		}
	}
}

func validName(n string) bool {
	if n == "" || n[0] >= '0' && n[0] <= '9' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// declWords handles export/readonly/local... written as plain words (POSIX mode): NAME=value arguments
// are assignments (not split, as for declaration utilities), NAME alone marks it exported.
func (s *shell) declWords(variant string, words []*syntax.Word) {
	for _, w := range words {
		t := s.joined(w)
		eq := strings.IndexByte(t.s, '=')
		switch {
		case strings.HasPrefix(t.s, "-"):
		case eq > 0 && validName(t.s[:eq]):
			s.assign(t.s[:eq], t.slice(eq+1, len(t.s)), varSet)
			s.exportIf(variant, t.s[:eq])
		case validName(t.s):
			s.exportIf(variant, t.s)
		}
	}
}

// decl handles bash's declaration clauses.
func (s *shell) decl(variant string, args []*syntax.Assign) {
	for _, as := range args {
		if as.Name == nil {
			continue // a flag such as -x
		}
		if !as.Naked {
			s.assignNode(as)
		}
		s.exportIf(variant, as.Name.Value)
	}
}

func (s *shell) exportIf(variant, name string) {
	if variant != "export" {
		return
	}
	if v, ok := s.vars[name]; ok {
		v.exported = true
		s.setVar(name, v)
		return
	}
	if t, st := s.lookup(name); st != varUnset {
		s.setVar(name, shVar{t: t, st: st, exported: true})
	}
}

func (s *shell) assignNode(as *syntax.Assign) {
	if as.Name == nil {
		return
	}
	name := as.Name.Value
	if as.Array != nil || as.Index != nil {
		s.setUnknown(name, &hiddenInfo{reason: ReasonUnparsable, msg: "array variable $" + name})
		return
	}
	if old, st := s.lookup(name); as.Append && st == varUnknown {
		s.assign(name, old, varUnknown)
		return
	}
	s.assign(name, s.assignValue(as), varSet)
}

func (s *shell) assignValue(as *syntax.Assign) text {
	var t text
	if as.Value != nil {
		t = s.joined(as.Value)
	}
	if as.Append {
		old, st := s.lookup(as.Name.Value)
		if st == varUnknown {
			return old
		}
		var b builder
		b.addText(old, "", ref{})
		b.addText(t, "", ref{})
		t = b.text()
	}
	return t
}

// fieldsBuilder collects the fields (argv words) a word expands to.
type fieldsBuilder struct {
	out []text
	cur builder
	has bool // the current field exists (it has content, or quotes that make even "" a field)
	// The usual field is one piece of one text (a literal word, a whole variable value): it is kept as
	// a slice of that text until a second piece arrives, saving a copy.
	pend    text
	pending bool
}

func (f *fieldsBuilder) flush() {
	if f.pending {
		f.cur.addText(f.pend, "", ref{})
		f.pending = false
	}
}

// text returns the current field's content.
func (f *fieldsBuilder) text() text {
	if f.pending {
		f.pending = false
		return f.pend
	}
	return f.cur.text()
}

func (f *fieldsBuilder) end() {
	if f.has {
		f.out = append(f.out, f.text())
		f.has = false
	}
}

func (f *fieldsBuilder) add(t text, from, to int, via string) {
	if from >= to {
		return
	}
	if !f.has && !f.pending && f.cur.len() == 0 {
		f.pend, f.pending = t.slice(from, to), true
		for i := range f.pend.spans {
			if sp := &f.pend.spans[i]; sp.via == "" && via != "" && sp.ref.f != FieldNone {
				sp.via = via
			}
		}
	} else {
		f.flush()
		f.cur.add(t, from, to, via, ref{})
	}
	f.has = true
}

// split adds an unquoted expansion: runs of spaces, tabs and newlines (the default IFS) end fields.
func (f *fieldsBuilder) split(t text, via string) {
	s := t.s
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' {
			f.end()
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' {
			j++
		}
		f.add(t, i, j, via)
		i = j
	}
}

func (f *fieldsBuilder) hidden(h *hiddenInfo) {
	f.flush()
	f.cur.addHidden(h)
	f.has = true
}

// wctx is the context a word part is expanded in.
type wctx struct {
	quoted  bool // inside double quotes
	nosplit bool // an assignment value: no field splitting
	inExp   bool // inside ${X:-...}: literal text of the default is split like an expansion
}

// words expands command words to fields.
func (s *shell) words(ws []*syntax.Word) []text {
	var f fieldsBuilder
	for _, w := range ws {
		if !s.a.spend() {
			break
		}
		s.parts(w.Parts, &f, wctx{})
		f.end()
	}
	return f.out
}

// joined expands a word without field splitting (assignments).
func (s *shell) joined(w *syntax.Word) text {
	var f fieldsBuilder
	s.parts(w.Parts, &f, wctx{nosplit: true})
	return f.text()
}

func (s *shell) parts(parts []syntax.WordPart, f *fieldsBuilder, c wctx) {
	for _, p := range parts {
		switch p := p.(type) {
		case *syntax.Lit:
			s.lit(p, f, c)
		case *syntax.SglQuoted:
			f.has = true
			start, end := int(p.Left.Offset())+1, int(p.Right.Offset())
			if p.Dollar {
				start++
			}
			switch {
			case p.Dollar && strings.IndexByte(p.Value, '\\') >= 0:
				f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "$'...' quoting with escapes"})
			case start <= end && end <= len(s.src.s) && s.src.s[start:end] == p.Value:
				f.add(s.src, start, end, s.litVia)
			default:
				f.flush()
				f.cur.addSynth(p.Value)
			}
		case *syntax.DblQuoted:
			if len(p.Parts) != 1 || !s.isAt(p.Parts[0]) || len(s.pos) > 0 || s.posUnknown {
				f.has = true // "" is a field; "$@" with no positional parameters is not
			}
			if p.Dollar {
				f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "$\"...\" quoting"})
				continue
			}
			s.parts(p.Parts, f, wctx{quoted: true, nosplit: c.nosplit})
		case *syntax.ParamExp:
			s.param(p, f, c)
		case *syntax.CmdSubst:
			s.subshell(func() { s.stmts(p.Stmts) })
			f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "the output of a command substitution in the " + s.name + " -c script"})
		case *syntax.ProcSubst:
			s.subshell(func() { s.stmts(p.Stmts) })
			f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "a process substitution"})
		default:
			f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "a shell expansion not followed (arithmetic, brace or extended glob)"})
		}
	}
}

func (s *shell) isAt(p syntax.WordPart) bool {
	pe, ok := p.(*syntax.ParamExp)
	return ok && pe.Param != nil && pe.Param.Value == "@" && pe.Exp == nil && pe.Index == nil && !pe.Length && !pe.Excl
}

// lit adds literal script text, removing the backslashes the shell removes.
func (s *shell) lit(p *syntax.Lit, f *fieldsBuilder, c wctx) {
	from, to := int(p.ValuePos.Offset()), int(p.ValueEnd.Offset())
	if from > to || to > len(s.src.s) || s.src.s[from:to] != p.Value {
		f.flush()
		f.cur.addSynth(p.Value)
		f.has = f.has || p.Value != ""
		return
	}
	emit := func(a, b int) {
		if c.inExp && !c.quoted && !c.nosplit {
			f.split(s.src.slice(a, b), s.litVia)
		} else {
			f.add(s.src, a, b, s.litVia)
		}
	}
	src := s.src.s
	i := from
	for j := from; j < to; j++ {
		if src[j] != '\\' || j+1 >= to {
			continue
		}
		next := src[j+1]
		if c.quoted && next != '$' && next != '`' && next != '"' && next != '\\' && next != '\n' {
			j++ // the backslash stays
			continue
		}
		emit(i, j)
		if next == '\n' {
			i = j + 2 // line continuation
		} else {
			f.add(s.src, j+1, j+2, s.litVia) // the escaped byte, never split
			i = j + 2
		}
		j++
	}
	emit(i, to)
}

func (s *shell) param(p *syntax.ParamExp, f *fieldsBuilder, c wctx) {
	if p.Param == nil || p.Excl || p.Length || p.Width || p.IsSet || p.Slice != nil || p.Repl != nil || p.Index != nil ||
		p.Names != 0 || len(p.Modifiers) > 0 || p.Flags != nil || p.NestedParam != nil {
		f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "a ${...} expansion the analysis does not follow"})
		return
	}
	name := p.Param.Value
	if name == "@" || name == "*" {
		if p.Exp != nil {
			f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "a ${@...} expansion"})
			return
		}
		s.positional(f, c, name == "@")
		return
	}
	t, st := s.special(name)
	if st == varUnknown {
		if h := t.hiddenWhy(); h.loc.Field == FieldNone {
			// Point at the reference in the script.
			h2 := *h
			h2.loc = s.src.location(int(p.Pos().Offset()))
			if h2.loc.Via == "" && h2.loc.Field != FieldNone {
				h2.loc.Via = s.litVia
			}
			t = s.hiddenText(&h2)
		}
	}
	if p.Exp != nil {
		op := p.Exp.Op
		colon := op == syntax.DefaultUnsetOrNull || op == syntax.AssignUnsetOrNull || op == syntax.AlternateUnsetOrNull || op == syntax.ErrorUnsetOrNull
		present, known := st == varSet, st != varUnknown
		if colon && st == varSet {
			switch {
			case t.s == "":
				present = false
			case strings.Trim(t.s, string(hiddenByte)) == "":
				known = false // only hidden bytes: empty or not, nobody knows
			}
		}
		switch op {
		case syntax.DefaultUnset, syntax.DefaultUnsetOrNull, syntax.AssignUnset, syntax.AssignUnsetOrNull,
			syntax.AlternateUnset, syntax.AlternateUnsetOrNull, syntax.ErrorUnset, syntax.ErrorUnsetOrNull:
		default:
			f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "a ${" + name + "...} trimming expansion"})
			return
		}
		if !known {
			if st == varUnknown {
				f.hidden(t.hiddenWhy())
			} else {
				f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "${" + name + ":-...} of a hidden value"})
			}
			return
		}
		alternate := op == syntax.AlternateUnset || op == syntax.AlternateUnsetOrNull
		if alternate != present {
			// The value itself (or nothing for ${X:+...} when X is unset or null).
			if !alternate {
				s.emitValue(t, f, c)
			}
			return
		}
		if op == syntax.ErrorUnset || op == syntax.ErrorUnsetOrNull {
			if s.cond == 0 {
				s.exited = true
			}
			return
		}
		if p.Exp.Word != nil {
			s.parts(p.Exp.Word.Parts, f, wctx{quoted: c.quoted, nosplit: c.nosplit, inExp: true})
			if op == syntax.AssignUnset || op == syntax.AssignUnsetOrNull {
				s.assign(name, s.joined(p.Exp.Word), varSet)
			}
		} else if op == syntax.AssignUnset || op == syntax.AssignUnsetOrNull {
			s.assign(name, text{}, varSet)
		}
		return
	}
	if st == varUnset {
		return
	}
	s.emitValue(t, f, c)
}

func (s *shell) emitValue(t text, f *fieldsBuilder, c wctx) {
	if c.quoted || c.nosplit {
		f.add(t, 0, len(t.s), s.varVia)
		return
	}
	if s.ifs {
		f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "word splitting after IFS was changed"})
		return
	}
	f.split(t, s.varVia)
}

// special resolves a parameter name: positional, special or variable.
func (s *shell) special(name string) (text, varState) {
	switch {
	case name == "":
		return s.hiddenText(&hiddenInfo{reason: ReasonUnparsable, msg: "an empty parameter name"}), varUnknown
	case name == "0":
		return s.arg0, varSet
	case name == "#":
		if s.posUnknown {
			return s.hiddenText(&hiddenInfo{reason: ReasonUnparsable, msg: "$#"}), varUnknown
		}
		var b builder
		b.addSynth(strconv.Itoa(len(s.pos)))
		return b.text(), varSet
	case name[0] >= '1' && name[0] <= '9':
		if s.posUnknown {
			return s.hiddenText(&hiddenInfo{reason: ReasonUnparsable, msg: "positional parameter $" + name}), varUnknown
		}
		n, err := strconv.Atoi(name)
		if err != nil || n > len(s.pos) {
			return text{}, varUnset
		}
		return s.pos[n-1], varSet
	case !validName(name):
		return s.hiddenText(&hiddenInfo{reason: ReasonUnparsable, msg: "special parameter $" + name}), varUnknown
	}
	return s.lookup(name)
}

func (s *shell) positional(f *fieldsBuilder, c wctx, at bool) {
	if s.posUnknown {
		f.hidden(&hiddenInfo{reason: ReasonUnparsable, msg: "positional parameters changed in a branch"})
		return
	}
	for i, p := range s.pos {
		switch {
		case c.quoted && at && !c.nosplit:
			// "$@": every parameter is a field of its own, even an empty one.
			if i > 0 {
				f.has = true
				f.end()
			}
			f.has = true
			f.add(p, 0, len(p.s), s.varVia)
		case c.quoted || c.nosplit:
			if i > 0 {
				f.flush()
				f.cur.addSynth(" ")
			}
			f.has = true
			f.add(p, 0, len(p.s), s.varVia)
		default:
			if i > 0 {
				f.end()
			}
			s.emitValue(p, f, c)
		}
	}
}

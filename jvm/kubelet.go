package jvm

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reproduces what the kubelet does before the container starts (k8s.io/kubernetes v1.37.2):
//   - env values: pkg/kubelet/kubelet_pods.go makeEnvironmentVariables expands $(VAR) in each literal value
//     against the variables defined before it (envFrom first, then earlier env entries; a later duplicate
//     replaces an earlier one); valueFrom values are resolved but never expanded.
//   - command and args: kuberuntime_container.go calls ExpandContainerCommandAndArgs with the final, fully
//     resolved environment, so $(VAR) there sees every variable, also ones listed after it.
// The expansion itself follows third_party/forked/golang/expansion/expand.go byte for byte.

// envVal is a resolved variable of the container environment.
type envVal struct {
	t     text
	entry int // index in Container.Env of the entry that defined it
}

// kubeEnv is the container environment as the kubelet resolves it.
type kubeEnv struct {
	vars    map[string]envVal
	envFrom bool // names not in vars may still be defined by envFrom
}

func (e *kubeEnv) lookup(name string) (envVal, bool) {
	v, ok := e.vars[name]
	return v, ok
}

func resolveEnv(c Container) *kubeEnv {
	e := &kubeEnv{vars: make(map[string]envVal, len(c.Env)), envFrom: c.EnvFrom}
	lits := make([]span, len(c.Env)) // one allocation for every value without references
	for i, ev := range c.Env {
		r := ref{FieldEnv, i}
		var t text
		switch {
		case ev.FromSource:
			var b builder
			b.addHidden(&hiddenInfo{reason: ReasonValueFrom, msg: "env " + ev.Name + " comes from valueFrom",
				loc: Location{Field: FieldEnv, Index: i, Name: ev.Name}})
			t = b.text()
		case strings.IndexByte(ev.Value, '$') < 0:
			if ev.Value != "" {
				lits[i] = span{end: len(ev.Value), ref: r}
				t = text{s: ev.Value, spans: lits[i : i+1 : i+1]}
			}
		default:
			t = kubeExpand(ev.Value, r, e, "env "+ev.Name)
		}
		e.vars[ev.Name] = envVal{t: t, entry: i}
	}
	return e
}

// kubeExpand expands $(VAR) references in the source string s (field r, described as where) against env.
func kubeExpand(s string, r ref, env *kubeEnv, where string) text {
	src := literal(s, r)
	if strings.IndexByte(s, '$') < 0 {
		return src
	}
	var b builder
	checkpoint := 0
	for cursor := 0; cursor < len(s); cursor++ {
		if s[cursor] != '$' || cursor+1 >= len(s) {
			continue
		}
		b.add(src, checkpoint, cursor, "", ref{})
		rest := s[cursor+1:]
		advance := 0
		switch rest[0] {
		case '$':
			// "$$" is an escaped "$": the second one is what remains.
			b.add(src, cursor+1, cursor+2, "", ref{})
			advance = 1
		case '(':
			closer := -1
			for i := 1; i < len(rest); i++ {
				if rest[i] == ')' {
					closer = i
					break
				}
			}
			if closer < 0 {
				// An incomplete reference stays literal: "$(" and scanning goes on after the "(".
				b.add(src, cursor, cursor+2, "", ref{})
				advance = 1
				break
			}
			name := rest[1:closer]
			advance = closer + 1
			if v, ok := env.lookup(name); ok {
				b.addText(v.t, "via $("+name+") in "+where, r)
			} else if env.envFrom {
				b.addHidden(&hiddenInfo{reason: ReasonValueFrom, msg: "$(" + name + ") in " + where + " is not in env and may come from envFrom"})
			} else {
				// Unknown references stay as written.
				b.add(src, cursor, cursor+advance+1, "", ref{})
			}
		default:
			rn, size := utf8.DecodeRuneInString(rest)
			if rn == utf8.RuneError && size <= 1 {
				// The kubelet writes string(rune) here, which turns an invalid byte into U+FFFD.
				b.add(src, cursor, cursor+1, "", ref{})
				b.addSynth(string(utf8.RuneError))
				size = 1
			} else {
				b.add(src, cursor, cursor+1+size, "", ref{})
			}
			advance = size
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	b.add(src, checkpoint, len(s), "", ref{})
	return b.text()
}

// kubeArgv is the argv the container runtime receives: command then args, each expanded.
func kubeArgv(c Container, env *kubeEnv) []text {
	n := len(c.Command) + len(c.Args)
	argv := make([]text, 0, n)
	lits := make([]span, n) // one allocation for every argument without references
	add := func(s string, r ref, where func() string) {
		k := len(argv)
		switch {
		case s == "":
			argv = append(argv, text{})
		case strings.IndexByte(s, '$') < 0:
			lits[k] = span{end: len(s), ref: r}
			argv = append(argv, text{s: s, spans: lits[k : k+1 : k+1]})
		default:
			argv = append(argv, kubeExpand(s, r, env, where()))
		}
	}
	for i, s := range c.Command {
		add(s, ref{FieldCommand, i}, func() string { return "command[" + strconv.Itoa(i) + "]" })
	}
	for i, s := range c.Args {
		add(s, ref{FieldArgs, i}, func() string { return "args[" + strconv.Itoa(i) + "]" })
	}
	return argv
}

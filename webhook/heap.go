package webhook

import (
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/headroom-dev/headroom/internal/manifest"
	"github.com/headroom-dev/headroom/jvm"
)

// heapInfo is what the JVM of a container will use as its maximum heap, as far as the spec shows.
type heapInfo struct {
	// heap is package jvm's analysis, reduced to what jvm.Heap.MaxHeapFor reads: the effective settings
	// and the settings that may reach the JVM (hidden), without strings of the request body.
	heap jvm.Heap
	// certain is false when a setting of unknown value (valueFrom, an options file) may apply, so that
	// no heap size can be promised.
	certain bool
}

// effective is the heap the JVM sizes for a container limit of limit bytes (an upper bound when
// settings that may or may not reach the JVM are in the spec).
func (h heapInfo) effective(limit int64) int64 { return h.heap.MaxHeapFor(limit) }

// analyzeHeap reads the heap settings of a container (memoized, see heapMemo).
func analyzeHeap(c *corev1.Container) heapInfo {
	h := memo.hash(c, -1)
	if e, ok := memo.get(h, c, -1); ok {
		return e.info
	}
	info := analyze(c)
	memo.put(h, &heapEntry{c: cloneJVM(manifest.JVMContainer(c)), target: -1, info: info})
	return info
}

func analyze(c *corev1.Container) heapInfo {
	h := jvm.Analyze(manifest.JVMContainer(c))
	info := heapInfo{certain: len(h.Invalid) == 0,
		heap: jvm.Heap{JavaVisible: h.JavaVisible, MaxHeap: h.MaxHeap, Xms: h.Xms, MaxRAMPercentage: h.MaxRAMPercentage, MaxRAM: h.MaxRAM}}
	for _, o := range h.Hidden {
		// Settings that override the max heap: one of known size is bounded by MaxHeapFor, anything
		// else may be any size.
		if o.Kind != jvm.KindMaxHeap || o.Bytes <= 0 {
			info.certain = false
		}
	}
	for _, o := range h.Occurrences {
		if o.Hidden == "" || o.Invalid != "" {
			continue
		}
		known := o.Bytes > 0 || o.Percent > 0
		if known {
			info.heap.Occurrences = append(info.heap.Occurrences, jvm.Occurrence{Kind: o.Kind, Bytes: o.Bytes, Percent: o.Percent, Hidden: "may apply"})
		}
		// Without an explicit max heap, a percentage, MaxRAM or -Xms of unknown value may size the heap.
		switch o.Kind {
		case jvm.KindMaxRAMPercentage, jvm.KindMaxRAMFraction, jvm.KindMaxRAM, jvm.KindXms, jvm.KindInitialHeap, jvm.KindMinHeap:
			if !known && h.MaxHeap == 0 {
				info.certain = false
			}
		}
	}
	return info
}

// rewriteHeap sets the container's effective max heap to bytes through package jvm (memoized).
// It returns nil and no error when the heap already is that size. The error carries the jvm
// package's short machine reason and its message. The edit is shared: never modify it.
func rewriteHeap(c *corev1.Container, bytes int64) (*heapEdit, error) {
	h := memo.hash(c, bytes)
	if e, ok := memo.get(h, c, bytes); ok {
		return e.edit, e.err
	}
	edit, err := rewrite(c, bytes)
	memo.put(h, &heapEntry{c: cloneJVM(manifest.JVMContainer(c)), target: bytes, edit: edit.clone(), err: err})
	return edit, err
}

func rewrite(c *corev1.Container, bytes int64) (*heapEdit, error) {
	out, ch, err := jvm.Rewrite(manifest.JVMContainer(c), bytes)
	if err != nil {
		var cre *jvm.CannotRewriteError
		if errors.As(err, &cre) {
			return nil, fmt.Errorf("%s: %s", cre.Reason, cre.Message)
		}
		return nil, err
	}
	if !ch.Changed() {
		return nil, nil
	}
	envFrom := len(c.EnvFrom) > 0
	if len(out.Env) > len(c.Env) && envFrom {
		// Decision: a JAVA_TOOL_OPTIONS entry added to env hides the one envFrom may provide (env wins
		// over envFrom for the same name), and with it whatever that one carries (a -javaagent, system
		// properties): the container would start differently in more than its heap. Not done.
		return nil, errShadowsEnvFrom
	}
	e := &heapEdit{command: out.Command, args: out.Args, xmx: jvm.FormatSize(ch.NewMaxHeap), at: ch.Where.String()}
	if ch.OldMaxHeap > 0 {
		e.oldXmx = jvm.FormatSize(ch.OldMaxHeap)
	}
	var notes []string
	if ch.NewXms > 0 {
		notes = append(notes, fmt.Sprintf("-Xms lowered from %s to %s", jvm.FormatSize(ch.OldXms), jvm.FormatSize(ch.NewXms)))
	}
	if ch.Appended {
		e.uncertain = appendedMayLose(out, envFrom)
	}
	// Package jvm's caveats (e.g. that the image's own command line is assumed not to set the heap)
	// go into the annotation: they say what the new -Xmx depends on.
	e.note = strings.Join(append(notes, ch.Notes...), "; ")
	e.env = make([]envPair, len(out.Env))
	for i, ev := range out.Env {
		if i < len(c.Env) && c.Env[i].Name != ev.Name {
			return nil, fmt.Errorf("ambiguous: env %d renamed from %s to %s", i, c.Env[i].Name, ev.Name)
		}
		if i < len(c.Env) && c.Env[i].ValueFrom != nil && ev.Value != c.Env[i].Value {
			return nil, fmt.Errorf("value-from: env %s comes from a source", ev.Name)
		}
		e.env[i] = envPair{name: ev.Name, value: ev.Value}
	}
	return e, nil
}

// errShadowsEnvFrom: the rewrite would add a JAVA_TOOL_OPTIONS env entry to a container with envFrom.
var errShadowsEnvFrom = errors.New("envfrom: adding JAVA_TOOL_OPTIONS to env would hide the JAVA_TOOL_OPTIONS envFrom may set (e.g. a -javaagent)")

// appendedMayLose says why an -Xmx that Rewrite appended (no explicit size applied before) may not be
// the one the JVM uses, or "" when it wins for certain. Decision: it wins for certain when it is in
// _JAVA_OPTIONS (the highest level: FACTS.md B.1; an env entry also beats envFrom's variable of the same
// name), or when java is visible in command/args and the container has no envFrom. Otherwise it may lose
// to an -Xmx on the image ENTRYPOINT's command line (java not visible), which beats JAVA_TOOL_OPTIONS,
// or to _JAVA_OPTIONS / JDK_JAVA_OPTIONS from envFrom, which beat JAVA_TOOL_OPTIONS (and _JAVA_OPTIONS
// the command line). Then the heap is not known, and the limit must not be lowered on its account.
func appendedMayLose(out jvm.Container, envFrom bool) string {
	after := jvm.Analyze(out)
	level := jvm.Level(0)
	for _, o := range after.Occurrences {
		if o.Kind == jvm.KindMaxHeap && o.Hidden == "" && o.Invalid == "" {
			level = o.Level // the last one is the winner: occurrences are in the order the JVM reads them
		}
	}
	if level == jvm.LevelJavaOptions {
		return ""
	}
	var why []string
	if !after.JavaVisible {
		why = append(why, "java is not visible in command/args, and an -Xmx on the image's command line beats "+level.String())
	}
	if envFrom {
		why = append(why, "envFrom may set _JAVA_OPTIONS or JDK_JAVA_OPTIONS, which beat "+level.String())
	}
	return strings.Join(why, "; ")
}

// heapMemo remembers package jvm's answers, which depend only on a container's command, args
// and env (and the target size): the pods of one ReplicaSet share them, so after the first pod
// of a rollout or scale-up, sizing a JVM is a map lookup instead of parsing shell scripts and
// option strings. Bounded: it starts over when full.
type heapMemo struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[uint64]*heapEntry
}

const heapMemoSize = 4096

type heapEntry struct {
	c      jvm.Container // the input, compared in full on a hit
	target int64         // -1: an analysis
	info   heapInfo
	edit   *heapEdit
	err    error
}

var memo = &heapMemo{seed: maphash.MakeSeed(), m: map[uint64]*heapEntry{}}

func (m *heapMemo) hash(c *corev1.Container, target int64) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	list := func(tag byte, ss []string) {
		h.WriteByte(tag)
		for _, s := range ss {
			h.WriteString(s)
			h.WriteByte(0)
		}
	}
	list('c', c.Command)
	list('a', c.Args)
	h.WriteByte('e')
	for i := range c.Env {
		h.WriteString(c.Env[i].Name)
		h.WriteByte(0)
		h.WriteString(c.Env[i].Value)
		if c.Env[i].ValueFrom != nil {
			h.WriteByte(1)
		} else {
			h.WriteByte(0)
		}
	}
	if len(c.EnvFrom) > 0 {
		h.WriteByte('f')
	}
	var t [8]byte
	for i := range t {
		t[i] = byte(uint64(target) >> (8 * i))
	}
	h.Write(t[:])
	return h.Sum64()
}

func (m *heapMemo) get(h uint64, c *corev1.Container, target int64) (*heapEntry, bool) {
	m.mu.Lock()
	e, ok := m.m[h]
	m.mu.Unlock()
	if !ok || e.target != target || !sameContainer(&e.c, c) {
		return nil, false
	}
	return e, true
}

func (m *heapMemo) put(h uint64, e *heapEntry) {
	m.mu.Lock()
	if len(m.m) >= heapMemoSize {
		m.m = make(map[uint64]*heapEntry, heapMemoSize)
	}
	m.m[h] = e
	m.mu.Unlock()
}

// cloneJVM copies every string: the decoded ones are substrings of a whole request body, which
// the memo must not keep alive.
func cloneJVM(c jvm.Container) jvm.Container {
	out := jvm.Container{Command: cloneStrings(c.Command), Args: cloneStrings(c.Args), EnvFrom: c.EnvFrom}
	if c.Env != nil {
		out.Env = make([]jvm.EnvVar, len(c.Env))
		for i, e := range c.Env {
			out.Env[i] = jvm.EnvVar{Name: strings.Clone(e.Name), Value: strings.Clone(e.Value), FromSource: e.FromSource}
		}
	}
	return out
}

func cloneStrings(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

func (e *heapEdit) clone() *heapEdit {
	if e == nil {
		return nil
	}
	c := *e
	c.command, c.args = cloneStrings(e.command), cloneStrings(e.args)
	c.note, c.uncertain = strings.Clone(e.note), strings.Clone(e.uncertain)
	c.env = make([]envPair, len(e.env))
	for i, p := range e.env {
		c.env[i] = envPair{name: strings.Clone(p.name), value: strings.Clone(p.value)}
	}
	return &c
}

func sameContainer(j *jvm.Container, c *corev1.Container) bool {
	if !slices.Equal(j.Command, c.Command) || !slices.Equal(j.Args, c.Args) || j.EnvFrom != (len(c.EnvFrom) > 0) || len(j.Env) != len(c.Env) {
		return false
	}
	for i := range j.Env {
		e := &c.Env[i]
		if j.Env[i].Name != e.Name || j.Env[i].Value != e.Value || j.Env[i].FromSource != (e.ValueFrom != nil) {
			return false
		}
	}
	return true
}

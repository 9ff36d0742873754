package jvm

import (
	"strconv"
	"strings"
)

// EnvVar is one entry of a container's env list.
type EnvVar struct {
	Name  string
	Value string
	// FromSource: the value comes from valueFrom (ConfigMap, Secret, fieldRef...): it is invisible here and
	// cannot be edited in a pod.
	FromSource bool
}

// Container holds what decides a container's JVM options: command, args and env, in spec order.
type Container struct {
	Command []string
	Args    []string
	Env     []EnvVar
	// EnvFrom: the container also has envFrom sources, so a $(VAR) reference that env does not define may
	// still resolve. (Variables the JVM reads by itself are still taken as unset when env lacks them.)
	EnvFrom bool
}

// Location is where a heap setting lives in the container spec.
type Location struct {
	Field Field  // FieldCommand, FieldArgs or FieldEnv; FieldNone when the setting is made up or hidden
	Index int    // index in Command, Args or Env
	Name  string // the variable's name when Field is FieldEnv
	// Via says how the bytes reach the JVM when that is not directly: "via sh -c", "via $(JAVA_OPTS) in
	// args[2]", "(sh -c script)" for a literal inside a shell script.
	Via      string
	Appended bool // Rewrite added the setting here
}

// String is the short human form used in annotations and reports, e.g. "env JAVA_OPTS via sh -c",
// "args[3]", "JAVA_TOOL_OPTIONS (appended)".
func (l Location) String() string {
	var base string
	switch l.Field {
	case FieldEnv:
		if l.Appended {
			base = l.Name
		} else {
			base = "env " + l.Name
		}
	case FieldCommand, FieldArgs:
		base = l.Field.String() + "[" + strconv.Itoa(l.Index) + "]"
	default:
		if l.Via == "" {
			return "nowhere"
		}
		return strings.TrimPrefix(l.Via, "via ")
	}
	if l.Via != "" {
		base += " " + l.Via
	}
	if l.Appended {
		if l.Field == FieldEnv {
			base += " (appended)"
		} else {
			base += " (inserted)"
		}
	}
	return base
}

// Occurrence is one heap-related option as the JVM would read it.
type Occurrence struct {
	Option  string  // the option as the JVM receives it, e.g. "-Xmx2000m" (hidden bytes shown as "…")
	Kind    Kind    // what it sets
	Level   Level   // where the JVM reads it
	Bytes   int64   // the size, for size options that parse
	Percent float64 // for KindMaxRAMPercentage, and KindMaxRAMFraction converted (100/n)
	Where   Location
	// Invalid is why the JVM refuses to start with this option ("" when it is fine).
	Invalid string
	// Hidden is why the analysis cannot tell what this sets or whether the JVM sees it ("" when it can).
	Hidden string
}

// Heap is what a container's JVM will use for its heap, and where that comes from.
type Heap struct {
	// JavaVisible: command/args visibly start the java launcher (directly, through a wrapper, or in a
	// sh -c script). When false only JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and _JAVA_OPTIONS count.
	JavaVisible bool
	// Invocations is the number of java invocations that run an application (java -version and the
	// like do not count). Heap describes the last one, which is the one a script normally execs.
	Invocations int

	MaxHeap int64    // effective explicit max heap in bytes; 0 when no -Xmx/-XX:MaxHeapSize applies
	Where   Location // where MaxHeap is set

	Xms      int64 // effective initial/minimum heap (-Xms, -XX:InitialHeapSize, -XX:MinHeapSize); 0 if unset
	XmsWhere Location

	// MaxRAMPercentage sizes the heap when MaxHeap is 0 (0 here means the JVM default, 25).
	MaxRAMPercentage      float64
	MaxRAMPercentageWhere Location
	MaxRAM                int64 // -XX:MaxRAM when MaxHeap is 0 and it is set

	Occurrences []Occurrence // every heap-related option, in the order the JVM reads them
	// Hidden lists settings the analysis cannot see, or cannot tell reach the JVM, placed where they would
	// override MaxHeap. While it is not empty MaxHeap is only what the visible spec says.
	Hidden []Occurrence
	// Invalid lists options that stop the JVM from starting (e.g. -Xmx1.5g): report, never fix silently.
	Invalid []Occurrence
	Notes   []string
}

// Certain reports whether MaxHeap (or its absence) is exactly what the JVM will use.
func (h Heap) Certain() bool { return len(h.Hidden) == 0 && len(h.Invalid) == 0 }

// Change says what Rewrite changed.
type Change struct {
	OldMaxHeap int64    // 0 when no explicit size applied before
	NewMaxHeap int64    // always the requested size
	Where      Location // where the new size is now set
	Appended   bool     // -Xmx was added because no explicit size applied
	OldXms     int64    // the effective -Xms before, when it had to be lowered
	NewXms     int64    // the lowered value (0 when -Xms was left alone)
	XmsWhere   Location
	Edits      int // strings of the spec changed or added (several java invocations may need several)
	Notes      []string
}

// Changed reports whether Rewrite edited anything.
func (c Change) Changed() bool { return c.Edits > 0 }

// Reason is a short machine reason why Rewrite declined.
type Reason string

const (
	ReasonValueFrom   Reason = "value-from"          // the setting that matters comes from valueFrom/envFrom
	ReasonUnresolved  Reason = "unresolved-variable" // a shell variable the pod spec does not define may set it
	ReasonUnparsable  Reason = "unparsable-script"   // the script builds the options in a way not followed
	ReasonAmbiguous   Reason = "ambiguous"           // no single edit gives an exact, side-effect-free result
	ReasonInvalid     Reason = "invalid-option"      // an option already stops the JVM from starting
	ReasonOptionsFile Reason = "options-file"        // an @argfile or -XX:VMOptionsFile/Flags may set it
)

// CannotRewriteError is returned by Rewrite when it cannot make the heap exactly the requested size
// without guessing; the container is then returned unchanged.
type CannotRewriteError struct {
	Reason  Reason
	Message string
	Where   Location // the setting that blocked the rewrite, when there is one
}

func (e *CannotRewriteError) Error() string {
	return "cannot rewrite -Xmx (" + string(e.Reason) + "): " + e.Message
}

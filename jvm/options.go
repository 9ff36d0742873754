package jvm

import (
	"path"
	"strings"
)

// Kind is what a JVM option sets.
type Kind uint8

const (
	KindOther            Kind = iota // not a heap setting (only reported when it stops the JVM)
	KindMaxHeap                      // -Xmx<size> or -XX:MaxHeapSize=<size>: aliases, the last one wins
	KindXms                          // -Xms<size>: sets both MinHeapSize and InitialHeapSize
	KindInitialHeap                  // -XX:InitialHeapSize=<size>
	KindMinHeap                      // -XX:MinHeapSize=<size>
	KindMaxRAMPercentage             // -XX:MaxRAMPercentage=<pct>
	KindMaxRAMFraction               // -XX:MaxRAMFraction=<n> (deprecated): 100/n percent
	KindMaxRAM                       // -XX:MaxRAM=<size>: the memory the percentage applies to
	KindUnknown                      // content the analysis cannot see; it may set any of the above
)

func (k Kind) String() string {
	switch k {
	case KindMaxHeap:
		return "max-heap"
	case KindXms:
		return "xms"
	case KindInitialHeap:
		return "initial-heap"
	case KindMinHeap:
		return "min-heap"
	case KindMaxRAMPercentage:
		return "max-ram-percentage"
	case KindMaxRAMFraction:
		return "max-ram-fraction"
	case KindMaxRAM:
		return "max-ram"
	case KindUnknown:
		return "unknown"
	default:
		return "other"
	}
}

// Level is where the JVM reads an option; a higher level wins, and within a level the last one wins.
// OpenJDK 17, measured here (FACTS.md B.1): JAVA_TOOL_OPTIONS < JDK_JAVA_OPTIONS < command line <
// _JAVA_OPTIONS. A -XX:Flags=<file> settings file is read before all of them.
type Level uint8

const (
	LevelFlagsFile       Level = iota + 1 // -XX:Flags=<file>
	LevelJavaToolOptions                  // env JAVA_TOOL_OPTIONS, read by every JVM
	LevelJDKJavaOptions                   // env JDK_JAVA_OPTIONS, read by the java launcher (JDK 9+)
	LevelCommandLine                      // java's own arguments, in order
	LevelJavaOptions                      // env _JAVA_OPTIONS, read by every JVM, beats everything
)

func (l Level) String() string {
	switch l {
	case LevelFlagsFile:
		return "flags file"
	case LevelJavaToolOptions:
		return envJavaToolOptions
	case LevelJDKJavaOptions:
		return envJDKJavaOptions
	case LevelCommandLine:
		return "command line"
	case LevelJavaOptions:
		return envJavaOptions
	default:
		return "unknown"
	}
}

const (
	envJavaToolOptions = "JAVA_TOOL_OPTIONS"
	envJDKJavaOptions  = "JDK_JAVA_OPTIONS"
	envJavaOptions     = "_JAVA_OPTIONS"
)

// option is one JVM option as the JVM receives it, with provenance.
type option struct {
	t     text
	level Level
	seq   int // position within the invocation's options, in the order the JVM reads them
}

// heapPrefixes are matched the way HotSpot's parse_each_vm_init_arg does: by prefix, case-sensitive.
var heapPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"-Xmx", KindMaxHeap},
	{"-XX:MaxHeapSize=", KindMaxHeap},
	{"-Xms", KindXms},
	{"-XX:InitialHeapSize=", KindInitialHeap},
	{"-XX:MinHeapSize=", KindMinHeap},
	{"-XX:MaxRAMPercentage=", KindMaxRAMPercentage},
	{"-XX:MaxRAMFraction=", KindMaxRAMFraction},
	{"-XX:MaxRAM=", KindMaxRAM},
}

// classify returns the kind of a JVM option and the length of its name; ok is false for other options.
func classify(opt string) (k Kind, nameLen int, ok bool) {
	if len(opt) < 4 || opt[0] != '-' || opt[1] != 'X' {
		return KindOther, 0, false
	}
	for _, p := range heapPrefixes {
		if strings.HasPrefix(opt, p.prefix) {
			return p.kind, len(p.prefix), true
		}
	}
	return KindOther, 0, false
}

// optionsFile reports options that pull more options from a file the analysis cannot read.
func optionsFile(opt string) (Level, bool) {
	switch {
	case strings.HasPrefix(opt, "-XX:Flags="):
		return LevelFlagsFile, true
	case strings.HasPrefix(opt, "-XX:VMOptionsFile="):
		return 0, true // read in place
	}
	return 0, false
}

// isHeapClass reports options whose change Rewrite may make: the max heap and the initial/min heap.
func isHeapClass(k Kind) bool {
	return k == KindMaxHeap || k == KindXms || k == KindInitialHeap || k == KindMinHeap
}

// isCSpace is C isspace(), which HotSpot and the launcher use to split option variables.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// splitEnvOptions splits an option variable (JAVA_TOOL_OPTIONS, _JAVA_OPTIONS, JDK_JAVA_OPTIONS) the way
// HotSpot's Arguments::parse_options_buffer and the launcher's expand() do: on C whitespace, with '...'
// and "..." grouping (quotes removed, no escapes). An unmatched quote stops the JVM: bad is true.
func splitEnvOptions(t text) (toks []text, bad bool) {
	s := t.s
	i := 0
	for i < len(s) {
		for i < len(s) && isCSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		// The common token has no quotes: it is a plain slice of the value.
		j := i
		for j < len(s) && !isCSpace(s[j]) && s[j] != '\'' && s[j] != '"' {
			j++
		}
		if j == len(s) || isCSpace(s[j]) {
			toks = append(toks, t.slice(i, j))
			i = j
			continue
		}
		var b builder
		for i < len(s) && !isCSpace(s[i]) {
			if s[i] == '\'' || s[i] == '"' {
				q := s[i]
				j := strings.IndexByte(s[i+1:], q)
				if j < 0 {
					return toks, true
				}
				b.add(t, i+1, i+1+j, "", ref{})
				i += j + 2
				continue
			}
			j := i
			for j < len(s) && !isCSpace(s[j]) && s[j] != '\'' && s[j] != '"' {
				j++
			}
			b.add(t, i, j, "", ref{})
			i = j
		}
		toks = append(toks, b.text())
	}
	return toks, false
}

// launcherValueOptions take the next argument as their value (java.c IsWhiteSpaceOption, JDK 17).
var launcherValueOptions = map[string]bool{
	"-cp": true, "-classpath": true, "--class-path": true,
	"-p": true, "--module-path": true, "--upgrade-module-path": true, "--add-modules": true,
	"--enable-native-access": true, "--limit-modules": true, "--add-exports": true, "--add-opens": true,
	"--add-reads": true, "--patch-module": true, "--describe-module": true, "-d": true, "--source": true,
}

// launcherInfoOptions make java print something and exit without running an application (java.c
// ParseArguments returns right after them, so later arguments are ignored).
var launcherInfoOptions = map[string]bool{
	"-version": true, "--version": true, "-h": true, "-help": true, "--help": true, "-?": true, "-X": true,
	"--help-extra": true, "-fullversion": true, "--full-version": true, "--list-modules": true,
	"--validate-modules": true, "--describe-module": true, "-d": true,
}

// entryKind says what an argument in java's option position is.
type entryKind uint8

const (
	entryOption  entryKind = iota // a JVM or launcher option
	entryHidden                   // hidden content: may be options (JAVA_OPTS from valueFrom) or the main class
	entryArgFile                  // @file: options the analysis cannot read
)

type cmdEntry struct {
	t    text
	kind entryKind
}

// isTerminalOpt reports the launcher options that must not appear in JDK_JAVA_OPTIONS (args.c).
func isTerminalOpt(s string) bool {
	switch s {
	case "-jar", "-m", "--module", "--dry-run", "-h", "-?", "-help", "--help", "-X", "--help-extra",
		"-version", "--version", "-fullversion", "--full-version":
		return true
	}
	return strings.HasPrefix(s, "--module=")
}

// cmdline is java's argument list split the way the launcher (libjli args.c checkArg, java.c
// ParseArguments) does.
type cmdline struct {
	entries []cmdEntry // option position, in order
	rest    []text     // main class or -jar/-m target, then the application's arguments: never JVM options
	info    bool       // -version and friends: no application runs
}

func splitCmdline(argv []text) cmdline {
	var c cmdline
	noArgFiles := false
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		s := a.s
		switch {
		case strings.HasPrefix(s, string(hiddenByte)):
			// Assume options rather than the main class, so that it counts as something that may set the heap.
			c.entries = append(c.entries, cmdEntry{a, entryHidden})
		case s == "" || s[0] != '-' && (s[0] != '@' || noArgFiles || len(s) == 1 || s[1] == '@'):
			// The main class (an empty word, "@" and "@@x" included); everything after it is the app's.
			c.rest = argv[i:]
			return c
		case s[0] == '@':
			c.entries = append(c.entries, cmdEntry{a, entryArgFile})
		case s == "--disable-@files":
			noArgFiles = true
		case s == "-jar" || s == "-m" || s == "--module" || strings.HasPrefix(s, "--module="):
			c.rest = argv[i:]
			return c
		case launcherInfoOptions[s]:
			c.info = true
			return c
		case launcherValueOptions[s]:
			i++ // the value is never an option
		default:
			c.entries = append(c.entries, cmdEntry{a, entryOption})
		}
	}
	return c
}

// isJavaLauncher reports whether a command word runs the java launcher: "java", "/usr/bin/java",
// "$JAVA_HOME/bin/java" (the part after the last hidden byte must end in "/java").
func isJavaLauncher(word string) bool {
	if i := strings.LastIndexByte(word, hiddenByte); i >= 0 {
		return strings.HasSuffix(word[i+1:], "/java")
	}
	return path.Base(word) == "java" && !strings.HasSuffix(word, "/")
}

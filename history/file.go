package history

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/headroom-dev/headroom/sizing"
)

// FileOptions configure the file source.
type FileOptions struct {
	// Labels names the namespace, pod and container labels (default: namespace, pod, container).
	Labels Labels
	// Selector adds label matchers every series must match, e.g. `cluster="prod"`.
	Selector string
}

// File is a history source backed by an OpenMetrics text file with timestamps: the format
// `promtool tsdb create-blocks-from openmetrics` reads. Load evaluates the same queries as the
// Prometheus source (max_over_time over each step, aggregated by namespace, pod and container)
// on the file's samples, so both give the same samples for the same data.
type File struct {
	labels Labels
	extra  []matcher
	// series by metric name, then by namespace.
	series      map[string]map[string][]*fileSeries
	first, last int64
	samples     int
}

type fileSeries struct {
	labels map[string]string
	pts    sizing.Series
}

// OpenFile reads an OpenMetrics history file.
func OpenFile(path string, opts FileOptions) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open history file: %w", err)
	}
	defer f.Close()
	h, err := ReadFile(f, opts)
	if err != nil {
		return nil, fmt.Errorf("history file %s: %w", path, err)
	}
	return h, nil
}

// ReadFile parses OpenMetrics text with timestamps. Only the metrics headroom reads are kept.
// Samples without a timestamp, malformed lines and a missing "# EOF" (a truncated file) are errors.
func ReadFile(r io.Reader, opts FileOptions) (*File, error) {
	extra, err := parseSelector(opts.Selector)
	if err != nil {
		return nil, err
	}
	f := &File{labels: opts.Labels.withDefaults(), extra: extra, series: map[string]map[string][]*fileSeries{},
		first: math.MaxInt64, last: math.MinInt64}
	wanted := planMetrics()
	byKey := map[string]*fileSeries{}
	var prevKey []byte
	var prev *fileSeries
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	lineNo, eof := 0, false
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if eof {
			return nil, fmt.Errorf("line %d: content after # EOF", lineNo)
		}
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			eof = bytes.Equal(bytes.TrimRight(line, " \r"), []byte("# EOF"))
			continue
		}
		nameEnd := bytes.IndexAny(line, "{ ")
		if nameEnd <= 0 {
			return nil, fmt.Errorf("line %d: want `name{labels} value timestamp`", lineNo)
		}
		name := line[:nameEnd]
		rest := line[nameEnd:]
		key := name
		if rest[0] == '{' {
			end := labelsEnd(rest)
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated label set", lineNo)
			}
			key = line[:nameEnd+end+1]
			rest = rest[end+1:]
		}
		value, ts, err := parseValueTimestamp(rest)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		if !wanted[string(name)] {
			continue
		}
		s := prev
		if prev == nil || !bytes.Equal(key, prevKey) {
			s = byKey[string(key)]
			if s == nil {
				var ls map[string]string
				if len(key) > len(name) {
					if ls, err = parseLabels(key[len(name)+1 : len(key)-1]); err != nil {
						return nil, fmt.Errorf("line %d: %w", lineNo, err)
					}
				} else {
					ls = map[string]string{}
				}
				s = &fileSeries{labels: ls}
				byKey[string(key)] = s
				m := f.series[string(name)]
				if m == nil {
					m = map[string][]*fileSeries{}
					f.series[string(name)] = m
				}
				ns := ls[f.labels.Namespace]
				m[ns] = append(m[ns], s)
			}
			prev, prevKey = s, append(prevKey[:0], key...)
		}
		s.pts = append(s.pts, sizing.Point{T: ts, V: value})
		f.first, f.last = min(f.first, ts), max(f.last, ts)
		f.samples++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if !eof {
		return nil, errors.New("missing `# EOF` at the end: not OpenMetrics, or truncated")
	}
	for _, s := range byKey {
		s.pts = sortDedup(s.pts)
	}
	return f, nil
}

// labelsEnd returns the index of the '}' closing the label set that b starts with, or -1.
func labelsEnd(b []byte) int {
	inQuote := false
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '}':
			return i
		}
	}
	return -1
}

// parseLabels parses `a="x",b="y"` (OpenMetrics escapes \\ \" \n).
func parseLabels(b []byte) (map[string]string, error) {
	ls := map[string]string{}
	for i := 0; i < len(b); {
		for i < len(b) && (b[i] == ',' || b[i] == ' ') {
			i++
		}
		if i == len(b) {
			break
		}
		eqAt := bytes.IndexByte(b[i:], '=')
		if eqAt <= 0 || i+eqAt+1 >= len(b) || b[i+eqAt+1] != '"' {
			return nil, fmt.Errorf("invalid label set {%s}", b)
		}
		name := string(bytes.TrimSpace(b[i : i+eqAt]))
		i += eqAt + 2
		var v []byte
		for ; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' && i+1 < len(b) {
				i++
				switch b[i] {
				case 'n':
					v = append(v, '\n')
				default:
					v = append(v, b[i])
				}
				continue
			}
			v = append(v, b[i])
		}
		if i >= len(b) {
			return nil, fmt.Errorf("invalid label set {%s}: unterminated value", b)
		}
		i++
		ls[name] = string(v)
	}
	return ls, nil
}

// parseValueTimestamp parses " value timestamp [# exemplar]"; the timestamp is in seconds.
func parseValueTimestamp(b []byte) (float64, int64, error) {
	fields := bytes.Fields(b)
	if len(fields) < 2 || len(fields) > 2 && fields[2][0] != '#' {
		if len(fields) == 1 {
			return 0, 0, errors.New("sample without a timestamp: history needs timestamped samples")
		}
		return 0, 0, fmt.Errorf("want `value timestamp`, got %q", b)
	}
	v, err := strconv.ParseFloat(string(fields[0]), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid value %q", fields[0])
	}
	ts, err := strconv.ParseFloat(string(fields[1]), 64)
	if err != nil || math.IsNaN(ts) || math.IsInf(ts, 0) {
		return 0, 0, fmt.Errorf("invalid timestamp %q (want Unix seconds)", fields[1])
	}
	return v, int64(math.Round(ts * 1000)), nil
}

// sortDedup sorts points by time and keeps the last of equal timestamps.
func sortDedup(s sizing.Series) sizing.Series {
	if !slices.IsSortedFunc(s, func(a, b sizing.Point) int { return cmpInt(a.T, b.T) }) {
		sort.SliceStable(s, func(i, j int) bool { return s[i].T < s[j].T })
	}
	out := s[:0]
	for _, p := range s {
		if n := len(out); n > 0 && out[n-1].T == p.T {
			out[n-1] = p
			continue
		}
		out = append(out, p)
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Start and End are the first and last sample times in the file (zero for an empty file).
func (f *File) Start() time.Time { return f.timeOf(f.first) }

// End is the last sample time: the default end of a window read from this file.
func (f *File) End() time.Time { return f.timeOf(f.last) }

func (f *File) timeOf(ms int64) time.Time {
	if f.samples == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Samples is the number of samples kept from the file.
func (f *File) Samples() int { return f.samples }

func (f *File) matches(s *fileSeries, ms []matcher) bool {
	for _, m := range ms {
		if !m.matches(s.labels[m.name]) {
			return false
		}
	}
	return true
}

// Namespaces lists the namespaces with container_memory_rss samples of a container in the window.
func (f *File) Namespaces(_ context.Context, w Window) ([]string, error) {
	ms := append([]matcher{{name: f.labels.Container, op: "!=", value: ""}, {name: f.labels.Container, op: "!=", value: "POD"}}, f.extra...)
	var out []string
	for ns, ss := range f.series["container_memory_rss"] {
		for _, s := range ss {
			if ns != "" && f.matches(s, ms) && inWindow(s.pts, w.Start.UnixMilli(), w.End.UnixMilli()) {
				out = append(out, ns)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func inWindow(pts sizing.Series, from, to int64) bool {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T >= from })
	return i < len(pts) && pts[i].T <= to
}

// Load evaluates the query plan on the file for one namespace.
func (f *File) Load(ctx context.Context, namespace string, w Window) (*Namespace, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := newRaw()
	start, step := w.Start.UnixMilli(), w.Step.Milliseconds()
	n := w.Points()
	for _, q := range rangeQueries {
		ms := selectorFor(f.labels, namespace, q.match, q.cadvisor, f.extra)
		out := map[seriesKey][]float64{}
		for _, metric := range q.metrics {
			alt := map[seriesKey][]float64{}
			for _, s := range f.series[metric][namespace] {
				if !f.matches(s, ms) {
					continue
				}
				k := seriesKey{s.labels[f.labels.Pod], s.labels[f.labels.Container]}
				own := maxOverSteps(s.pts, start, step, n)
				vals := alt[k]
				if vals == nil {
					alt[k] = own
					continue
				}
				for i, v := range own {
					switch {
					case math.IsNaN(v):
					case math.IsNaN(vals[i]):
						vals[i] = v
					case q.agg == "sum":
						vals[i] += v
					default:
						vals[i] = max(vals[i], v)
					}
				}
			}
			// `or`: a later alternative fills only label sets and timestamps the earlier ones lack.
			for k, vals := range alt {
				cur := out[k]
				if cur == nil {
					out[k] = vals
					continue
				}
				for i, v := range vals {
					if math.IsNaN(cur[i]) {
						cur[i] = v
					}
				}
			}
		}
		for k, vals := range out {
			var pts sizing.Series
			for i, v := range vals {
				if !math.IsNaN(v) {
					pts = append(pts, sizing.Point{T: start + int64(i)*step, V: v})
				}
			}
			if len(pts) > 0 {
				r.appendRange(q.key, k, pts)
			}
		}
	}
	from, to := start, w.End.UnixMilli()
	for _, q := range metaQueries {
		by := q.byLabels(f.labels)[1:]
		ms := selectorFor(f.labels, namespace, nil, false, f.extra)
		rows := map[string]*metaRow{}
		var order []string
		for _, s := range f.series[q.metric][namespace] {
			if !f.matches(s, ms) {
				continue
			}
			v, ok := maxIn(s.pts, from, to)
			if !ok {
				continue
			}
			vals := make([]string, len(by))
			for i, b := range by {
				vals[i] = s.labels[b]
			}
			key := fmt.Sprintf("%q", vals)
			if row := rows[key]; row != nil {
				row.value = max(row.value, v)
				continue
			}
			rows[key] = &metaRow{labels: vals, value: v}
			order = append(order, key)
		}
		sort.Strings(order)
		for _, k := range order {
			r.meta[q.key] = append(r.meta[q.key], *rows[k])
		}
	}
	return assemble(namespace, w, r), nil
}

// maxOverSteps evaluates max_over_time(series[step]) at start + i*step for i in [0, n): each
// sample counts at the first evaluation time at or after it, i.e. ranges are (t-step, t].
func maxOverSteps(pts sizing.Series, start, step int64, n int) []float64 {
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = math.NaN()
	}
	lo := start - step
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T > lo })
	for ; i < len(pts); i++ {
		d := pts[i].T - start
		k := int(d / step)
		if d > 0 && d%step != 0 {
			k++
		}
		if k >= n {
			break
		}
		if v := pts[i].V; math.IsNaN(vals[k]) || v > vals[k] {
			vals[k] = v
		}
	}
	return vals
}

// maxIn returns the largest value with from < T <= to.
func maxIn(pts sizing.Series, from, to int64) (float64, bool) {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T > from })
	m, ok := math.Inf(-1), false
	for ; i < len(pts) && pts[i].T <= to; i++ {
		m, ok = max(m, pts[i].V), true
	}
	return m, ok
}

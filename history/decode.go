package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/sizing"
)

// Result types of the plan's queries.
const (
	resultMatrix = "matrix" // range queries
	resultVector = "vector" // instant queries
)

// response is one decoded answer of /api/v1/query or /api/v1/query_range.
type response struct {
	status, errorType, err string
	// warnings mean the data may be incomplete (a Thanos store, a Mimir ingester or a remote-read
	// endpoint did not answer); infos are remarks beside a complete answer and are not kept.
	warnings []string
	partial  bool // VictoriaMetrics' "isPartial": some vmstorage nodes did not answer
	haveData bool
	// resultType is the type the server said it returned; series are its series (matrix) or
	// samples (vector, one point each) with the values of the labels asked for.
	resultType string
	series     []resultSeries
}

// resultSeries is one series of a matrix or one sample of a vector.
type resultSeries struct {
	labels []string      // values of decoder.labels, "" when absent
	points sizing.Series // T in milliseconds
}

// errNativeHistogram: history reads float samples of gauges and counters only; a histogram sample in
// the answer means a query matched something it was not written for.
var errNativeHistogram = errors.New("native histogram samples in the result: history reads float samples only")

// decoder reads a response from a stream with jsontext, token by token: the envelope, then each
// series' labels and samples straight into sizing.Series. Unlike client_golang's
// api/prometheus/v1 it never holds the body, a model.Matrix or a label map: only the points kept,
// and the values of the labels asked for.
type decoder struct {
	dec *jsontext.Decoder
	// want is the result type asked for (resultMatrix or resultVector); with "" the data of the
	// response is skipped (error responses).
	want   string
	labels []string
	// scratch collects a series' points; each series keeps an exact-size copy, so a pod that
	// ran for a day of the week holds a day of points, not a week's capacity.
	scratch sizing.Series
}

func newDecoder(r io.Reader, want string, labels []string, pointsHint int) *decoder {
	return &decoder{dec: jsontext.NewDecoder(r), want: want, labels: labels, scratch: make(sizing.Series, 0, pointsHint)}
}

// decode reads the whole response; it fails on anything Prometheus would not send: bad JSON,
// trailing data, a key repeated, a result of the wrong type, or native histograms.
func (d *decoder) decode() (*response, error) {
	res := &response{}
	if err := d.begin(jsontext.BeginObject, "response"); err != nil {
		return nil, err
	}
	for d.dec.PeekKind() == '"' {
		name, err := d.name(envelopeKeys)
		if err != nil {
			return nil, err
		}
		switch name {
		case "status":
			res.status, err = d.str()
		case "errorType":
			res.errorType, err = d.str()
		case "error":
			res.err, err = d.str()
		case "warnings":
			res.warnings, err = d.strs()
		case "infos":
			err = d.dec.SkipValue()
		case "isPartial":
			res.partial, err = d.boolean()
		case "data":
			switch {
			case d.dec.PeekKind() == 'n': // beside an error, perhaps
				_, err = d.dec.ReadToken()
			case d.want == "":
				res.haveData = true
				err = d.dec.SkipValue()
			default:
				res.haveData = true
				err = d.data(res)
			}
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(jsontext.EndObject); err != nil {
		return nil, err
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return nil, fmt.Errorf("data after the response object: %w", orUnexpected(err))
	}
	return res, nil
}

var (
	envelopeKeys = []string{"status", "errorType", "error", "warnings", "infos", "isPartial", "data"}
	dataKeys     = []string{"resultType", "result"}
	seriesKeys   = []string{"metric", "values", "value", "histograms", "histogram"}
)

// data reads {"resultType": ..., "result": [...]}. Prometheus writes resultType first; should a
// server write it last, the result is decoded by its shape and checked at the end.
func (d *decoder) data(res *response) error {
	if err := d.begin(jsontext.BeginObject, "data"); err != nil {
		return err
	}
	haveResult := false
	for d.dec.PeekKind() == '"' {
		name, err := d.name(dataKeys)
		if err != nil {
			return err
		}
		switch name {
		case "resultType":
			if res.resultType, err = d.str(); err == nil && res.resultType != d.want {
				return wrongType(d.want, res.resultType)
			}
		case "result":
			haveResult = true
			err = d.result(res)
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	if err := d.end(jsontext.EndObject); err != nil {
		return err
	}
	switch {
	case res.resultType == "":
		return errors.New("data without resultType")
	case !haveResult:
		return errors.New("data without result")
	}
	return nil
}

func wrongType(want, got string) error {
	return fmt.Errorf("want a %s, got %q", want, got)
}

// result reads the array of series (matrix) or samples (vector).
func (d *decoder) result(res *response) error {
	if err := d.begin(jsontext.BeginArray, "result"); err != nil {
		return err
	}
	for d.dec.PeekKind() == '{' {
		s, err := d.oneSeries()
		if err != nil {
			return err
		}
		res.series = append(res.series, s)
	}
	return d.end(jsontext.EndArray)
}

// oneSeries reads {"metric": {...}, "values": [[t, "v"], ...]} or {"metric": {...}, "value": [t, "v"]}.
func (d *decoder) oneSeries() (resultSeries, error) {
	s := resultSeries{labels: make([]string, len(d.labels))}
	if _, err := d.dec.ReadToken(); err != nil {
		return s, err
	}
	var haveMetric, haveValues, haveValue bool
	for d.dec.PeekKind() == '"' {
		name, err := d.name(seriesKeys)
		if err != nil {
			return s, err
		}
		switch name {
		case "metric":
			haveMetric = true
			err = d.metric(s.labels)
		case "values":
			if d.want != resultMatrix {
				return s, wrongType(d.want, "matrix")
			}
			haveValues = true
			s.points, err = d.values()
		case "value":
			if d.want != resultVector {
				return s, wrongType(d.want, "vector")
			}
			haveValue = true
			var p sizing.Point
			if p, err = d.pair(); err == nil {
				s.points = sizing.Series{p}
			}
		case "histograms", "histogram":
			return s, errNativeHistogram
		default:
			err = d.dec.SkipValue()
		}
		if err != nil {
			return s, err
		}
	}
	if err := d.end(jsontext.EndObject); err != nil {
		return s, err
	}
	switch {
	case !haveMetric:
		return s, errors.New("series without metric")
	case d.want == resultVector && !haveValue:
		return s, errors.New("sample without value")
	case d.want == resultMatrix && !haveValues:
		return s, errors.New("series without values")
	}
	return s, nil
}

// metric reads a label set, keeping the values of the labels asked for.
func (d *decoder) metric(out []string) error {
	if err := d.begin(jsontext.BeginObject, "metric"); err != nil {
		return err
	}
	for d.dec.PeekKind() == '"' {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		i := d.labelIndex(raw)
		if i < 0 {
			if err := d.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		name := d.labels[i]
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		if v.Kind() != '"' {
			return fmt.Errorf("label %s: want a string, got %s", name, v.Kind())
		}
		if out[i], err = unquote(v); err != nil {
			return err
		}
		for j := i + 1; j < len(d.labels); j++ { // a label asked for twice
			if d.labels[j] == name {
				out[j] = out[i]
			}
		}
	}
	return d.end(jsontext.EndObject)
}

// labelIndex returns the first position of a quoted label name in d.labels, or -1.
func (d *decoder) labelIndex(quoted []byte) int {
	name := quoted[1 : len(quoted)-1]
	var buf [64]byte
	if bytes.IndexByte(name, '\\') >= 0 {
		name, _ = jsontext.AppendUnquote(buf[:0], quoted)
	}
	for i := range d.labels {
		if string(name) == d.labels[i] {
			return i
		}
	}
	return -1
}

// values reads [[t, "v"], ...] into an exact-size series.
func (d *decoder) values() (sizing.Series, error) {
	if err := d.begin(jsontext.BeginArray, "values"); err != nil {
		return nil, err
	}
	d.scratch = d.scratch[:0]
	for d.dec.PeekKind() == '[' {
		p, err := d.pair()
		if err != nil {
			return nil, err
		}
		d.scratch = append(d.scratch, p)
	}
	if err := d.end(jsontext.EndArray); err != nil {
		return nil, err
	}
	if len(d.scratch) == 0 {
		return nil, nil
	}
	out := make(sizing.Series, len(d.scratch))
	copy(out, d.scratch)
	return out, nil
}

// pair reads [t, "v"]: t in seconds with a millisecond fraction, v a float in a string ("NaN",
// "+Inf" and "-Inf" included).
func (d *decoder) pair() (sizing.Point, error) {
	var p sizing.Point
	if err := d.begin(jsontext.BeginArray, "sample"); err != nil {
		return p, err
	}
	raw, err := d.dec.ReadValue()
	if err != nil {
		return p, err
	}
	if raw.Kind() != '0' {
		return p, fmt.Errorf("sample timestamp: want a number, got %s", raw.Kind())
	}
	if p.T, err = parseTimestamp(raw); err != nil {
		return p, err
	}
	if raw, err = d.dec.ReadValue(); err != nil {
		return p, err
	}
	if raw.Kind() != '"' {
		return p, fmt.Errorf("sample value: want a string, got %s", raw.Kind())
	}
	if p.V, err = parseValue(raw); err != nil {
		return p, err
	}
	if d.dec.PeekKind() != ']' {
		return p, errors.New("sample: want [timestamp, value]")
	}
	_, err = d.dec.ReadToken()
	return p, err
}

// parseTimestamp converts Prometheus' seconds ("1700000000", "1700000000.5", "-0.250") to
// milliseconds exactly as model.Time does, without allocating in the common case.
func parseTimestamp(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	i := 0
	if neg {
		i = 1
	}
	var sec, frac, fracDigits int64
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		sec = sec*10 + int64(b[i]-'0')
	}
	intDigits := i - start
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && fracDigits < 3; i++ {
			frac = frac*10 + int64(b[i]-'0')
			fracDigits++
		}
	}
	if i != len(b) || intDigits == 0 || intDigits > 18 || b[len(b)-1] == '.' {
		// Exponents, more than three decimals or more than 18 digits: rare enough for
		// client_golang's own parser, whose results (and quirks) history keeps.
		var t model.Time
		if err := t.UnmarshalJSON(b); err != nil {
			return 0, fmt.Errorf("sample timestamp %s: %w", b, err)
		}
		return int64(t), nil
	}
	for ; fracDigits < 3; fracDigits++ {
		frac *= 10
	}
	if neg {
		sec, frac = -sec, -frac
	}
	return sec*1000 + frac, nil
}

// parseValue reads a quoted float; strconv accepts Prometheus' NaN, +Inf and -Inf. Memory is
// counted in whole bytes: plain integers of up to 15 digits are exact in a float64 and are
// converted directly, which is what ParseFloat would return, at a fraction of its cost.
func parseValue(quoted []byte) (float64, error) {
	s := quoted[1 : len(quoted)-1]
	if n := len(s); n > 0 && n <= 15 {
		var v int64
		i := 0
		for ; i < n && s[i] >= '0' && s[i] <= '9'; i++ {
			v = v*10 + int64(s[i]-'0')
		}
		if i == n {
			return float64(v), nil
		}
	}
	var buf [64]byte
	if bytes.IndexByte(s, '\\') >= 0 {
		var err error
		if s, err = jsontext.AppendUnquote(buf[:0], quoted); err != nil {
			return 0, err
		}
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %s: %w", quoted, err)
	}
	return v, nil
}

func unquote(quoted []byte) (string, error) {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	b, err := jsontext.AppendUnquote(nil, quoted)
	return string(b), err
}

// name reads an object member name. A name that matches a known one only when case is ignored is
// refused: encoding/json (client_golang's envelope decoder) would take it for the known one.
func (d *decoder) name(known []string) (string, error) {
	raw, err := d.dec.ReadValue()
	if err != nil {
		return "", err
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		for _, k := range known {
			if string(raw[1:len(raw)-1]) == k {
				return k, nil // without allocating: this runs for every series
			}
		}
	}
	name, err := unquote(raw)
	if err != nil {
		return "", err
	}
	for _, k := range known {
		if name == k {
			return k, nil
		}
	}
	for _, k := range known {
		if strings.EqualFold(name, k) {
			return "", fmt.Errorf("unexpected key %q (want %q)", name, k)
		}
	}
	return name, nil
}

func (d *decoder) str() (string, error) {
	raw, err := d.dec.ReadValue()
	if err != nil {
		return "", err
	}
	if raw.Kind() != '"' {
		return "", fmt.Errorf("want a string, got %s", raw.Kind())
	}
	return unquote(raw)
}

func (d *decoder) strs() ([]string, error) {
	if d.dec.PeekKind() == 'n' {
		_, err := d.dec.ReadToken()
		return nil, err
	}
	if err := d.begin(jsontext.BeginArray, "list"); err != nil {
		return nil, err
	}
	var out []string
	for d.dec.PeekKind() == '"' {
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, d.end(jsontext.EndArray)
}

func (d *decoder) boolean() (bool, error) {
	t, err := d.dec.ReadToken()
	if err != nil {
		return false, err
	}
	switch t.Kind() {
	case 't':
		return true, nil
	case 'f', 'n':
		return false, nil
	}
	return false, fmt.Errorf("want a boolean, got %s", t.Kind())
}

// begin reads the opening token of an object or array.
func (d *decoder) begin(want jsontext.Token, what string) error {
	t, err := d.dec.ReadToken()
	if err != nil {
		return orUnexpected(err)
	}
	if t.Kind() != want.Kind() {
		return fmt.Errorf("%s: want %s, got %s", what, want.Kind(), t.Kind())
	}
	return nil
}

// end reads the closing token of the current object or array; anything else is an error
// (jsontext reports the syntax error, or the unexpected kind is named).
func (d *decoder) end(want jsontext.Token) error {
	t, err := d.dec.ReadToken()
	if err != nil {
		return orUnexpected(err)
	}
	if t.Kind() != want.Kind() {
		return fmt.Errorf("want %s, got %s", want.Kind(), t.Kind())
	}
	return nil
}

// orUnexpected turns io.EOF (a body that ends early) into io.ErrUnexpectedEOF.
func orUnexpected(err error) error {
	if err == io.EOF || err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// apiError turns a decoded response into client_golang's error type, so that retries treat it as
// before: status "error" carries the server's errorType ("bad_data", "timeout", ...).
func (r *response) apiError() error {
	if r.status == "success" {
		return nil
	}
	if r.status != "error" {
		return &v1.Error{Type: v1.ErrBadResponse, Msg: fmt.Sprintf("unexpected status %q", r.status)}
	}
	return &v1.Error{Type: v1.ErrorType(r.errorType), Msg: r.err}
}

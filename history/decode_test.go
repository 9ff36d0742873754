package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/sizing"
)

// promSeries is one series (or, with one point, one sample) of a response written by promBody.
type promSeries struct {
	labels map[string]string
	points sizing.Series
}

// promBody writes a response body as Prometheus' web API writes it (2.42 and 3.x alike): labels
// sorted by name, timestamps in seconds with up to three decimals, values as strings in 'f' form
// ('e' below 1e-6 and from 1e21), "NaN", "+Inf" and "-Inf".
func promBody(resultType string, series []promSeries, warnings, infos []string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","data":{"resultType":"` + resultType + `","result":[`)
	for i, s := range series {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"metric":{`)
		names := make([]string, 0, len(s.labels))
		for n := range s.labels {
			names = append(names, n)
		}
		slices.Sort(names)
		for j, n := range names {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, n)
			b.WriteByte(':')
			writeJSONString(&b, s.labels[n])
		}
		b.WriteString(`},`)
		if resultType == resultVector {
			b.WriteString(`"value":`)
			writePair(&b, s.points[0])
		} else {
			b.WriteString(`"values":[`)
			for j, p := range s.points {
				if j > 0 {
					b.WriteByte(',')
				}
				writePair(&b, p)
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	for _, l := range []struct {
		key  string
		list []string
	}{{"warnings", warnings}, {"infos", infos}} {
		if len(l.list) > 0 {
			b.WriteString(`,"` + l.key + `":`)
			j, _ := json.Marshal(l.list)
			b.Write(j)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	j, _ := json.Marshal(s)
	b.Write(j)
}

func writePair(b *bytes.Buffer, p sizing.Point) {
	b.WriteByte('[')
	t := p.T
	if t < 0 {
		b.WriteByte('-')
		t = -t
	}
	b.WriteString(strconv.FormatInt(t/1000, 10))
	if f := t % 1000; f != 0 {
		fmt.Fprintf(b, ".%03d", f)
	}
	b.WriteString(`,"`)
	format := byte('f')
	if a := math.Abs(p.V); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b.Write(strconv.AppendFloat(nil, p.V, format, -1, 64))
	b.WriteString(`"]`)
}

// decodeStreaming is the new path on a 200 response.
func decodeStreaming(body []byte, want string, labels []string, points int) (*response, error) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(body))}
	return readResponse(context.Background(), resp, want, labels, points)
}

// bodyClient answers every request with one body, for client_golang's v1 API.
type bodyClient struct {
	code int
	body []byte
}

func (c bodyClient) URL(ep string, _ map[string]string) *url.URL { return &url.URL{Path: ep} }

func (c bodyClient) Do(context.Context, *http.Request) (*http.Response, []byte, error) {
	return &http.Response{StatusCode: c.code, Header: http.Header{}}, c.body, nil
}

// decodeClientGolang is the old path: client_golang's v1 API decodes the body into a model.Matrix
// or model.Vector, which is converted as Load did.
func decodeClientGolang(body []byte, want string, labels []string) (series []resultSeries, warnings []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("client_golang panicked: %v", r)
		}
	}()
	a := v1.NewAPI(bodyClient{code: http.StatusOK, body: body})
	var val model.Value
	if want == resultMatrix {
		val, warnings, _, err = a.QueryRange(context.Background(), "q", v1.Range{Start: t0, End: t0, Step: time.Minute})
	} else {
		val, warnings, _, err = a.Query(context.Background(), "q", t0)
	}
	if err != nil {
		return nil, warnings, err
	}
	if val == nil {
		return nil, warnings, errors.New("no value") // Load would have panicked on val.Type()
	}
	label := func(m model.Metric) []string {
		out := make([]string, len(labels))
		for i, l := range labels {
			out[i] = string(m[model.LabelName(l)])
		}
		return out
	}
	switch v := val.(type) {
	case model.Matrix:
		if want != resultMatrix {
			return nil, warnings, errors.New("not a vector")
		}
		for _, ss := range v {
			pts := make(sizing.Series, len(ss.Values))
			for i, sp := range ss.Values {
				pts[i] = sizing.Point{T: int64(sp.Timestamp), V: float64(sp.Value)}
			}
			series = append(series, resultSeries{labels: label(ss.Metric), points: pts})
		}
	case model.Vector:
		if want != resultVector {
			return nil, warnings, errors.New("not a matrix")
		}
		for _, s := range v {
			series = append(series, resultSeries{labels: label(s.Metric), points: sizing.Series{{T: int64(s.Timestamp), V: float64(s.Value)}}})
		}
	default:
		return nil, warnings, fmt.Errorf("got a %s", val.Type())
	}
	return series, warnings, nil
}

var cmpSeries = cmp.Options{cmp.AllowUnexported(resultSeries{}), cmpopts.EquateNaNs(), cmpopts.EquateEmpty()}

var podContainer = []string{"pod", "container"}

func TestDecode(t *testing.T) {
	s := func(pod string, pts ...sizing.Point) resultSeries {
		return resultSeries{labels: []string{pod, "app"}, points: pts}
	}
	pt := func(ms int64, v float64) sizing.Point { return sizing.Point{T: ms, V: v} }
	const ok = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"container":"app","pod":"a"},"values":[[1700000000,"1"]]}]}}`
	tests := map[string]struct {
		body     string
		want     string // result type asked for; matrix when empty
		series   []resultSeries
		warnings []string
		partial  bool
		err      string
		oldFails bool
	}{
		"a matrix keeps the labels asked for and every sample": {
			body: `{"status":"success","data":{"resultType":"matrix","result":[
				{"metric":{"container":"app","namespace":"shop","pod":"a"},"values":[[1700000000,"1"],[1700000900,"2.5"]]},
				{"metric":{"pod":"b","other":"x"},"values":[[1700000000,"3e+21"]]}]}}`,
			series: []resultSeries{s("a", pt(1700000000000, 1), pt(1700000900000, 2.5)),
				{labels: []string{"b", ""}, points: sizing.Series{pt(1700000000000, 3e21)}}},
		},
		"NaN and infinities are values": {
			body:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a","container":"app"},"values":[[1,"NaN"],[2,"+Inf"],[3,"-Inf"]]}]}}`,
			series: []resultSeries{s("a", pt(1000, math.NaN()), pt(2000, math.Inf(1)), pt(3000, math.Inf(-1)))},
		},
		"timestamps are seconds with a millisecond fraction": {
			body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a","container":"app"},
				"values":[[1700000000.5,"1"],[1700000000.25,"1"],[1700000000.125,"1"],[-0.250,"1"],[-1.5,"1"],[1.2345,"1"]]}]}}`,
			series: []resultSeries{s("a", pt(1700000000500, 1), pt(1700000000250, 1), pt(1700000000125, 1), pt(-250, 1), pt(-1500, 1),
				pt(1234, 1))}, // model.Time truncates to milliseconds
		},
		"a timestamp with an exponent is refused, as client_golang does": {
			body: strings.Replace(ok, `[1700000000,`, `[17e8,`, 1),
			err:  "sample timestamp 17e8",
		},
		"escaped names and values are read": {
			body:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"p\u006fd":"\u0061","container":"app"},"values":[[1,"\u0031"]]}]}}`,
			series: []resultSeries{s("a", pt(1000, 1))},
		},
		"a vector gives one point per sample": {
			want:   resultVector,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"a","container":"app"},"value":[1700000000.001,"1763596000"]}]}}`,
			series: []resultSeries{s("a", pt(1700000000001, 1763596000))},
		},
		"an empty result is no series": {
			body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`,
		},
		"resultType may come last": {
			body:   `{"data":{"result":[{"values":[[1,"1"]],"metric":{"pod":"a","container":"app"}}],"resultType":"matrix"},"status":"success"}`,
			series: []resultSeries{s("a", pt(1000, 1))},
		},
		"warnings are kept and infos are not": {
			body:     strings.TrimSuffix(ok, "}") + `,"warnings":["remote read: partial","second"],"infos":["PromQL info: something"]}`,
			series:   []resultSeries{s("a", pt(1700000000000, 1))},
			warnings: []string{"remote read: partial", "second"},
		},
		"VictoriaMetrics says isPartial": {
			body:    `{"status":"success","isPartial":true,"data":{"resultType":"matrix","result":[]}}`,
			partial: true,
		},
		"unknown keys are skipped": {
			body: `{"status":"success","stats":{"timings":{}},"data":{"resultType":"matrix","result":[
				{"metric":{"pod":"a","container":"app","other":{"x":[1]}},"values":[[1,"1"]],"extra":null}],"extra":1}}`,
			series:   []resultSeries{s("a", pt(1000, 1))},
			oldFails: true, // client_golang refuses unknown keys in a series
		},
		"an error status is the server's error": {
			body: `{"status":"error","errorType":"execution","error":"query processing would load too many samples"}`,
			err:  "execution: query processing would load too many samples",
		},
		"a scalar is not a matrix": {
			body: `{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`,
			err:  `bad_response: want a matrix, got "scalar"`,
		},
		"a matrix is not a vector": {
			want: resultVector,
			body: ok,
			err:  `bad_response: want a vector, got "matrix"`,
		},
		"native histograms are refused": {
			body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[[1,{"count":"1","sum":"1","buckets":[]}]]}]}}`,
			err:  "native histogram samples in the result",
		},
		"a histogram sample is refused": {
			want: resultVector,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}`,
			err:  "native histogram samples in the result",
		},
		"values are strings":              {body: strings.Replace(ok, `"1"]`, `1]`, 1), err: "sample value: want a string"},
		"timestamps are numbers":          {body: strings.Replace(ok, `[1700000000,`, `["1700000000",`, 1), err: "sample timestamp: want a number"},
		"a sample is a pair":              {body: strings.Replace(ok, `"1"]`, `"1",2]`, 1), err: "want [timestamp, value]"},
		"a value must parse":              {body: strings.Replace(ok, `"1"]`, `"lots"]`, 1), err: `sample value "lots"`},
		"a body cut short is bad":         {body: ok[:len(ok)-20], err: "bad_response"},
		"nothing may follow the response": {body: ok + `{}`, err: "data after the response object"},
		"a repeated key is refused":       {body: strings.Replace(ok, `"status":"success"`, `"status":"success","status":"success"`, 1), err: "duplicate"},
		"a key in other case is refused":  {body: strings.Replace(ok, `"data"`, `"Data"`, 1), err: `unexpected key "Data"`},
		"a response needs data":           {body: `{"status":"success"}`, err: "response without data"},
		"an unknown status is refused":    {body: strings.Replace(ok, `"success"`, `"fine"`, 1), err: `unexpected status "fine"`},
		"a series needs a metric":         {body: strings.Replace(ok, `"metric":{"container":"app","pod":"a"},`, ``, 1), err: "series without metric"},
		"not JSON":                        {body: `<html>502 Bad Gateway</html>`, err: "bad_response"},
		"empty":                           {body: ``, err: "bad_response"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = resultMatrix
			}
			res, err := decodeStreaming([]byte(tt.body), want, podContainer, 4)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.series, res.series, cmpSeries); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, res.warnings); diff != "" || res.partial != tt.partial {
				t.Errorf("warnings (-want +got):\n%s\npartial %v", diff, res.partial)
			}
			// What the new decoder accepts, client_golang reads the same way.
			old, oldWarnings, err := decodeClientGolang([]byte(tt.body), want, podContainer)
			if (err != nil) != tt.oldFails {
				t.Fatalf("client_golang: %v", err)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(old, res.series, cmpSeries); diff != "" || !slices.Equal(oldWarnings, res.warnings) {
				t.Errorf("differs from client_golang (-old +new):\n%s\nwarnings %q, %q", diff, oldWarnings, res.warnings)
			}
		})
	}
}

func TestDecodeKeepsExactSizeSeries(t *testing.T) {
	body := promBody(resultMatrix, []promSeries{
		{labels: map[string]string{"pod": "a", "container": "app"}, points: sizing.Series{{T: 1000, V: 1}}},
		{labels: map[string]string{"pod": "b", "container": "app"}, points: sizing.Series{{T: 1000, V: 1}, {T: 2000, V: 2}}},
	}, nil, nil)
	res, err := decodeStreaming(body, resultMatrix, podContainer, 672)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.series {
		if cap(s.points) != len(s.points) {
			t.Errorf("%s: %d points with capacity %d", s.labels[0], len(s.points), cap(s.points))
		}
	}
}

func TestTimestampsMatchModelTime(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "1.5", "1.05", "1.005", "1.0005", "-1.5", "-0.001", "1700000000.123",
		"999999999999999999", "9999999999999999999", "1e3", "1.5e3", "1.2345e3", "-9223372036854775.808"} {
		var want model.Time
		wantErr := want.UnmarshalJSON([]byte(s))
		got, err := parseTimestamp([]byte(s))
		if (err != nil) != (wantErr != nil) || err == nil && got != int64(want) {
			t.Errorf("parseTimestamp(%s) = %d, %v; model.Time %d, %v", s, got, err, want, wantErr)
		}
	}
}

// decodeSeeds are fuzzing seeds: answers Prometheus gives, and ones it should not.
var decodeSeeds = []string{
	`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"container":"app","pod":"a"},"values":[[1700000000,"1"],[1700000000.5,"NaN"]]}]}}`,
	`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"container":"app","pod":"a"},"value":[1700000000.001,"+Inf"]}]},"warnings":["w"],"infos":["i"]}`,
	`{"status":"error","errorType":"bad_data","error":"parse error"}`,
	`{"status":"success","isPartial":false,"data":{"resultType":"matrix","result":[]}}`,
	`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[[1,{"count":"1","sum":"1","buckets":[[0,"0","1","1"]]}]]}]}}`,
	`{"status":"success","data":{"result":[{"metric":{"pod":"\u0061"},"values":[[-1.25,"-1e-7"]]}],"resultType":"matrix"}}`,
}

// FuzzDecode: no body makes the decoder panic, and whatever both decoders accept, they read alike.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, matrix bool) {
		want := resultVector
		if matrix {
			want = resultMatrix
		}
		res, err := decodeStreaming(body, want, podContainer, 2)
		if err != nil {
			return
		}
		for _, s := range res.series {
			if len(s.labels) != 2 || want == resultVector && len(s.points) != 1 {
				t.Fatalf("series %+v", s)
			}
		}
		old, oldWarnings, err := decodeClientGolang(body, want, podContainer)
		if err != nil {
			return // the new decoder is more lenient only where client_golang is too strict for its own good
		}
		if diff := cmp.Diff(old, res.series, cmpSeries); diff != "" || !slices.Equal(oldWarnings, res.warnings) {
			t.Errorf("differs from client_golang (-old +new):\n%s\nwarnings %q, %q", diff, oldWarnings, res.warnings)
		}
	})
}

// FuzzDecodeMatchesClientGolang builds valid answers from the fuzzer's bytes (any label value, any
// float, any millisecond) as Prometheus writes them, and checks that both decoders read them alike.
func FuzzDecodeMatchesClientGolang(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("\x03\x02pod-a\x00\x05app\x00\x01\x02\x03\x04\x05\x06\x07\x08\xff\xf8\x00\x00\x00\x00\x00\x01"))
	f.Add([]byte("\x81\x01\xc3\x28\x00\x7f\x00\xff\xff\xff\xff\xff\xff\xff\xff\x7f\xf0\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		e := entropy(in)
		matrix := e.byte()&0x80 == 0
		want := resultVector
		if matrix {
			want = resultMatrix
		}
		var series []promSeries
		for range e.byte() % 4 {
			s := promSeries{labels: map[string]string{"namespace": "shop", "pod": e.str(), "container": e.str()}}
			n := 1
			if matrix {
				n = int(e.byte() % 5)
			}
			for range n {
				ms := int64(e.uint64()%(1<<42)) - 1<<41 // ±70 years around 1970, negative included
				s.points = append(s.points, sizing.Point{T: ms, V: math.Float64frombits(e.uint64())})
			}
			series = append(series, s)
		}
		var warnings []string
		if e.byte()%2 == 1 {
			warnings = []string{e.str()}
		}
		body := promBody(want, series, warnings, []string{"info"})
		res, err := decodeStreaming(body, want, podContainer, 3)
		if err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		old, oldWarnings, err := decodeClientGolang(body, want, podContainer)
		if err != nil {
			t.Fatalf("client_golang: %v\n%s", err, body)
		}
		if diff := cmp.Diff(old, res.series, cmpSeries); diff != "" || !slices.Equal(oldWarnings, res.warnings) {
			t.Errorf("differs from client_golang (-old +new):\n%s\nwarnings %q, %q\n%s", diff, oldWarnings, res.warnings, body)
		}
		for i, s := range series {
			for j, p := range s.points {
				if got := res.series[i].points[j]; got.T != p.T || got.V != p.V && !(math.IsNaN(got.V) && math.IsNaN(p.V)) {
					t.Errorf("series %d point %d: %v, want %v", i, j, got, p)
				}
			}
		}
	})
}

// entropy hands out the fuzzer's bytes; zeros when they run out.
type entropySource struct{ b []byte }

func entropy(b []byte) *entropySource { return &entropySource{b} }

func (e *entropySource) byte() byte {
	if len(e.b) == 0 {
		return 0
	}
	c := e.b[0]
	e.b = e.b[1:]
	return c
}

func (e *entropySource) uint64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(e.byte())
	}
	return v
}

// str is a label value: up to 15 bytes made valid UTF-8, as Prometheus keeps them.
func (e *entropySource) str() string {
	n := int(e.byte() % 16)
	b := make([]byte, 0, n)
	for range n {
		b = append(b, e.byte())
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

var _ api.Client = bodyClient{}

func TestValuesMatchParseFloat(t *testing.T) {
	for _, s := range []string{"0", "00", "1", "209715200", "999999999999999", "9999999999999999", "18446744073709551615",
		"1.5", "-0", "-1", "+1", "1e3", "NaN", "+Inf", "-Inf", "0x10", "1_0", ""} {
		want, wantErr := strconv.ParseFloat(s, 64)
		got, err := parseValue([]byte(`"` + s + `"`))
		if (err != nil) != (wantErr != nil) || err == nil && math.Float64bits(got) != math.Float64bits(want) && !math.IsNaN(want) {
			t.Errorf("parseValue(%q) = %v, %v; ParseFloat %v, %v", s, got, err, want, wantErr)
		}
	}
}

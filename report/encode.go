package report

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// WriteJSON writes the report as indented JSON (field names in docs/report.md). Sizes are
// integer bytes; risks are fractions (1.54 = 154 % of the limit), null when undefined.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // explanations say "RSS -> ..." and "<"
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVColumns are the CSV header: the JSON names of a row's fields, in order.
func CSVColumns() []string {
	var cols []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Row]()) {
		if name, ok := jsonName(f); ok {
			cols = append(cols, name)
		}
	}
	return cols
}

// WriteCSV writes one line per container of every namespace, with a header line. Sizes are
// integer bytes, risks fractions with three decimals, empty when undefined.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVColumns()); err != nil {
		return err
	}
	fields := reflect.VisibleFields(reflect.TypeFor[Row]())
	for _, ns := range r.Namespaces {
		for _, row := range ns.Rows {
			v := reflect.ValueOf(row)
			var rec []string
			for _, f := range fields {
				if _, ok := jsonName(f); !ok {
					continue
				}
				rec = append(rec, csvValue(v.FieldByIndex(f.Index)))
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || name == "" {
		return "", false
	}
	return name, true
}

func csvValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return csvValue(v.Elem())
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', 3, 64)
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	}
	return v.String()
}

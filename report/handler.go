package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrUnknownNamespace is what a Handler's load function returns (wrapped) for a namespace it
// knows nothing about; the handler answers 404.
var ErrUnknownNamespace = errors.New("unknown namespace")

// LoadFunc returns the report of one namespace, or of every namespace when namespace is "".
type LoadFunc func(ctx context.Context, namespace string) (*Report, error)

// Handler serves the report: GET /report?namespace=NS (all namespaces without the parameter) as
// the HTML page, or with format=json or format=csv in those formats. The recommender mounts it on
// its metrics/health port with the results of its last cycle:
//
//	mux.Handle("/report", report.Handler(load))
func Handler(load LoadFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := req.URL.Query()
		ns := strings.TrimSpace(q.Get("namespace"))
		format := q.Get("format")
		var write func(*bytes.Buffer, *Report) error
		var contentType string
		switch format {
		case "", "html":
			write, contentType = func(b *bytes.Buffer, r *Report) error { return WriteHTML(b, r) }, "text/html; charset=utf-8"
		case "json":
			write, contentType = func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }, "application/json"
		case "csv":
			write, contentType = func(b *bytes.Buffer, r *Report) error { return WriteCSV(b, r) }, "text/csv; charset=utf-8"
		default:
			http.Error(w, fmt.Sprintf("format %q: want html, json or csv", format), http.StatusBadRequest)
			return
		}
		r, err := load(req.Context(), ns)
		switch {
		case errors.Is(err, ErrUnknownNamespace):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, "report: "+err.Error(), http.StatusServiceUnavailable)
			return
		case r == nil:
			http.Error(w, "report: no report yet", http.StatusServiceUnavailable)
			return
		}
		// Render into a buffer first so a rendering error is a 500, not half a page.
		var buf bytes.Buffer
		if err := write(&buf, r); err != nil {
			http.Error(w, "report: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// The page is self-contained: nothing but its own inline style and script may run.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:")
		if format == "csv" {
			name := "headroom-report.csv"
			if ns != "" && strings.Trim(ns, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" {
				name = "headroom-report-" + ns + ".csv" // a namespace name is a DNS label: safe in the header
			}
			h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		}
		if req.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(buf.Bytes())
	})
}

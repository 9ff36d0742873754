package webhook

import (
	"errors"
	"fmt"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// decodeReview reads an AdmissionReview into the views, which hold only what sizing reads; the
// decoder skips everything else. go-json-experiment (the prototype of encoding/json/v2, already a
// dependency of k8s.io/apimachinery) matches keys case-sensitively, as the API server does, and
// costs about half of encoding/json on a pod. A type error deep in the pod still leaves the
// request uid decoded (the API server sends it first), so the pod can be allowed unchanged.
func decodeReview(b []byte) (reviewView, error) {
	var rv reviewView
	if err := json.Unmarshal(b, &rv, lenient); err != nil {
		return rv, fmt.Errorf("cannot decode the AdmissionReview: %w", err)
	}
	return rv, nil
}

// decodePod reads a pod (or pod template) into its view, like decodeReview.
func decodePod(b []byte) (podView, error) {
	var v podView
	if err := json.Unmarshal(b, &v, lenient); err != nil {
		return v, fmt.Errorf("cannot decode the pod: %w", err)
	}
	return v, nil
}

// lenient accepts what encoding/json accepts (invalid UTF-8 becomes U+FFFD, a repeated key
// overwrites): being stricter than the API server would only turn odd input into unsized pods.
var lenient = json.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// errNoRequest: the body is JSON but not an AdmissionReview request.
var errNoRequest = errors.New("AdmissionReview has no request uid")

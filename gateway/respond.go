package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/hearth-wot/hearth/thing"
)

// problem is an RFC 9457 problem details body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Error is the OAuth 2.0 error code (RFC 6750) for authorization
	// failures, such as "insufficient_scope".
	Error string `json:"error,omitempty"`
}

// writeProblem writes an error response.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	b, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Error: code})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

// writeJSON writes b, a JSON document, with status.
func writeJSON(w http.ResponseWriter, status int, contentType string, b []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

const (
	ctJSON    = "application/json"
	ctTD      = "application/td+json"
	ctLDJSON  = "application/ld+json"
	ctProblem = "application/problem+json"
)

// Errors of the Server's own making (as opposed to adapters').
var (
	errBadBody        = errors.New("gateway: malformed request body")
	errTooLarge       = errors.New("gateway: request body too large")
	errReadOnly       = errors.New("gateway: property is read-only")
	errWriteOnly      = errors.New("gateway: property is write-only")
	errTooManyActions = errors.New("gateway: too many action requests")
	errTooManyStreams = errors.New("gateway: too many streams")
	errGone           = errors.New("gateway: thing removed")
)

// statusOf maps an error from the request path or an adapter to an HTTP
// status.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe), errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errBadBody), errors.Is(err, thing.ErrInvalidValue):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound), errors.Is(err, errGone):
		return http.StatusNotFound
	case errors.Is(err, errReadOnly), errors.Is(err, errWriteOnly):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrNotSupported):
		return http.StatusNotImplemented
	case errors.Is(err, errTooManyActions), errors.Is(err, errTooManyStreams), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// fail writes the response for err. Device failures are logged; their
// detail is not shown to the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	st := statusOf(err)
	detail := err.Error()
	switch st {
	case http.StatusBadGateway:
		s.log.Warn("gateway: device failure", "path", r.URL.Path, "err", err)
		detail = "the device failed"
	case http.StatusGatewayTimeout:
		s.log.Warn("gateway: device timeout", "path", r.URL.Path, "err", err)
		detail = "the device did not answer in time"
	case http.StatusMethodNotAllowed:
		if errors.Is(err, errReadOnly) {
			w.Header().Set("Allow", "GET")
		}
	}
	writeProblem(w, st, "", detail)
}

// methodNotAllowed answers a method a resource does not support.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeProblem(w, http.StatusMethodNotAllowed, "", "method not allowed; allowed: "+allow)
}

func notFound(w http.ResponseWriter) {
	writeProblem(w, http.StatusNotFound, "", "no such resource")
}

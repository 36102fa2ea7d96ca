package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

// maxBodyBytes bounds request bodies, policy documents included.
const maxBodyBytes = 1 << 20

// apiError is an error the caller may see: an HTTP status and a message
// that holds no secrets, SQL or paths. Handlers return it for what the
// caller got wrong; any other error becomes a 500 with a generic message.
type apiError struct {
	Status  int
	Message string
}

// Error implements the error interface.
func (e *apiError) Error() string { return fmt.Sprintf("admin: %d: %s", e.Status, e.Message) }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON answer of every refused or failed request.
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// publicError maps err to what the caller sees, in this one place:
// an [apiError] as it is, the state machine's problems by type, a store
// not-found as 404, and anything else as an internal error (the boolean is
// then false, and the caller logs err).
func publicError(err error) (*apiError, bool) {
	var e *apiError
	if errors.As(err, &e) {
		return e, true
	}
	var p *problem.Error
	if errors.As(err, &p) {
		switch p.Type {
		case problem.NotFound:
			return &apiError{http.StatusNotFound, p.Detail}, true
		case problem.AlreadyRevoked:
			return &apiError{http.StatusConflict, p.Detail}, true
		case problem.ServerInternal, problem.Unavailable:
			return &apiError{problem.Status(p.Type), "internal error"}, false
		}
		return &apiError{problem.Status(p.Type), p.Detail}, true
	}
	if errors.Is(err, store.ErrNotFound) {
		return &apiError{http.StatusNotFound, "not found"}, true
	}
	return &apiError{http.StatusInternalServerError, "internal error"}, false
}

// writeJSON encodes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decodeJSON reads a JSON request body of at most maxBodyBytes into v,
// refusing unknown fields and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "the body must be application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "the body holds more than one JSON value")
	}
	return nil
}

// readBody reads a raw request body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes",
			maxBodyBytes)
	}
	return errorf(http.StatusBadRequest, "the body is not valid: %s", truncate(err.Error(), 200))
}

// truncate shortens client-supplied text before it is echoed or logged.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ProblemURNPrefix is the namespace of ACME error types (RFC 8555,
// Section 6.7).
const ProblemURNPrefix = "urn:ietf:params:acme:error:"

// Error types the client itself reacts to, as they follow ProblemURNPrefix
// on the wire.
const (
	// ProblemBadNonce makes the client retry the request once with the
	// fresh nonce of the refusal (RFC 8555, Section 6.5).
	ProblemBadNonce = "badNonce"
	// ProblemAlreadyReplaced refuses an order whose replaces names a
	// certificate that was already replaced (RFC 9773, Section 7.4).
	ProblemAlreadyReplaced = "alreadyReplaced"
)

var (
	// ErrNoAccount is returned by calls that need an account before
	// [Client.Register] succeeded or [Client.SetAccountURL] was called.
	ErrNoAccount = errors.New("client: no account: register first")
	// ErrUnsupported is returned when the directory lacks the resource a
	// call needs, such as renewalInfo.
	ErrUnsupported = errors.New("client: the server does not offer this resource")
)

// ProblemError is an ACME problem document (RFC 7807 as profiled by
// RFC 8555, Section 6.7): returned for every error response, and found in
// the error member of invalid orders and challenges.
type ProblemError struct {
	// Type is the full error type, such as
	// "urn:ietf:params:acme:error:unauthorized".
	Type   string `json:"type"`
	Title  string `json:"title,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Status is the HTTP status: of the response for a refused request,
	// or as the document states for an embedded problem (often zero).
	Status int `json:"status,omitempty"`
	// Identifier is the identifier a subproblem is about (RFC 8555,
	// Section 6.7.1).
	Identifier  *Identifier    `json:"identifier,omitempty"`
	Subproblems []ProblemError `json:"subproblems,omitempty"`
	// RetryAfter is the Retry-After of the response, zero when absent.
	RetryAfter time.Duration `json:"-"`
}

// Error formats the type, status, detail and subproblems on one line. It
// starts with the type URN, which names the problem without ambiguity.
func (e *ProblemError) Error() string {
	var b strings.Builder
	b.WriteString(e.describe())
	for i := range e.Subproblems {
		b.WriteString("; ")
		b.WriteString(e.Subproblems[i].describe())
	}
	return b.String()
}

func (e *ProblemError) describe() string {
	var b strings.Builder
	if e.Identifier != nil {
		fmt.Fprintf(&b, "%s %s: ", e.Identifier.Type, e.Identifier.Value)
	}
	typ := e.Type
	if typ == "" {
		typ = "problem without a type"
	}
	b.WriteString(typ)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Kind returns the error type without ProblemURNPrefix, such as
// "unauthorized"; a type outside the ACME namespace is returned whole.
func (e *ProblemError) Kind() string {
	return strings.TrimPrefix(e.Type, ProblemURNPrefix)
}

// IsProblem reports whether err is, or wraps, a *ProblemError of type typ,
// given either whole ("urn:ietf:params:acme:error:badNonce") or without
// the ACME prefix ("badNonce").
func IsProblem(err error, typ string) bool {
	var pe *ProblemError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Type == typ || pe.Type == ProblemURNPrefix+typ
}

// Package problem defines the typed errors of the ACME front end and the one
// table that maps each error type to its RFC 8555 problem document and HTTP
// status.
//
// The state machine and the request verifier return *[Error] when the client
// must see a specific ACME error type. Any other error reaching the HTTP layer
// is reported as serverInternal with a generic detail; the real cause goes to
// the log only. The problem package knows nothing of HTTP frameworks: the
// server package writes the documents.
package problem

import (
	"errors"
	"fmt"
	"net/http"
)

// Type is an ACME error type without its URN prefix, as it appears after
// "urn:ietf:params:acme:error:" on the wire (RFC 8555, Section 6.7).
type Type string

// The error types of RFC 8555, Section 6.7, and of the extensions acmegate
// speaks. Values equal the wire names.
const (
	AccountDoesNotExist     Type = "accountDoesNotExist"
	AlreadyRevoked          Type = "alreadyRevoked"
	BadCSR                  Type = "badCSR"
	BadNonce                Type = "badNonce"
	BadPublicKey            Type = "badPublicKey"
	BadRevocationReason     Type = "badRevocationReason"
	BadSignatureAlgorithm   Type = "badSignatureAlgorithm"
	CAA                     Type = "caa"
	Compound                Type = "compound"
	Connection              Type = "connection"
	DNS                     Type = "dns"
	ExternalAccountRequired Type = "externalAccountRequired"
	IncorrectResponse       Type = "incorrectResponse"
	InvalidContact          Type = "invalidContact"
	Malformed               Type = "malformed"
	OrderNotReady           Type = "orderNotReady"
	RateLimited             Type = "rateLimited"
	RejectedIdentifier      Type = "rejectedIdentifier"
	ServerInternal          Type = "serverInternal"
	TLS                     Type = "tls"
	Unauthorized            Type = "unauthorized"
	UnsupportedContact      Type = "unsupportedContact"
	UnsupportedIdentifier   Type = "unsupportedIdentifier"
	UserActionRequired      Type = "userActionRequired"
	BadAttestationStatement Type = "badAttestationStatement"
	InvalidProfile          Type = "invalidProfile"
	// AlreadyReplaced refuses a newOrder whose replaces field names a
	// certificate another order already replaced (RFC 9773, Section 7.4).
	AlreadyReplaced Type = "alreadyReplaced"

	// Conflict is not an RFC 8555 type; Let's Encrypt and acmegate answer a
	// key change to a key that already belongs to an account with it
	// (RFC 8555, Section 7.3.5, requires the 409 status only).
	Conflict Type = "conflict"
	// NotFound is used for unknown resources; it is served as a malformed
	// problem with status 404, as RFC 8555 defines no dedicated type.
	NotFound Type = "notFound"
	// MethodNotAllowed answers a GET on a POST-only resource (405).
	MethodNotAllowed Type = "methodNotAllowed"
	// UnsupportedMediaType answers a POST whose Content-Type is not
	// application/jose+json (RFC 8555, Section 6.2) with status 415.
	UnsupportedMediaType Type = "unsupportedMediaType"
	// PayloadTooLarge answers a body over the configured limit (413).
	PayloadTooLarge Type = "payloadTooLarge"
	// Unavailable answers when a dependency (database, signer) is down (503).
	Unavailable Type = "unavailable"
)

// URNPrefix is the namespace of ACME error types (RFC 8555, Section 6.7).
const URNPrefix = "urn:ietf:params:acme:error:"

// row is one entry of the mapping table: the URN suffix that goes on the wire
// and the HTTP status code.
type row struct {
	wire   Type
	status int
}

// table maps every [Type] to what the client sees. It is the only place that
// decides problem types and statuses.
var table = map[Type]row{
	AccountDoesNotExist:     {AccountDoesNotExist, http.StatusBadRequest},
	AlreadyRevoked:          {AlreadyRevoked, http.StatusBadRequest},
	BadCSR:                  {BadCSR, http.StatusBadRequest},
	BadNonce:                {BadNonce, http.StatusBadRequest},
	BadPublicKey:            {BadPublicKey, http.StatusBadRequest},
	BadRevocationReason:     {BadRevocationReason, http.StatusBadRequest},
	BadSignatureAlgorithm:   {BadSignatureAlgorithm, http.StatusBadRequest},
	CAA:                     {CAA, http.StatusForbidden},
	Compound:                {Compound, http.StatusBadRequest},
	Connection:              {Connection, http.StatusBadRequest},
	DNS:                     {DNS, http.StatusBadRequest},
	ExternalAccountRequired: {ExternalAccountRequired, http.StatusUnauthorized},
	IncorrectResponse:       {IncorrectResponse, http.StatusBadRequest},
	InvalidContact:          {InvalidContact, http.StatusBadRequest},
	Malformed:               {Malformed, http.StatusBadRequest},
	OrderNotReady:           {OrderNotReady, http.StatusForbidden},
	RateLimited:             {RateLimited, http.StatusTooManyRequests},
	RejectedIdentifier:      {RejectedIdentifier, http.StatusBadRequest},
	ServerInternal:          {ServerInternal, http.StatusInternalServerError},
	TLS:                     {TLS, http.StatusBadRequest},
	Unauthorized:            {Unauthorized, http.StatusForbidden},
	UnsupportedContact:      {UnsupportedContact, http.StatusBadRequest},
	UnsupportedIdentifier:   {UnsupportedIdentifier, http.StatusBadRequest},
	UserActionRequired:      {UserActionRequired, http.StatusForbidden},
	BadAttestationStatement: {BadAttestationStatement, http.StatusBadRequest},
	InvalidProfile:          {InvalidProfile, http.StatusBadRequest},
	AlreadyReplaced:         {AlreadyReplaced, http.StatusConflict},
	Conflict:                {Conflict, http.StatusConflict},
	NotFound:                {Malformed, http.StatusNotFound},
	MethodNotAllowed:        {Malformed, http.StatusMethodNotAllowed},
	UnsupportedMediaType:    {Malformed, http.StatusUnsupportedMediaType},
	PayloadTooLarge:         {Malformed, http.StatusRequestEntityTooLarge},
	Unavailable:             {ServerInternal, http.StatusServiceUnavailable},
}

// Identifier names the identifier a subproblem is about (RFC 8555,
// Section 6.7.1).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Error is an ACME problem raised by domain code. Detail must be safe to show
// to the client: it never holds SQL, file paths or key material.
type Error struct {
	Type        Type
	Detail      string
	Identifier  *Identifier
	Subproblems []*Error
	// Algorithms lists the accepted JWS algorithms on badSignatureAlgorithm
	// (RFC 8555, Section 6.2).
	Algorithms []string
	// RetryAfter, in seconds, is sent as the Retry-After header when set.
	RetryAfter int
	// Location is sent as the Location header when set (conflict answers).
	Location string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("acme: %s: %s", e.Type, e.Detail)
}

// New returns an *Error of type t with a formatted detail.
func New(t Type, format string, args ...any) *Error {
	return &Error{Type: t, Detail: fmt.Sprintf(format, args...)}
}

// Status returns the HTTP status code for t; unknown types get 500.
func Status(t Type) int {
	r, ok := table[t]
	if !ok {
		return http.StatusInternalServerError
	}
	return r.status
}

// URN returns the full wire type for t, for example
// "urn:ietf:params:acme:error:malformed". Unknown types map to serverInternal.
func URN(t Type) string {
	r, ok := table[t]
	if !ok {
		return URNPrefix + string(ServerInternal)
	}
	return URNPrefix + string(r.wire)
}

// Types lists every Type of the mapping table, for tests that walk it.
func Types() []Type {
	out := make([]Type, 0, len(table))
	for t := range table {
		out = append(out, t)
	}
	return out
}

// Document is the JSON body of an application/problem+json response
// (RFC 7807 as profiled by RFC 8555, Section 6.7).
type Document struct {
	Type        string      `json:"type"`
	Detail      string      `json:"detail,omitempty"`
	Status      int         `json:"status"`
	Identifier  *Identifier `json:"identifier,omitempty"`
	Subproblems []*Document `json:"subproblems,omitempty"`
	Algorithms  []string    `json:"algorithms,omitempty"`
}

// ToDocument converts e to its wire form.
func (e *Error) ToDocument() *Document {
	doc := &Document{
		Type:       URN(e.Type),
		Detail:     e.Detail,
		Status:     Status(e.Type),
		Identifier: e.Identifier,
		Algorithms: e.Algorithms,
	}
	for _, sub := range e.Subproblems {
		doc.Subproblems = append(doc.Subproblems, sub.ToDocument())
	}
	return doc
}

// From returns the *Error inside err, or a serverInternal error with a
// generic detail when err carries none. The original error is not exposed.
func From(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Type: ServerInternal, Detail: "the server could not complete the request"}
}

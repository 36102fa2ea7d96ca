package state

import (
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// Status values of ACME objects (RFC 8555, Section 7.1.6), equal to the
// wire values.
const (
	StatusPending     = "pending"
	StatusReady       = "ready"
	StatusProcessing  = "processing"
	StatusValid       = "valid"
	StatusInvalid     = "invalid"
	StatusExpired     = "expired"
	StatusDeactivated = "deactivated"
	StatusRevoked     = "revoked"
)

// Identifier types (RFC 8555, Section 9.7.7; RFC 8738).
const (
	IdentifierDNS = "dns"
	IdentifierIP  = "ip"
	// IdentifierPermanent names a device by its permanent identifier
	// (draft-ietf-acme-device-attest-09, Section 3.1), validated only by
	// device-attest-01.
	IdentifierPermanent = "permanent-identifier"
	// IdentifierHardwareModule names a hardware module by its type and
	// serial (draft-ietf-acme-device-attest-09, Section 3.1), validated
	// only by device-attest-01.
	IdentifierHardwareModule = "hardware-module"
)

// Identifier is what a certificate names.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Account is an ACME account.
type Account struct {
	ID          string
	Key         *jose.JSONWebKey
	Thumbprint  string
	Status      string
	Contacts    []string
	TermsAgreed bool
	EABKeyID    string
	CreatedAt   time.Time
}

// Order is a certificate order.
type Order struct {
	ID          string
	AccountID   string
	Status      string
	Expires     time.Time
	NotBefore   *time.Time
	NotAfter    *time.Time
	Identifiers []Identifier
	Profile     string
	Error       *problem.Document
	AuthzIDs    []string
	// CertificateSerial is the hex serial of the issued certificate.
	CertificateSerial string
	Replaces          string
	UpdatedAt         time.Time
}

// Authorization is the proof of control of one identifier, with its
// challenges.
type Authorization struct {
	ID         string
	AccountID  string
	Identifier Identifier
	Wildcard   bool
	Status     string
	Expires    time.Time
	Challenges []Challenge
}

// Challenge is one way to satisfy an authorization.
type Challenge struct {
	ID          string
	AuthzID     string
	Type        string
	Token       string
	Status      string
	ValidatedAt *time.Time
	Error       *problem.Document
}

// Certificate is an issued certificate as served to its owner.
type Certificate struct {
	Serial    string
	AccountID string
	OrderID   string
	// IssuerKeyID is the key ID, in hex, of the intermediate that signed
	// the certificate; [Issuers.ByKeyID] finds it for the chain.
	IssuerKeyID string
	DER         []byte
	Status      string
	NotBefore   time.Time
	NotAfter    time.Time
}

// RenewalInfo is the ACME Renewal Information answer (RFC 9773,
// Section 4.2).
type RenewalInfo struct {
	Start          time.Time
	End            time.Time
	ExplanationURL string
	// RetryAfter tells the client when to ask again.
	RetryAfter time.Duration
}

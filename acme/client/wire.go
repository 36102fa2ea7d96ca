package client

import (
	"net"
	"time"
)

// Status values of accounts, orders, authorizations and challenges, as on
// the wire (RFC 8555, Section 7.1.6).
const (
	StatusPending     = "pending"
	StatusReady       = "ready"
	StatusProcessing  = "processing"
	StatusValid       = "valid"
	StatusInvalid     = "invalid"
	StatusDeactivated = "deactivated"
	StatusExpired     = "expired"
	StatusRevoked     = "revoked"
)

// Challenge types, as on the wire.
const (
	// ChallengeHTTP01 is RFC 8555, Section 8.3.
	ChallengeHTTP01 = "http-01"
	// ChallengeDNS01 is RFC 8555, Section 8.4.
	ChallengeDNS01 = "dns-01"
	// ChallengeTLSALPN01 is RFC 8737.
	ChallengeTLSALPN01 = "tls-alpn-01"
	// ChallengeTKAuth01 is the token challenge shaped after RFC 9447; the
	// client answers it with {"tkauth": "<token>"}.
	ChallengeTKAuth01 = "tkauth-01"
	// ChallengeDNSPersist01 is draft-ietf-acme-dns-persist-02: the client
	// publishes a standing record and answers with {}.
	ChallengeDNSPersist01 = "dns-persist-01"
)

// Identifier types (RFC 8555, Section 9.7.7; RFC 8738, Section 3).
const (
	IdentifierDNS = "dns"
	IdentifierIP  = "ip"
)

// Directory is the directory object (RFC 8555, Section 7.1.1).
type Directory struct {
	NewNonce   string `json:"newNonce"`
	NewAccount string `json:"newAccount"`
	NewOrder   string `json:"newOrder"`
	RevokeCert string `json:"revokeCert"`
	KeyChange  string `json:"keyChange"`
	// RenewalInfo is the base URL of renewal information (RFC 9773,
	// Section 3); empty when the server offers none.
	RenewalInfo string        `json:"renewalInfo"`
	Meta        DirectoryMeta `json:"meta"`
}

// DirectoryMeta is the directory's meta object (RFC 8555, Section 7.1.1,
// and the profiles member of draft-ietf-acme-profiles-00, Section 3).
type DirectoryMeta struct {
	TermsOfService          string            `json:"termsOfService"`
	Website                 string            `json:"website"`
	CAAIdentities           []string          `json:"caaIdentities"`
	ExternalAccountRequired bool              `json:"externalAccountRequired"`
	Profiles                map[string]string `json:"profiles"`
	// AccountHashPrefix and IssuerDomainNames are what a dns-persist-01
	// record is built from (draft-ietf-acme-dns-persist-02, Sections 3.2
	// and 4.1); empty when the server does not offer it.
	AccountHashPrefix string   `json:"accountHashPrefix"`
	IssuerDomainNames []string `json:"issuerDomainNames"`
}

// Identifier is what a certificate is asked for (RFC 8555, Section 7.1.3).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// NewIdentifier returns an ip identifier when name is an IP address and a
// dns identifier otherwise.
func NewIdentifier(name string) Identifier {
	if ip := net.ParseIP(name); ip != nil {
		return Identifier{Type: IdentifierIP, Value: ip.String()}
	}
	return Identifier{Type: IdentifierDNS, Value: name}
}

// Account is an account object (RFC 8555, Section 7.1.2).
type Account struct {
	// URL is the account URL from the Location header; it is the kid of
	// later requests.
	URL     string   `json:"-"`
	Status  string   `json:"status"`
	Contact []string `json:"contact"`
	Orders  string   `json:"orders"`
}

// Order is an order object (RFC 8555, Section 7.1.3).
type Order struct {
	// URL is the order URL from the Location header.
	URL            string        `json:"-"`
	Status         string        `json:"status"`
	Expires        time.Time     `json:"expires"`
	Identifiers    []Identifier  `json:"identifiers"`
	NotBefore      time.Time     `json:"notBefore"`
	NotAfter       time.Time     `json:"notAfter"`
	Error          *ProblemError `json:"error"`
	Authorizations []string      `json:"authorizations"`
	Finalize       string        `json:"finalize"`
	Certificate    string        `json:"certificate"`
	// Profile is the certificate profile (draft-ietf-acme-profiles-00,
	// Section 4).
	Profile string `json:"profile"`
	// Replaces is the certificate ID this order renews (RFC 9773,
	// Section 5).
	Replaces string `json:"replaces"`
}

// Authorization is an authorization object (RFC 8555, Section 7.1.4).
type Authorization struct {
	// URL is the authorization URL the object was fetched from.
	URL        string      `json:"-"`
	Identifier Identifier  `json:"identifier"`
	Status     string      `json:"status"`
	Expires    time.Time   `json:"expires"`
	Challenges []Challenge `json:"challenges"`
	Wildcard   bool        `json:"wildcard"`
}

// Challenge returns the authorization's challenge of type typ, or nil.
func (a *Authorization) Challenge(typ string) *Challenge {
	for i := range a.Challenges {
		if a.Challenges[i].Type == typ {
			return &a.Challenges[i]
		}
	}
	return nil
}

// Challenge is a challenge object (RFC 8555, Section 8).
type Challenge struct {
	Type      string        `json:"type"`
	URL       string        `json:"url"`
	Token     string        `json:"token"`
	Status    string        `json:"status"`
	Validated time.Time     `json:"validated"`
	Error     *ProblemError `json:"error"`
	// TKAuthType is the token type of a tkauth-01 challenge (RFC 9447,
	// Section 3); acmegate's is "jwt".
	TKAuthType string `json:"tkauth-type"`
	// IssuerDomainNames are the names a dns-persist-01 record may use for
	// the CA (draft-ietf-acme-dns-persist-02, Section 3.1).
	IssuerDomainNames []string `json:"issuerDomainNames"`
}

// RenewalInfo is the renewal information of a certificate (RFC 9773,
// Section 4.2).
type RenewalInfo struct {
	// Window is when the server suggests renewing.
	Window Window
	// ExplanationURL, when set, explains the window to a human.
	ExplanationURL string
	// RetryAfter is when to ask again, from the Retry-After header; zero
	// when the server sent none.
	RetryAfter time.Duration
}

// Window is a suggested renewal window.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// The request payloads.

type accountPayload struct {
	Contact                []string `json:"contact,omitempty"`
	TermsOfServiceAgreed   bool     `json:"termsOfServiceAgreed,omitempty"`
	OnlyReturnExisting     bool     `json:"onlyReturnExisting,omitempty"`
	ExternalAccountBinding any      `json:"externalAccountBinding,omitempty"`
}

type orderPayload struct {
	Identifiers []Identifier `json:"identifiers"`
	NotBefore   string       `json:"notBefore,omitempty"`
	NotAfter    string       `json:"notAfter,omitempty"`
	Profile     string       `json:"profile,omitempty"`
	Replaces    string       `json:"replaces,omitempty"`
}

type finalizePayload struct {
	CSR string `json:"csr"`
}

type revokePayload struct {
	Certificate string `json:"certificate"`
	Reason      *int   `json:"reason,omitempty"`
}

type renewalInfoJSON struct {
	SuggestedWindow Window `json:"suggestedWindow"`
	ExplanationURL  string `json:"explanationURL"`
}

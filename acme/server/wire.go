package server

import (
	"encoding/json"
	"io"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/dnspersist"
)

// The JSON objects of RFC 8555, Section 7.1, as they go on the wire. They
// are kept apart from the state machine's types and converted explicitly.

type directoryJSON struct {
	NewNonce    string         `json:"newNonce"`
	NewAccount  string         `json:"newAccount"`
	NewOrder    string         `json:"newOrder"`
	RevokeCert  string         `json:"revokeCert"`
	KeyChange   string         `json:"keyChange"`
	RenewalInfo string         `json:"renewalInfo"`
	Meta        *directoryMeta `json:"meta,omitempty"`
}

type directoryMeta struct {
	TermsOfService          string            `json:"termsOfService,omitempty"`
	Website                 string            `json:"website,omitempty"`
	CAAIdentities           []string          `json:"caaIdentities,omitempty"`
	ExternalAccountRequired bool              `json:"externalAccountRequired,omitempty"`
	Profiles                map[string]string `json:"profiles,omitempty"`
	// AccountHashPrefix and IssuerDomainNames let clients publish
	// dns-persist-01 records before ordering
	// (draft-ietf-acme-dns-persist-02, Sections 3.2 and 4.1).
	AccountHashPrefix string   `json:"accountHashPrefix,omitempty"`
	IssuerDomainNames []string `json:"issuerDomainNames,omitempty"`
}

type accountJSON struct {
	Status                 string          `json:"status"`
	Contact                []string        `json:"contact"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed,omitempty"`
	Orders                 string          `json:"orders"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding,omitempty"`
	CreatedAt              string          `json:"createdAt,omitempty"`
}

type identifierJSON struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type orderJSON struct {
	Status         string            `json:"status"`
	Expires        string            `json:"expires"`
	Identifiers    []identifierJSON  `json:"identifiers"`
	NotBefore      string            `json:"notBefore,omitempty"`
	NotAfter       string            `json:"notAfter,omitempty"`
	Error          *problem.Document `json:"error,omitempty"`
	Authorizations []string          `json:"authorizations"`
	Finalize       string            `json:"finalize"`
	Certificate    string            `json:"certificate,omitempty"`
	Profile        string            `json:"profile,omitempty"`
	Replaces       string            `json:"replaces,omitempty"`
}

type authzJSON struct {
	Identifier identifierJSON  `json:"identifier"`
	Status     string          `json:"status"`
	Expires    string          `json:"expires"`
	Challenges []challengeJSON `json:"challenges"`
	Wildcard   bool            `json:"wildcard,omitempty"`
}

type challengeJSON struct {
	Type string `json:"type"`
	URL  string `json:"url"`
	// Token is empty, and left out, for dns-persist-01, which has none
	// (draft-ietf-acme-dns-persist-02, Section 3.1).
	Token     string            `json:"token,omitempty"`
	Status    string            `json:"status"`
	Validated string            `json:"validated,omitempty"`
	Error     *problem.Document `json:"error,omitempty"`
	// TKAuthType names the token type of a tkauth-01 challenge
	// (RFC 9447, Section 3); acmegate's is "jwt".
	TKAuthType string `json:"tkauth-type,omitempty"`
	// IssuerDomainNames are the names a dns-persist-01 record may use for
	// this CA (draft-ietf-acme-dns-persist-02, Section 3.1).
	IssuerDomainNames []string `json:"issuerDomainNames,omitempty"`
}

type ordersListJSON struct {
	Orders []string `json:"orders"`
}

type renewalInfoJSON struct {
	SuggestedWindow struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"suggestedWindow"`
	ExplanationURL string `json:"explanationURL,omitempty"`
}

// Request payloads.

type newAccountPayload struct {
	Contact                []string        `json:"contact"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed"`
	OnlyReturnExisting     bool            `json:"onlyReturnExisting"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding"`
}

type updateAccountPayload struct {
	Contact *[]string `json:"contact"`
	Status  string    `json:"status"`
}

type newOrderPayload struct {
	Identifiers []identifierJSON `json:"identifiers"`
	NotBefore   string           `json:"notBefore"`
	NotAfter    string           `json:"notAfter"`
	Profile     string           `json:"profile"`
	Replaces    string           `json:"replaces"`
}

type finalizePayload struct {
	CSR string `json:"csr"`
}

type authzUpdatePayload struct {
	Status string `json:"status"`
}

type revokePayload struct {
	Certificate string `json:"certificate"`
	Reason      *int   `json:"reason"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) accountJSON(a *state.Account) accountJSON {
	return accountJSON{
		Status:               a.Status,
		Contact:              nonNil(a.Contacts),
		TermsOfServiceAgreed: a.TermsAgreed,
		Orders:               s.url("acct", a.ID, "orders"),
		CreatedAt:            rfc3339(a.CreatedAt),
	}
}

func (s *Server) orderJSON(o *state.Order) orderJSON {
	out := orderJSON{
		Status:         o.Status,
		Expires:        rfc3339(o.Expires),
		Error:          o.Error,
		Authorizations: make([]string, 0, len(o.AuthzIDs)),
		Finalize:       s.url("order", o.ID, "finalize"),
		Profile:        o.Profile,
		Replaces:       o.Replaces,
	}
	for _, id := range o.Identifiers {
		out.Identifiers = append(out.Identifiers, identifierJSON(id))
	}
	for _, id := range o.AuthzIDs {
		out.Authorizations = append(out.Authorizations, s.url("authz", id))
	}
	if o.NotBefore != nil {
		out.NotBefore = rfc3339(*o.NotBefore)
	}
	if o.NotAfter != nil {
		out.NotAfter = rfc3339(*o.NotAfter)
	}
	if o.Status == state.StatusValid && o.CertificateSerial != "" {
		out.Certificate = s.url("cert", o.CertificateSerial)
	}
	return out
}

func (s *Server) authzJSON(a *state.Authorization) authzJSON {
	out := authzJSON{
		Identifier: identifierJSON(a.Identifier),
		Status:     a.Status,
		Expires:    rfc3339(a.Expires),
		Challenges: make([]challengeJSON, 0, len(a.Challenges)),
		Wildcard:   a.Wildcard,
	}
	for i := range a.Challenges {
		out.Challenges = append(out.Challenges, s.challengeJSON(&a.Challenges[i]))
	}
	return out
}

func (s *Server) challengeJSON(c *state.Challenge) challengeJSON {
	out := challengeJSON{
		Type:   c.Type,
		URL:    s.url("chall", c.ID),
		Token:  c.Token,
		Status: c.Status,
		Error:  c.Error,
	}
	if c.ValidatedAt != nil {
		out.Validated = rfc3339(*c.ValidatedAt)
	}
	switch c.Type {
	case challenges.TypeTKAuth01:
		out.TKAuthType = "jwt"
	case dnspersist.Type:
		out.Token = ""
		out.IssuerDomainNames = s.opts.Meta.IssuerDomainNames
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

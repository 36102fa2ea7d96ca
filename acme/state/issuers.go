package state

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Issuers is the set of intermediates an [Engine] knows. The active one
// signs every new certificate; the others sign nothing new but stay loaded
// for the certificates they issued: downloads build each certificate's
// chain from its own issuer, each issuer signs its own CRL, revocation and
// renewal information work for all of them. This is how an intermediate is
// rotated without invalidating what the old one issued.
//
// Members are found by their key identifier in lowercase hex, which is the
// issuer key ID stored with every certificate and the authority key
// identifier in it. An Issuers is immutable and safe for concurrent use.
type Issuers struct {
	active Issuer
	all    []Issuer
	byID   map[string]Issuer
}

// NewIssuers builds the set from the active issuer and any others, in the
// order given. It fails when an issuer is nil, has no key identifier, or
// shares its key identifier with another member.
func NewIssuers(active Issuer, others ...Issuer) (*Issuers, error) {
	s := &Issuers{active: active, byID: map[string]Issuer{}}
	for _, iss := range append([]Issuer{active}, others...) {
		if iss == nil {
			return nil, errors.New("state: an issuer is nil")
		}
		id := hex.EncodeToString(iss.KeyID())
		if id == "" {
			return nil, errors.New("state: an issuer has no key identifier")
		}
		if _, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("state: two issuers share the key identifier %s", id)
		}
		s.byID[id] = iss
		s.all = append(s.all, iss)
	}
	return s, nil
}

// Active returns the issuer that signs new certificates.
func (s *Issuers) Active() Issuer { return s.active }

// ActiveKeyID returns the key identifier of the active issuer in
// lowercase hex.
func (s *Issuers) ActiveKeyID() string { return hex.EncodeToString(s.active.KeyID()) }

// ByKeyID returns the member whose key identifier is keyID (hex, either
// case), and false when none is.
func (s *Issuers) ByKeyID(keyID string) (Issuer, bool) {
	iss, ok := s.byID[strings.ToLower(keyID)]
	return iss, ok
}

// All returns every member, the active one first. The slice is a copy.
func (s *Issuers) All() []Issuer { return append([]Issuer(nil), s.all...) }

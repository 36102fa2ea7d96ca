package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"github.com/acmegate/acmegate/store"
)

// Operator is the authenticated caller of a request.
type Operator struct {
	// Label names the operator: the token's label, or the client name of
	// the certificate that matched [Options.ClientNames].
	Label string
	// Credential identifies what authenticated the request:
	// "token:<id>" or "certificate:<serial>". It is no secret.
	Credential string
}

// Actor is the operator as audit events name it: "operator:<label>".
func (o *Operator) Actor() string { return "operator:" + o.Label }

type operatorKey struct{}

// OperatorFrom returns the operator authenticated for the request's
// context, or nil.
func OperatorFrom(ctx context.Context) *Operator {
	op, _ := ctx.Value(operatorKey{}).(*Operator)
	return op
}

// Refusals. Their messages name what was wrong without echoing the
// credential.
var (
	errNoCredential = errorf(http.StatusUnauthorized,
		"authentication required: send a bearer token or a client certificate")
	errBadAuthorization = errorf(http.StatusUnauthorized,
		"the Authorization header must be \"Bearer <token>\"")
	errUnknownToken    = errorf(http.StatusUnauthorized, "the token is not valid")
	errRevokedToken    = errorf(http.StatusUnauthorized, "the token was revoked")
	errUntrustedCert   = errorf(http.StatusUnauthorized, "the client certificate is not trusted")
	errUnrecordedCert  = errorf(http.StatusForbidden, "the client certificate was not issued here")
	errRevokedCert     = errorf(http.StatusForbidden, "the client certificate was revoked")
	errNotOperatorCert = errorf(http.StatusForbidden,
		"the client certificate names no operator")
)

// authenticate finds the operator of r. A bearer token, when sent, decides
// alone; otherwise the client certificate does.
func (s *Server) authenticate(r *http.Request) (*Operator, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return s.tokenOperator(r.Context(), h)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return s.certOperator(r.Context(), r.TLS.PeerCertificates[0])
	}
	return nil, errNoCredential
}

// tokenOperator looks the token up by its hash. The token has 256 bits of
// entropy, so the lookup by hash reveals nothing useful through timing.
func (s *Server) tokenOperator(ctx context.Context, header string) (*Operator, error) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, errBadAuthorization
	}
	row, err := s.store.Read(ctx).AdminTokenByHash(HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownToken
	}
	if err != nil {
		return nil, err
	}
	if row.RevokedAt != nil {
		return nil, errRevokedToken
	}
	return &Operator{Label: row.Label, Credential: "token:" + row.ID}, nil
}

// certOperator accepts a client certificate that chains through our
// intermediate to our root with the clientAuth usage at the current time,
// is recorded in the store as valid, and names an operator. Intermediates
// the client sends are ignored: only ours may sign.
func (s *Server) certOperator(ctx context.Context, leaf *x509.Certificate) (*Operator, error) {
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         s.roots,
		Intermediates: s.intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   s.clock.Now(),
	})
	if err != nil || !s.viaIntermediate(chains) {
		return nil, errUntrustedCert
	}
	name := s.operatorName(leaf)
	if name == "" {
		return nil, errNotOperatorCert
	}
	serial := serialHex(leaf)
	row, err := s.store.Read(ctx).Certificate(serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnrecordedCert
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(row.DER, leaf.Raw) {
		return nil, errUnrecordedCert
	}
	if row.Status != "valid" {
		return nil, errRevokedCert
	}
	return &Operator{Label: name, Credential: "certificate:" + serial}, nil
}

// viaIntermediate reports whether a chain runs leaf, our intermediate,
// our root; a leaf the root signed directly is not ours to accept.
func (s *Server) viaIntermediate(chains [][]*x509.Certificate) bool {
	for _, c := range chains {
		if len(c) == 3 && c[1].Equal(s.intermediate) {
			return true
		}
	}
	return false
}

// operatorName returns the first of the certificate's common name and
// subject alternative names that is among the configured client names,
// or "" when none is.
func (s *Server) operatorName(cert *x509.Certificate) string {
	candidates := []string{cert.Subject.CommonName}
	candidates = append(candidates, cert.DNSNames...)
	candidates = append(candidates, cert.EmailAddresses...)
	for _, ip := range cert.IPAddresses {
		candidates = append(candidates, ip.String())
	}
	for _, u := range cert.URIs {
		candidates = append(candidates, u.String())
	}
	for _, c := range candidates {
		if c != "" && s.clientNames[strings.ToLower(c)] {
			return c
		}
	}
	return ""
}

// requireOperator wraps next so that only authenticated callers reach it,
// with their [Operator] in the request context.
func (s *Server) requireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, err := s.authenticate(r)
		if err != nil {
			if errors.Is(err, errNoCredential) || errors.Is(err, errBadAuthorization) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="acmegate-admin"`)
			}
			s.fail(w, r, err)
			return
		}
		inner := r.WithContext(context.WithValue(r.Context(), operatorKey{}, op))
		next.ServeHTTP(w, inner)
		// The mux sets the matched pattern on the request it was given.
		annotate(w, op, inner.Pattern)
	})
}

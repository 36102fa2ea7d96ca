package state

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
)

// ocspValidity is how long an OCSP response stays fresh (its nextUpdate).
const ocspValidity = time.Hour

// OCSPResponse answers a DER OCSP request (RFC 6960) with a DER response
// signed by the issuer the request names, which acts as its own responder.
// The status is good for a certificate that is not revoked, revoked (with
// its time and reason) for one that is, and unknown for a serial this
// issuer never issued. A request that cannot be parsed gets the
// malformedRequest response and no error; a request naming no configured
// issuer gets unauthorized. Nothing is cached.
func (e *Engine) OCSPResponse(ctx context.Context, rawRequest []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(rawRequest)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	issuer := e.ocspIssuer(req)
	if issuer == nil {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	now := e.clock.Now().UTC().Truncate(time.Second)
	tmpl := ocsp.Response{
		SerialNumber: req.SerialNumber,
		Status:       ocsp.Unknown,
		ThisUpdate:   now,
		NextUpdate:   now.Add(ocspValidity),
	}
	serial := hex.EncodeToString(req.SerialNumber.Bytes())
	row, err := e.store.Read(ctx).Certificate(serial)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	case row.IssuerKeyID != hex.EncodeToString(issuer.KeyID()):
		// Issued by another of our intermediates: not this issuer's.
	case row.Status == "revoked" && row.RevokedAt != nil:
		tmpl.Status = ocsp.Revoked
		tmpl.RevokedAt = row.RevokedAt.UTC()
		tmpl.RevocationReason = row.RevocationReason
	default:
		tmpl.Status = ocsp.Good
	}
	return ocsp.CreateResponse(issuer.Certificate, issuer.Certificate, tmpl, issuer.Signer)
}

// ocspIssuer returns the configured issuer whose name and key hashes,
// computed with the request's hash algorithm, match the request's, or nil.
func (e *Engine) ocspIssuer(req *ocsp.Request) *ca.Issuer {
	if !req.HashAlgorithm.Available() {
		return nil
	}
	for _, m := range e.issuers.All() {
		is := caIssuer(m)
		if is == nil || is.Certificate == nil || is.Signer == nil {
			continue
		}
		keyHash, nameHash, ok := ocspIssuerHashes(is.Certificate, req.HashAlgorithm)
		if ok && bytes.Equal(keyHash, req.IssuerKeyHash) && bytes.Equal(nameHash, req.IssuerNameHash) {
			return is
		}
	}
	return nil
}

// ocspIssuerHashes hashes the issuer's subject public key bits and its
// encoded subject name, as RFC 6960, Section 4.1.1 defines the CertID.
func ocspIssuerHashes(cert *x509.Certificate, h crypto.Hash) (keyHash, nameHash []byte, ok bool) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) != 0 {
		return nil, nil, false
	}
	kh := h.New()
	kh.Write(spki.PublicKey.RightAlign())
	nh := h.New()
	nh.Write(cert.RawSubject)
	return kh.Sum(nil), nh.Sum(nil), true
}

// caIssuer returns the *ca.Issuer behind m: m itself, or what a wrapper
// such as acmetest's counting issuer returns from CA(); nil when neither.
func caIssuer(m Issuer) *ca.Issuer {
	switch is := m.(type) {
	case *ca.Issuer:
		return is
	case interface{ CA() *ca.Issuer }:
		return is.CA()
	}
	return nil
}

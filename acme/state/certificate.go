package state

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

// Certificate returns an issued certificate of acct by hex serial.
func (e *Engine) Certificate(ctx context.Context, acct *Account, serial string) (*Certificate, error) {
	row, err := e.store.Read(ctx).Certificate(strings.ToLower(serial))
	if err != nil {
		return nil, storeErr(err, "certificate")
	}
	if row.AccountID != acct.ID {
		return nil, notFound("certificate")
	}
	return certFromModel(row), nil
}

func certFromModel(row *store.Certificate) *Certificate {
	return &Certificate{Serial: row.Serial, AccountID: row.AccountID, OrderID: row.OrderID,
		IssuerKeyID: row.IssuerKeyID, DER: row.DER, Status: row.Status,
		NotBefore: row.NotBefore, NotAfter: row.NotAfter}
}

// Revocation reasons a subscriber may give (RFC 5280, Section 5.3.1):
// unspecified, keyCompromise, affiliationChanged, superseded,
// cessationOfOperation and privilegeWithdrawn.
var allowedReasons = map[int]bool{0: true, 1: true, 3: true, 4: true, 5: true, 9: true}

// RevokeRequest is a revocation (RFC 8555, Section 7.6). Exactly one of
// Account (a kid-signed request) and Key (a request signed with the
// certificate's own key) is set.
type RevokeRequest struct {
	CertificateDER []byte
	Reason         int
	Account        *Account
	Key            *jose.JSONWebKey
}

// Revoke revokes a certificate if the requester may: the account that
// ordered it, an account holding valid authorizations for all its names,
// or anyone holding its private key.
func (e *Engine) Revoke(ctx context.Context, req RevokeRequest) error {
	if !allowedReasons[req.Reason] {
		return problem.New(problem.BadRevocationReason,
			"reason %d is not allowed; use 0, 1, 3, 4, 5 or 9", req.Reason)
	}
	cert, err := x509.ParseCertificate(req.CertificateDER)
	if err != nil {
		return problem.New(problem.Malformed, "the certificate cannot be parsed")
	}
	serial := serialString(cert.SerialNumber.Bytes())
	row, err := e.store.Read(ctx).Certificate(serial)
	if err != nil || !bytes.Equal(row.DER, req.CertificateDER) {
		// A certificate we did not issue, or a forged one with our serial.
		return problem.New(problem.NotFound, "this server did not issue that certificate")
	}
	if err := e.mayRevoke(ctx, req, cert, row); err != nil {
		return err
	}
	if req.Reason == reasonKeyCompromise && req.Key == nil {
		return problem.New(problem.BadRevocationReason,
			"keyCompromise must be requested with a JWS signed by the certificate's key")
	}
	actor := "certificate-key"
	if req.Account != nil {
		actor = req.Account.ID
	}
	now := e.clock.Now().UTC()
	return e.store.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeCertificate(serial, req.Reason, now); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return problem.New(problem.AlreadyRevoked, "the certificate is already revoked")
			}
			return err
		}
		err := tx.Audit(store.Event{Type: EventCertificateRevoked, Actor: actor,
			Subject: "certificate:" + serial, Outcome: OutcomeSuccess,
			Data: map[string]any{"reason": req.Reason}})
		if err != nil || req.Reason != reasonKeyCompromise {
			return err
		}
		return e.blockCompromisedKey(tx, row.KeyHash, serial, now)
	})
}

// reasonKeyCompromise is the keyCompromise reason code (RFC 5280,
// Section 5.3.1).
const reasonKeyCompromise = 1

// blockCompromisedKey blocks a compromised key for future CSRs and account
// keys and revokes every other unexpired certificate that carries it, with
// an audit event for each.
func (e *Engine) blockCompromisedKey(tx *store.Tx, keyHash, serial string, now time.Time) error {
	if err := tx.BlockKey(keyHash, "keyCompromise revocation of "+serial); err != nil {
		return err
	}
	others, err := tx.CertificatesByKey(keyHash, now)
	if err != nil {
		return err
	}
	for _, c := range others {
		if c.Serial == serial || c.Status != StatusValid {
			continue
		}
		if err := tx.RevokeCertificate(c.Serial, reasonKeyCompromise, now); err != nil {
			return err
		}
		err := tx.Audit(store.Event{Type: EventCertificateRevoked, Actor: "system",
			Subject: "certificate:" + c.Serial, Outcome: OutcomeSuccess,
			Reason: "its key was reported compromised with certificate " + serial,
			Data:   map[string]any{"reason": reasonKeyCompromise}})
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) mayRevoke(ctx context.Context, req RevokeRequest, cert *x509.Certificate,
	row *store.Certificate) error {
	if req.Key != nil {
		spki, err := x509.MarshalPKIXPublicKey(req.Key.Key)
		if err != nil || !bytes.Equal(spki, cert.RawSubjectPublicKeyInfo) {
			return problem.New(problem.Unauthorized,
				"the request is not signed by the certificate's key")
		}
		return nil
	}
	if req.Account == nil {
		return problem.New(problem.Unauthorized, "the request names no account and no key")
	}
	if row.AccountID == req.Account.ID {
		return nil
	}
	names := certNames(cert)
	authzs, err := e.store.Read(ctx).ValidAuthorizationsFor(req.Account.ID, names, e.clock.Now())
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, a := range authzs {
		have[a.IdentifierValue] = true
	}
	for _, n := range names {
		if !have[strings.TrimPrefix(n, "*.")] {
			return problem.New(problem.Unauthorized,
				"the account did not order this certificate and holds no valid authorization for %s", n)
		}
	}
	return nil
}

// CertificateID returns the RFC 9773 (Section 4.1) identifier of a
// certificate: the base64url authority key identifier and serial number.
func CertificateID(cert *x509.Certificate) string {
	return store.CertificateID(hex.EncodeToString(cert.AuthorityKeyId),
		hex.EncodeToString(cert.SerialNumber.Bytes()))
}

// parsedCertificateID is an ARI identifier read: the issuer key ID and
// the serial in hex, and the identifier as [CertificateID] spells it.
type parsedCertificateID struct {
	akiHex, serial, canonical string
}

// parseCertificateID reads an ARI identifier. Its serial may carry leading
// zero octets that DER would not; the canonical spelling drops them.
func parseCertificateID(id string) (parsedCertificateID, error) {
	aki, serial, ok := strings.Cut(id, ".")
	if !ok {
		return parsedCertificateID{}, problem.New(problem.Malformed,
			"the certificate ID must be AKI.serial (RFC 9773)")
	}
	akiBytes, err1 := base64.RawURLEncoding.DecodeString(aki)
	serialBytes, err2 := base64.RawURLEncoding.DecodeString(serial)
	if err1 != nil || err2 != nil || len(akiBytes) == 0 || len(serialBytes) == 0 {
		return parsedCertificateID{}, problem.New(problem.Malformed,
			"the certificate ID is not valid base64url")
	}
	n := new(big.Int).SetBytes(serialBytes)
	akiHex, serialHex := hex.EncodeToString(akiBytes), serialString(n.Bytes())
	return parsedCertificateID{akiHex: akiHex, serial: serialHex,
		canonical: store.CertificateID(akiHex, serialHex)}, nil
}

// RenewalInfo returns the suggested renewal window of a certificate
// (RFC 9773, Section 4.2): the last third of its lifetime starts the
// window, which ends halfway through that third; a revoked certificate,
// or one an operator marked for early renewal, should be renewed now. The
// certificates of an issuer that is no longer the active one get a window
// that opens now (see [Issuers]); any configured issuer's certificates are
// found by their authority key identifier and serial.
func (e *Engine) RenewalInfo(ctx context.Context, certID string) (*RenewalInfo, error) {
	id, err := parseCertificateID(certID)
	if err != nil {
		return nil, err
	}
	row, err := e.store.Read(ctx).Certificate(id.serial)
	if err != nil || row.IssuerKeyID != id.akiHex {
		return nil, problem.New(problem.NotFound, "no certificate with that ID was issued here")
	}
	lifetime := row.NotAfter.Sub(row.NotBefore)
	info := &RenewalInfo{
		Start:      row.NotBefore.Add(lifetime * 2 / 3),
		End:        row.NotBefore.Add(lifetime * 5 / 6),
		RetryAfter: min(6*time.Hour, max(time.Minute, lifetime/20)),
	}
	now := e.clock.Now()
	if row.Status == StatusRevoked || (row.RenewalDue != nil && row.RenewalDue.Before(info.Start)) {
		start := now
		if row.RenewalDue != nil && row.Status != StatusRevoked && row.RenewalDue.After(now) {
			start = *row.RenewalDue
		}
		info.Start = start.Add(-time.Minute)
		info.End = start.Add(min(time.Hour, lifetime/10))
	} else if row.IssuerKeyID != e.issuers.ActiveKeyID() {
		rotatedWindow(info, now, lifetime)
	}
	return info, nil
}

// rotatedWindow moves the renewal window of a certificate whose issuer no
// longer signs, so that its client moves onto the active intermediate
// well before the old one is retired. RFC 9773, Section 4.2 leaves the
// window to the server. A window still in the future opens now instead
// and keeps the normal width (a sixth of the lifetime) or less, so that
// the clients of a rotated intermediate spread their renewals rather than
// all arriving at once. A window already open is left as it is.
func rotatedWindow(info *RenewalInfo, now time.Time, lifetime time.Duration) {
	if !info.Start.After(now) {
		return
	}
	info.Start = now.Add(-time.Minute)
	if end := now.Add(lifetime / 6); end.Before(info.End) {
		info.End = end
	}
}

// checkReplaces validates the replaces field of newOrder (RFC 9773,
// Section 5): it must name a certificate of this account, not already
// replaced by a finalized order. It returns the identifier in its
// canonical spelling, which orders keep, so that a second spelling of
// one serial cannot replace it twice.
func (e *Engine) checkReplaces(ctx context.Context, acct *Account, certID string) (string, error) {
	id, err := parseCertificateID(certID)
	if err != nil {
		return "", err
	}
	r := e.store.Read(ctx)
	row, err := r.Certificate(id.serial)
	if err != nil || row.IssuerKeyID != id.akiHex || row.AccountID != acct.ID {
		return "", problem.New(problem.Malformed, "replaces names no certificate of this account")
	}
	n, err := r.CountReplacingOrders(id.canonical, []string{StatusProcessing, StatusValid})
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", problem.New(problem.AlreadyReplaced,
			"another order already replaced this certificate; order again without replaces")
	}
	return id.canonical, nil
}

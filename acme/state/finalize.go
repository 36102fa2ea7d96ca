package state

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
	"github.com/acmegate/acmegate/store"
)

// maxLifetime returns the longest lifetime a profile allows.
func maxLifetime(p ca.Profile) time.Duration {
	return p.WithDefaults().MaxLifetime
}

// Finalize checks the CSR against a ready order and issues the certificate
// (RFC 8555, Section 7.4). Exactly one of several concurrent finalize
// requests moves the order to processing; the others get orderNotReady.
// The call waits a bounded time for the signer and returns the order,
// valid when issuance finished and processing otherwise. When the signer
// fails within that time the order is ready again and the error is an
// unavailable problem with a Retry-After, so the client finalizes again.
func (e *Engine) Finalize(ctx context.Context, acct *Account, orderID string, csrDER []byte) (*Order, error) {
	requested := time.Now()
	order, err := e.Order(ctx, acct, orderID)
	if err != nil {
		return nil, err
	}
	if order.Status != StatusReady {
		return nil, problem.New(problem.OrderNotReady, "the order is %s, not ready", order.Status)
	}

	// 1. Check the CSR before touching the order.
	csr, err := e.checkCSR(ctx, csrDER, acct, order)
	if err != nil {
		return nil, err
	}
	serial, err := ca.NewTimedSerial(e.rand, e.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("state: generating serial: %w", err)
	}
	serialHex := serialString(serial.Bytes())

	// 2. Move the order to processing and reserve the serial, with the
	// intent recorded, in one transaction. The compare-and-swap on the
	// order status is what makes a second finalize fail.
	err = e.store.TransactProgress(ctx, func(tx *store.Tx) error {
		err := tx.SetOrderStatus(orderID, []string{StatusReady}, StatusProcessing,
			map[string]any{"csr": csrDER})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(problem.OrderNotReady, "the order is already being finalized")
		}
		if err != nil {
			return err
		}
		if err := tx.ReserveSerial(serialHex, orderID); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventIssuanceRequested, Actor: acct.ID,
			Subject: "order:" + orderID, Outcome: OutcomeSuccess,
			Data: map[string]any{"serial": serialHex, "identifiers": order.Identifiers,
				"profile": order.Profile, "csr_key_sha256": keyHash(csr.Request().RawSubjectPublicKeyInfo)}})
	})
	if err != nil {
		return nil, err
	}

	// 3. Sign off the request goroutine, and wait for it a bounded time.
	// issueErr is written before done is closed and read only after.
	done := make(chan struct{})
	var issueErr error
	e.inflight.Add(1)
	e.metrics.finalizeStarted(serialHex, requested)
	go func() {
		defer e.inflight.Done()
		defer close(done)
		defer e.metrics.finalizeEnded(serialHex)
		issueErr = e.issue(order, csr, serial)
	}()
	timer := time.NewTimer(e.cfg.FinalizeWait)
	defer timer.Stop()
	select {
	case <-done:
		// 4. A signer outage put the order back to ready: tell the client
		// to finalize again later rather than handing it a dead order.
		if errors.Is(issueErr, errSignerFailed) {
			return nil, &problem.Error{Type: problem.Unavailable, RetryAfter: signerRetryAfter,
				Detail: "the signer is unavailable; the order is ready again, retry finalize later"}
		}
	case <-timer.C:
	case <-ctx.Done():
	}
	return e.Order(context.WithoutCancel(ctx), acct, orderID)
}

// errSignerFailed marks an issuance the signer refused or could not do
// (such as a lost HSM session); the order went back to ready.
var errSignerFailed = errors.New("state: the signer failed")

// signerRetryAfter is the Retry-After, in seconds, of a finalize answered
// during a signer outage.
const signerRetryAfter = 10

// issue signs the certificate for a processing order and commits it with
// the order's valid state and the audit event. A signer failure puts the
// order back to ready and returns an error wrapping [errSignerFailed], so
// the client can finalize again once the signer is back; a store failure
// leaves it processing for recovery and returns nil.
func (e *Engine) issue(order *Order, csr *ca.CheckedCSR, serial *big.Int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	now := e.clock.Now()
	serialHex := serialString(serial.Bytes())
	log := e.log.With("order_id", order.ID, "account_id", order.AccountID, "serial", serialHex)

	profile, err := e.issueProfile(ctx, order)
	if err != nil {
		// The order stays processing; recovery signs it later.
		log.Error("applying the issuance policy failed", "error", err)
		return nil
	}
	// The active issuer is read once: the certificate, its stored issuer
	// key ID and its CRL URL must all name the same intermediate.
	issuer := e.issuers.Active()
	issuerKeyID := hex.EncodeToString(issuer.KeyID())
	req := issueRequest(order, csr, profile, now)
	req.Serial = serial
	req.Profile.CRLDistributionPoint = crlURLFor(req.Profile.CRLDistributionPoint, issuerKeyID)
	signStart := time.Now()
	cert, der, err := issuer.Issue(req)
	e.metrics.observeSigner(time.Since(signStart), err)
	if err != nil {
		log.Error("signing certificate failed", "error", err)
		e.releaseIssuance(ctx, order, serialHex, err)
		return fmt.Errorf("%w: %w", errSignerFailed, err)
	}
	row := &store.Certificate{
		Serial:      serialHex,
		OrderID:     order.ID,
		AccountID:   order.AccountID,
		IssuerKeyID: issuerKeyID,
		DER:         der,
		Names:       strings.Join(certNames(cert), ","),
		Profile:     order.Profile,
		KeyHash:     keyHash(cert.RawSubjectPublicKeyInfo),
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		Status:      StatusValid,
		Replaces:    order.Replaces,
	}
	err = e.store.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.CreateCertificate(row); err != nil {
			return err
		}
		err := tx.SetOrderStatus(order.ID, []string{StatusProcessing}, StatusValid,
			map[string]any{"certificate_serial": serialHex})
		if err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventCertificateIssued, Actor: order.AccountID,
			Subject: "certificate:" + serialHex, Outcome: OutcomeSuccess,
			Data: map[string]any{"order_id": order.ID, "names": certNames(cert),
				"profile": order.Profile, "not_before": cert.NotBefore, "not_after": cert.NotAfter,
				"replaces": order.Replaces}})
	})
	if err != nil {
		// The certificate was signed but not stored: it was never returned
		// to anyone. Recovery re-issues the order with a new serial; the
		// reservation of this one stays on record.
		log.Error("storing issued certificate failed", "error", err)
		return nil
	}
	e.metrics.issued(serialHex, order.Profile)
	log.Info("certificate issued", "names", row.Names, "profile", order.Profile)
	return nil
}

// releaseIssuance undoes a finalize the signer could not complete: the
// order goes from processing back to ready, and the audit event says why
// and that the reserved serial was never used. The reservation stays on
// record, so the serial is never handed out again. When the store write
// fails too, the order stays processing and recovery signs it later.
func (e *Engine) releaseIssuance(ctx context.Context, order *Order, serialHex string, cause error) {
	err := e.store.Transact(ctx, func(tx *store.Tx) error {
		err := tx.SetOrderStatus(order.ID, []string{StatusProcessing}, StatusReady, nil)
		if err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventIssuanceFailed, Actor: order.AccountID,
			Subject: "order:" + order.ID, Outcome: OutcomeFailure,
			Reason: "signer failed: " + cause.Error(),
			Data:   map[string]any{"serial": serialHex, "serial_used": false, "order_status": StatusReady}})
	})
	if err != nil {
		e.log.Error("releasing failed issuance failed", "order_id", order.ID, "error", err)
	}
}

func (e *Engine) failIssuance(ctx context.Context, order *Order, serialHex string, cause error) {
	prob := problem.New(problem.ServerInternal, "the certificate could not be signed")
	err := e.store.Transact(ctx, func(tx *store.Tx) error {
		err := tx.SetOrderStatus(order.ID, []string{StatusProcessing}, StatusInvalid,
			map[string]any{"error": mustJSON(prob.ToDocument())})
		if err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventIssuanceFailed, Actor: order.AccountID,
			Subject: "order:" + order.ID, Outcome: OutcomeFailure, Reason: cause.Error(),
			Data: map[string]any{"serial": serialHex}})
	})
	if err != nil {
		e.log.Error("recording failed issuance failed", "order_id", order.ID, "error", err)
	}
}

// issueRequest builds the signer's request from the order: the names come
// from the order's identifiers, never from the CSR.
func issueRequest(order *Order, csr *ca.CheckedCSR, profile ca.Profile, now time.Time) ca.IssueRequest {
	req := ca.IssueRequest{CSR: csr, Profile: profile, Now: now}
	for _, id := range order.Identifiers {
		switch id.Type {
		case IdentifierIP:
			req.IPAddresses = append(req.IPAddresses, net.ParseIP(id.Value))
		case IdentifierPermanent:
			p, _ := deviceattest.ParsePermanentIdentifier(id.Value)
			req.PermanentIdentifiers = append(req.PermanentIdentifiers,
				ca.PermanentIdentifier{Value: p.Value, Assigner: p.Assigner})
		case IdentifierHardwareModule:
			h, _ := deviceattest.ParseHardwareModule(id.Value)
			req.HardwareModules = append(req.HardwareModules,
				ca.HardwareModule{Type: h.Type, Serial: []byte(h.Serial)})
		default:
			req.DNSNames = append(req.DNSNames, id.Value)
		}
	}
	if order.NotBefore != nil {
		req.NotBefore = *order.NotBefore
	}
	if order.NotAfter != nil {
		req.NotAfter = *order.NotAfter
	}
	return req
}

// checkCSR parses and checks a finalize CSR (RFC 8555, Section 7.4): valid
// signature, an acceptable key that is not the account key, and names that
// are exactly the order's identifiers.
func (e *Engine) checkCSR(ctx context.Context, der []byte, acct *Account, order *Order) (*ca.CheckedCSR, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, problem.New(problem.BadCSR, "the CSR cannot be parsed: %s", truncate(err.Error(), 200))
	}
	// Go's CheckSignature still accepts SHA-1 on a CSR, so the algorithm is
	// checked on its own (SECURITY-CATALOGUE D9).
	if !csrSignatureAlgorithms[csr.SignatureAlgorithm] {
		return nil, problem.New(problem.BadCSR, "the CSR signature algorithm %s is not accepted",
			csr.SignatureAlgorithm)
	}
	checked, err := ca.CheckCSR(csr)
	if err != nil {
		return nil, problem.New(problem.BadCSR, "the CSR signature does not verify")
	}
	if err := checkCSRKey(csr); err != nil {
		return nil, err
	}
	if err := e.checkPolicyKey(acct, order, csr.PublicKey); err != nil {
		return nil, err
	}
	if err := e.checkNotBlocked(e.store.Read(ctx), csr.RawSubjectPublicKeyInfo,
		problem.BadCSR); err != nil {
		return nil, err
	}
	acctSPKI, err := x509.MarshalPKIXPublicKey(acct.Key.Key)
	if err == nil && bytes.Equal(acctSPKI, csr.RawSubjectPublicKeyInfo) {
		return nil, problem.New(problem.BadCSR, "the CSR key must differ from the account key")
	}
	if err := checkCSRNames(csr, order.Identifiers); err != nil {
		return nil, err
	}
	if err := e.checkAttestedKey(ctx, order, csr); err != nil {
		return nil, err
	}
	return checked, nil
}

// csrSignatureAlgorithms are the signature algorithms accepted on a CSR:
// SHA-2 with RSA (PKCS #1 v1.5 or PSS) or ECDSA, and Ed25519.
var csrSignatureAlgorithms = map[x509.SignatureAlgorithm]bool{
	x509.SHA256WithRSA: true, x509.SHA384WithRSA: true, x509.SHA512WithRSA: true,
	x509.SHA256WithRSAPSS: true, x509.SHA384WithRSAPSS: true, x509.SHA512WithRSAPSS: true,
	x509.ECDSAWithSHA256: true, x509.ECDSAWithSHA384: true, x509.ECDSAWithSHA512: true,
	x509.PureEd25519: true,
}

func checkCSRKey(csr *x509.CertificateRequest) error {
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < 2048 || bits > 8192 {
			return problem.New(problem.BadCSR, "RSA keys must have 2048 to 8192 bits, got %d", bits)
		}
		if k.E != 65537 {
			return problem.New(problem.BadCSR, "RSA keys must use the exponent 65537")
		}
		if why := weakRSAKey(k); why != "" {
			return problem.New(problem.BadCSR, "the CSR key is known to be weak: %s", why)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384():
		default:
			return problem.New(problem.BadCSR, "ECDSA keys must use P-256 or P-384")
		}
	default:
		return problem.New(problem.BadCSR, "the CSR key type %T is not supported", csr.PublicKey)
	}
	// TODO: refuse keys of the Debian OpenSSL blocklist (CVE-2008-0166);
	// that needs the published list of weak moduli shipped as data.
	return nil
}

// checkCSRNames requires the CSR's SANs and common name to name exactly the
// order's identifiers, and says which differ.
func checkCSRNames(csr *x509.CertificateRequest, ids []Identifier) error {
	want := map[string]bool{}
	for _, id := range ids {
		if id.Type == IdentifierPermanent || id.Type == IdentifierHardwareModule {
			// A device's CSR need not name it (draft-ietf-acme-device-
			// attest-09, Section 3.2); the attested key binds it instead.
			continue
		}
		want[id.Type+":"+id.Value] = true
	}
	got := map[string]bool{}
	for _, n := range csr.DNSNames {
		got["dns:"+strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	for _, ip := range csr.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			got["ip:"+a.Unmap().String()] = true
		}
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return problem.New(problem.BadCSR, "the CSR may only request DNS names and IP addresses")
	}
	if cn := csr.Subject.CommonName; cn != "" {
		key := "dns:" + strings.ToLower(cn)
		if a, err := netip.ParseAddr(cn); err == nil {
			key = "ip:" + a.Unmap().String()
		}
		if !want[key] {
			return problem.New(problem.BadCSR, "the CSR common name %q is not an identifier of the order",
				truncate(cn, 64))
		}
		got[key] = true
	}
	var extra, missing []string
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return nil
	}
	slices.Sort(extra)
	slices.Sort(missing)
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "not in the order: "+truncate(strings.Join(extra, ", "), 300))
	}
	if len(missing) > 0 {
		parts = append(parts, "missing from the CSR: "+truncate(strings.Join(missing, ", "), 300))
	}
	return problem.New(problem.BadCSR, "the CSR names differ from the order's identifiers (%s)",
		strings.Join(parts, "; "))
}

// checkAttestedKey requires the CSR of an order with device identifiers to
// carry the key that the device attested, recorded by device-attest-01
// (draft-ietf-acme-device-attest-09, Section 5).
func (e *Engine) checkAttestedKey(ctx context.Context, order *Order, csr *x509.CertificateRequest) error {
	hasDevice := false
	for _, id := range order.Identifiers {
		hasDevice = hasDevice || id.Type == IdentifierPermanent || id.Type == IdentifierHardwareModule
	}
	if !hasDevice {
		return nil
	}
	want, err := deviceattest.KeyAnswer(csr.PublicKey)
	if err != nil {
		return problem.New(problem.BadCSR, "the CSR key cannot be compared with the attested key")
	}
	chals, err := e.store.Read(ctx).ChallengesFor(order.AuthzIDs)
	if err != nil {
		return err
	}
	for _, c := range chals {
		if c.Type != deviceattest.Type || c.Status != StatusValid {
			continue
		}
		var rec challenges.Record
		if err := json.Unmarshal([]byte(c.Record), &rec); err != nil || len(rec.Answers) == 0 ||
			rec.Answers[0] != want {
			return problem.New(problem.BadCSR, "the CSR key is not the key the device attested")
		}
	}
	return nil
}

// checkNotBlocked refuses a key that a keyCompromise revocation or an
// operator blocked.
func (e *Engine) checkNotBlocked(tx *store.Tx, spki []byte, t problem.Type) error {
	blocked, err := tx.KeyBlocked(keyHash(spki))
	if err != nil {
		return err
	}
	if blocked {
		return problem.New(t, "the key is blocked: it was reported compromised")
	}
	return nil
}

func certNames(cert *x509.Certificate) []string {
	names := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// keyHash is the hex SHA-256 of a DER SubjectPublicKeyInfo.
func keyHash(spki []byte) string {
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:])
}

// serialString is the lowercase hex form of a serial's bytes, the key
// certificates are stored and served under.
func serialString(b []byte) string { return hex.EncodeToString(b) }

// RecoverIssuance completes orders left processing by a crash or a failed
// store write, older than the given age: each is signed again with a new
// reserved serial. It returns how many orders it handled.
func (e *Engine) RecoverIssuance(ctx context.Context, olderThan time.Duration) (int, error) {
	before := e.clock.Now().Add(-olderThan)
	rows, err := e.store.Read(ctx).StuckOrders(before, 100)
	if err != nil {
		return 0, err
	}
	for i := range rows {
		e.recoverOrder(ctx, &rows[i])
	}
	return len(rows), nil
}

func (e *Engine) recoverOrder(ctx context.Context, row *store.Order) {
	log := e.log.With("order_id", row.ID)
	order, err := orderFromModel(row, nil, e.clock.Now())
	if err != nil {
		log.Error("loading stuck order failed", "error", err)
		return
	}
	order.Status = StatusProcessing
	parsed, err := x509.ParseCertificateRequest(row.CSR)
	if err != nil {
		e.failIssuance(ctx, order, "", fmt.Errorf("stored CSR unreadable: %w", err))
		return
	}
	csr, err := ca.CheckCSR(parsed)
	if err != nil {
		e.failIssuance(ctx, order, "", fmt.Errorf("stored CSR: %w", err))
		return
	}
	serial, err := ca.NewTimedSerial(e.rand, e.clock.Now())
	if err != nil {
		log.Error("generating serial failed", "error", err)
		return
	}
	serialHex := serialString(serial.Bytes())
	err = e.store.Transact(ctx, func(tx *store.Tx) error {
		// Claim the order: only the recoverer that still sees the row as it
		// was read moves its timestamp, so two recoverers (or a slow live
		// finalize) never both sign. Then reserve the new serial.
		err := tx.TouchProcessingOrder(row.ID, row.UpdatedAt)
		if err != nil {
			return err
		}
		if err := tx.ReserveSerial(serialHex, row.ID); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventIssuanceRequested, Actor: "system",
			Subject: "order:" + row.ID, Outcome: OutcomeSuccess, Reason: "recovering interrupted issuance",
			Data: map[string]any{"serial": serialHex}})
	})
	if err != nil {
		log.Error("reserving serial for recovery failed", "error", err)
		return
	}
	_ = e.issue(order, csr, serial)
}

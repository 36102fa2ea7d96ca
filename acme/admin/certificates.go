package admin

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// certificateJSON is a certificate as the API shows it.
type certificateJSON struct {
	Serial           string     `json:"serial"`
	Names            []string   `json:"names"`
	AccountID        string     `json:"account_id"`
	OrderID          string     `json:"order_id"`
	Profile          string     `json:"profile"`
	Status           string     `json:"status"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	IssuedAt         time.Time  `json:"issued_at"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason *int       `json:"revocation_reason,omitempty"`
	Replaces         string     `json:"replaces,omitempty"`
	RenewalDue       *time.Time `json:"renewal_due,omitempty"`
	PEM              string     `json:"pem,omitempty"`
}

func certificateFromModel(c *store.Certificate, now time.Time) certificateJSON {
	out := certificateJSON{Serial: c.Serial, Names: splitNames(c.Names), AccountID: c.AccountID,
		OrderID: c.OrderID, Profile: c.Profile, Status: c.Status, NotBefore: c.NotBefore.UTC(),
		NotAfter: c.NotAfter.UTC(), IssuedAt: c.CreatedAt.UTC(), RevokedAt: c.RevokedAt,
		Replaces: c.Replaces, RenewalDue: c.RenewalDue}
	if c.Status == state.StatusValid && !now.Before(c.NotAfter) {
		out.Status = "expired"
	}
	if c.RevokedAt != nil {
		reason := c.RevocationReason
		out.RevocationReason = &reason
	}
	if len(c.DER) > 0 {
		out.PEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))
	}
	return out
}

func splitNames(names string) []string {
	if names == "" {
		return []string{}
	}
	return strings.Split(names, ",")
}

// listCertificates answers GET /v1/certificates with the filters of
// `acmegate certs list`: name (* matches anything), account, profile,
// status (valid, revoked, expired), expiring_within (a duration; implies
// status=valid), issued_after and issued_before (RFC 3339) and limit
// (default 100, at most 1000).
func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	now := s.clock.Now().UTC()
	f, err := certificateFilter(r, now)
	if err != nil {
		return err
	}
	rows, err := s.store.Read(r.Context()).ListCertificates(f)
	if err != nil {
		return err
	}
	out := make([]certificateJSON, 0, len(rows))
	for i := range rows {
		out = append(out, certificateFromModel(&rows[i], now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"certificates": out})
	return nil
}

func certificateFilter(r *http.Request, now time.Time) (store.CertificateFilter, error) {
	q := r.URL.Query()
	f := store.CertificateFilter{AccountID: q.Get("account"), Profile: q.Get("profile"),
		Status: q.Get("status"), Now: now}
	switch f.Status {
	case "", "valid", "revoked", "expired":
	default:
		return f, errorf(http.StatusBadRequest, "status must be valid, revoked or expired")
	}
	if name := q.Get("name"); name != "" {
		f.NamePattern = "%" + strings.ReplaceAll(name, "*", "%") + "%"
	}
	if v := q.Get("expiring_within"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return f, errorf(http.StatusBadRequest, "expiring_within must be a duration like 72h")
		}
		f.ExpiresBefore = now.Add(d)
		if f.Status == "" {
			f.Status = "valid"
		}
	}
	var err error
	if f.IssuedAfter, err = queryTime(q.Get("issued_after"), "issued_after"); err != nil {
		return f, err
	}
	if f.IssuedBefore, err = queryTime(q.Get("issued_before"), "issued_before"); err != nil {
		return f, err
	}
	f.Limit, err = queryLimit(q.Get("limit"), 100, 1000)
	return f, err
}

// showCertificate answers GET /v1/certificates/{serial} with the
// certificate and its PEM.
func (s *Server) showCertificate(w http.ResponseWriter, r *http.Request, _ *Operator) error {
	serial, err := parseSerial(r.PathValue("serial"))
	if err != nil {
		return err
	}
	c, err := s.store.Read(r.Context()).Certificate(serial)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, certificateFromModel(c, s.clock.Now()))
	return nil
}

// revokeRequest is the body of POST /v1/certificates/{serial}/revoke.
// Reason is an RFC 5280 code (Section 5.3.1) or its name; absent means
// unspecified.
type revokeRequest struct {
	Reason  json.RawMessage `json:"reason"`
	Comment string          `json:"comment"`
}

// reasonCodes are the names of the reasons an operator may give.
var reasonCodes = map[string]int{
	"unspecified": 0, "keyCompromise": 1, "affiliationChanged": 3, "superseded": 4,
	"cessationOfOperation": 5, "privilegeWithdrawn": 9,
}

// revokeCertificate answers POST /v1/certificates/{serial}/revoke through
// the state machine, which writes the certificate.revoked audit event with
// the operator as actor.
func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request, op *Operator) error {
	serial, err := parseSerial(r.PathValue("serial"))
	if err != nil {
		return err
	}
	var req revokeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	reason, err := parseReason(req.Reason)
	if err != nil {
		return err
	}
	err = s.revoker.RevokeByOperator(r.Context(), serial, reason, op.Actor(),
		truncate(req.Comment, 500))
	if err != nil {
		return err
	}
	c, err := s.store.Read(r.Context()).Certificate(serial)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, certificateFromModel(c, s.clock.Now()))
	return nil
}

func parseReason(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var code int
	if err := json.Unmarshal(raw, &code); err == nil {
		return code, nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err == nil {
		if code, ok := reasonCodes[name]; ok {
			return code, nil
		}
	}
	return 0, errorf(http.StatusBadRequest, "reason must be an RFC 5280 reason code or one of "+
		"unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, "+
		"privilegeWithdrawn")
}

// renewalRequest is the body of POST /v1/renewals.
type renewalRequest struct {
	Name    string `json:"name"`
	Account string `json:"account"`
	Profile string `json:"profile"`
	Reason  string `json:"reason"`
	// At starts the renewal window; default now.
	At *time.Time `json:"at"`
}

// pushRenewal answers POST /v1/renewals: it moves the renewal window of the
// matching valid certificates to start now (or at), so that clients
// polling renewal information renew (RFC 9773, Section 4.2), and records
// the certificate.renewal_pushed audit event.
func (s *Server) pushRenewal(w http.ResponseWriter, r *http.Request, op *Operator) error {
	var req renewalRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" && req.Account == "" && req.Profile == "" {
		return errorf(http.StatusBadRequest, "give at least one of name, account or profile")
	}
	if strings.TrimSpace(req.Reason) == "" {
		return errorf(http.StatusBadRequest, "reason is required: it goes into the audit log")
	}
	now := s.clock.Now().UTC()
	due := now
	if req.At != nil {
		due = req.At.UTC()
	}
	f := store.CertificateFilter{AccountID: req.Account, Profile: req.Profile, Now: now}
	if req.Name != "" {
		f.NamePattern = "%" + strings.ReplaceAll(req.Name, "*", "%") + "%"
	}
	var serials []string
	err := s.store.Transact(r.Context(), func(tx *store.Tx) error {
		var err error
		if serials, err = tx.MarkForRenewal(f, due); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: state.EventRenewalPushed, Actor: op.Actor(),
			Subject: "certificates", Outcome: state.OutcomeSuccess,
			Reason: truncate(req.Reason, 500),
			Data: map[string]any{"serials": serials, "due": due, "name": req.Name,
				"account": req.Account, "profile": req.Profile, "credential": op.Credential}})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"serials": serials, "due": due})
	return nil
}

// parseSerial accepts a serial in hex, with or without colons and leading
// zeros, and returns it as the store keeps it.
func parseSerial(s string) (string, error) {
	bad := errorf(http.StatusBadRequest, "the serial must be a positive hex number")
	s = strings.ReplaceAll(s, ":", "")
	if len(s) > 128 {
		return "", bad
	}
	n, ok := new(big.Int).SetString(s, 16)
	if !ok || n.Sign() <= 0 {
		return "", bad
	}
	return hex.EncodeToString(n.Bytes()), nil
}

// serialHex returns a certificate's serial as the store keeps it.
func serialHex(c *x509.Certificate) string {
	return hex.EncodeToString(c.SerialNumber.Bytes())
}

func queryTime(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "%s must be an RFC 3339 time", name)
	}
	return t.UTC(), nil
}

func queryLimit(v string, def, most int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, errorf(http.StatusBadRequest, "limit must be between 1 and %d", most)
	}
	return n, nil
}

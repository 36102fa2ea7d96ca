package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
)

// fillOptions are the flags of "bench fill".
type fillOptions struct {
	data     string
	db       string
	n        int
	accounts int
	days     int
	seed     uint64
	batch    int
	audit    bool
	quiet    bool
}

// fillStats counts what a fill wrote.
type fillStats struct {
	Accounts       int `json:"accounts"`
	Lineages       int `json:"lineages"`
	Certificates   int `json:"certificates"`
	Revoked        int `json:"revoked"`
	Orders         int `json:"orders"`
	Authorizations int `json:"authorizations"`
	Challenges     int `json:"challenges"`
	BlockedKeys    int `json:"blocked_keys"`
	AuditEvents    int `json:"audit_events"`
	Seconds        float64
}

// insertChunk is how many rows go into one INSERT statement: far under
// SQLite's 32766 and PostgreSQL's 65535 bound parameters for the widest
// model.
const insertChunk = 500

func parseFillFlags(args []string, stderr io.Writer) (fillOptions, error) {
	var o fillOptions
	fs := flag.NewFlagSet("fill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.data, "data", "", "gateway data folder holding intermediate.pem (required)")
	fs.StringVar(&o.db, "db", "", "database URL (default SQLite <data>/acmegate.db)")
	fs.IntVar(&o.n, "n", 1_000_000, "certificates to add")
	fs.IntVar(&o.accounts, "accounts", 300, "accounts the certificates belong to")
	fs.IntVar(&o.days, "days", 90, "days of history the certificates spread over")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated history")
	fs.IntVar(&o.batch, "batch", 5000, "certificates per transaction")
	fs.BoolVar(&o.audit, "audit", true, "append a chained audit event per issuance and revocation")
	fs.BoolVar(&o.quiet, "q", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.data == "":
		return o, errors.New("-data is required")
	case o.n < 1 || o.accounts < 1 || o.days < 1 || o.batch < 1:
		return o, errors.New("-n, -accounts, -days and -batch must be positive")
	}
	if o.db == "" {
		o.db = "sqlite://" + filepath.Join(o.data, "acmegate.db")
	}
	return o, nil
}

// fillCommand implements "bench fill -data DIR [-db URL] [-n N] ...".
func fillCommand(args []string) int {
	opts, err := parseFillFlags(args, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench fill:", err)
		return exitBadSetup
	}
	stats, err := fill(context.Background(), opts, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench fill:", err)
		return exitErrors
	}
	fmt.Printf("filled %s: %d certificates (%d revoked) of %d accounts in %d lineages, "+
		"%d orders, %d authorizations, %d challenges, %d blocked keys, %d audit events in %.0fs\n",
		redactURL(opts.db), stats.Certificates, stats.Revoked, stats.Accounts, stats.Lineages,
		stats.Orders, stats.Authorizations, stats.Challenges, stats.BlockedKeys, stats.AuditEvents,
		stats.Seconds)
	return exitOK
}

// fill adds the generated history to the gateway's database. The
// gateway must not be running: the audit chain is extended without the
// gateway's own writers.
func fill(ctx context.Context, opts fillOptions, progress io.Writer) (*fillStats, error) {
	start := time.Now()

	// 1. The intermediate the gateway issues with, made by its first start
	// or by acmegate init.
	inter, err := ca.ReadCertificateFile(filepath.Join(opts.data, ca.IntermediateCertFile))
	if err != nil {
		return nil, fmt.Errorf("%w: start `acmegate serve --data %s` once, or run acmegate init, "+
			"before filling", err, opts.data)
	}
	model := newFillModel(opts.seed, opts.n, opts.accounts, opts.days, time.Now())
	history := time.Duration(opts.days) * 24 * time.Hour
	issuers := fillIssuers{current: inter.SubjectKeyId, previous: fakeKeyID(inter.Subject.String()),
		rotation: model.now.Add(-history / 3)}
	der, csr, err := sharedBlobs()
	if err != nil {
		return nil, err
	}

	// 2. The store, migrated, with one connection: bulk inserts gain
	// nothing from more, and SQLite's cache settings are per connection.
	st, err := store.Open(ctx, store.Options{URL: opts.db, MaxOpenConns: 1, NoGroupCommit: true,
		Synchronous: "NORMAL"})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	db := st.DB().WithContext(ctx)
	if st.Dialect() == store.SQLite {
		if err := db.Exec("PRAGMA cache_size = -262144").Error; err != nil {
			return nil, fmt.Errorf("sizing the page cache: %w", err)
		}
	}

	// 3. Accounts first, then the certificates in issue order.
	stats := &fillStats{Accounts: len(model.accounts), Lineages: len(model.lineages)}
	if err := insertAccounts(db, model); err != nil {
		return nil, err
	}
	rows := newRowMaker(model, issuers, der, csr)
	var b fillBatch
	for from := 0; from < len(model.certs); from += opts.batch {
		b.reset()
		for _, pc := range model.certs[from:min(from+opts.batch, len(model.certs))] {
			rows.add(&b, pc)
		}
		if err := writeBatch(db, st.Dialect(), &b, opts.audit, stats); err != nil {
			return nil, err
		}
		if !opts.quiet {
			fmt.Fprintf(progress, "fill: %d/%d certificates, %.0fs\n", stats.Certificates,
				len(model.certs), time.Since(start).Seconds())
		}
	}
	stats.Seconds = time.Since(start).Seconds()
	return stats, nil
}

// writeBatch inserts the rows of b, and their audit events when audit is
// set, in one transaction.
func writeBatch(db *gorm.DB, d store.Dialect, b *fillBatch, audit bool, stats *fillStats) error {
	err := db.Transaction(func(tx *gorm.DB) error {
		for _, rows := range []any{b.orders, b.authzs, b.chals, b.links, b.certs} {
			if err := tx.CreateInBatches(rows, insertChunk).Error; err != nil {
				return fmt.Errorf("inserting %T: %w", rows, err)
			}
		}
		if len(b.members) > 0 {
			err := tx.Clauses(clause.OnConflict{DoNothing: true}).
				CreateInBatches(b.members, insertChunk).Error
			if err != nil {
				return fmt.Errorf("inserting name sets: %w", err)
			}
		}
		if len(b.blocked) > 0 {
			err := tx.Clauses(clause.OnConflict{DoNothing: true}).
				CreateInBatches(b.blocked, insertChunk).Error
			if err != nil {
				return fmt.Errorf("inserting blocked keys: %w", err)
			}
		}
		if !audit {
			return nil
		}
		n, err := appendAudit(tx, d, b.certs)
		stats.AuditEvents += n
		return err
	})
	if err != nil {
		return err
	}
	stats.Orders += len(b.orders)
	stats.Authorizations += len(b.authzs)
	stats.Challenges += len(b.chals)
	stats.Certificates += len(b.certs)
	stats.BlockedKeys += len(b.blocked)
	for _, c := range b.certs {
		if c.RevokedAt != nil {
			stats.Revoked++
		}
	}
	return nil
}

// appendAudit extends the audit chain with what the gateway records for
// these certificates: certificate.issued, and certificate.revoked for the
// revoked ones. The gateway writes more events per issuance (order,
// challenge, request); these two are the ones reports and audits look for.
func appendAudit(tx *gorm.DB, d store.Dialect, certs []store.Certificate) (int, error) {
	var head store.AuditHead
	q := tx
	if d != store.SQLite {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = ?", 1).Take(&head).Error; err != nil {
		return 0, fmt.Errorf("locking the audit head: %w", err)
	}
	events := make([]store.AuditEvent, 0, len(certs))
	add := func(at time.Time, typ, actor, subject string, data map[string]any) {
		js, _ := json.Marshal(data)
		ev := store.AuditEvent{Seq: head.Seq + 1, Time: at.UTC().Truncate(time.Millisecond),
			Type: typ, Actor: actor, Subject: subject, Outcome: state.OutcomeSuccess,
			Data: string(js), PrevHash: head.Hash}
		ev.Hash = ev.ComputeHash()
		head.Seq, head.Hash = ev.Seq, ev.Hash
		events = append(events, ev)
	}
	for _, c := range certs {
		add(c.CreatedAt, state.EventCertificateIssued, c.AccountID, "certificate:"+c.Serial,
			map[string]any{"order_id": c.OrderID, "names": strings.Split(c.Names, ","),
				"profile": c.Profile, "not_before": c.NotBefore, "not_after": c.NotAfter,
				"replaces": c.Replaces})
		if c.RevokedAt != nil {
			add(*c.RevokedAt, state.EventCertificateRevoked, c.AccountID, "certificate:"+c.Serial,
				map[string]any{"reason": c.RevocationReason})
		}
	}
	if err := tx.CreateInBatches(events, insertChunk).Error; err != nil {
		return 0, fmt.Errorf("appending audit events: %w", err)
	}
	err := tx.Model(&store.AuditHead{}).Where("id = ?", 1).
		Updates(map[string]any{"seq": head.Seq, "hash": head.Hash}).Error
	if err != nil {
		return 0, fmt.Errorf("moving the audit head: %w", err)
	}
	return len(events), nil
}

// insertAccounts writes the model's accounts, each with a real P-256 key
// so that its JWK and thumbprint (RFC 7638) are what a client would send.
func insertAccounts(db *gorm.DB, m *fillModel) error {
	rows := make([]store.Account, 0, len(m.accounts))
	for _, a := range m.accounts {
		jwk, thumb, err := accountKey()
		if err != nil {
			return err
		}
		rows = append(rows, store.Account{ID: a.id, Directory: "acme", KeyThumbprint: thumb,
			KeyJWK: jwk, Status: state.StatusValid, TermsAgreed: true,
			Contacts:  fmt.Sprintf(`["mailto:pki@%s"]`, a.domain),
			CreatedAt: a.created, UpdatedAt: a.created})
	}
	if err := db.CreateInBatches(rows, insertChunk).Error; err != nil {
		return fmt.Errorf("inserting accounts: %w", err)
	}
	return nil
}

func accountKey() (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generating an account key: %w", err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return "", "", fmt.Errorf("encoding an account key: %w", err)
	}
	point := pub.Bytes() // 0x04 || X || Y
	enc := base64.RawURLEncoding.EncodeToString
	x, y := enc(point[1:33]), enc(point[33:65])
	// RFC 7638, Section 3.2: the required members in lexical order.
	canonical := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, x, y)
	sum := sha256.Sum256([]byte(canonical))
	return canonical, enc(sum[:]), nil
}

// sharedBlobs makes the DER stored with every generated certificate and
// the CSR stored with every generated order: one real leaf certificate
// and one real request, of the size the gateway stores, made with a
// throwaway key. They do not match the rows' names, serials or dates.
func sharedBlobs() ([]byte, []byte, error) {
	issuerKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the template key: %w", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating the template key: %w", err)
	}
	now := time.Now().Truncate(time.Hour)
	issuer := &x509.Certificate{Subject: pkix.Name{CommonName: "acmegate fill template issuer"},
		SubjectKeyId: fakeKeyID("template")}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Lsh(big.NewInt(1), 127),
		NotBefore:    now, NotAfter: now.Add(24 * time.Hour),
		DNSNames:    []string{"fill-template.bench.example.internal"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		CRLDistributionPoints: []string{
			"http://acmegate.example.internal/acme/crl/0000000000000000000000000000000000000000"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &leafKey.PublicKey, issuerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the template certificate: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{DNSNames: tmpl.DNSNames}, leafKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the template request: %w", err)
	}
	return der, csr, nil
}

// redactURL hides the password of a database URL for printing.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return raw
	}
	return scheme + "://" + user + ":xxx" + rest[at:]
}

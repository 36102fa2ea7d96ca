package store

import "time"

// Account is one ACME account (RFC 8555, Section 7.1.2).
type Account struct {
	ID string `gorm:"primaryKey;size:40"`
	// Directory names the ACME directory the account belongs to; an
	// account is usable only there (SECURITY-CATALOGUE A10).
	Directory     string `gorm:"size:32;not null;default:acme;uniqueIndex:idx_accounts_key,priority:1"`
	KeyThumbprint string `gorm:"size:64;not null;uniqueIndex:idx_accounts_key,priority:2"`
	KeyJWK        string `gorm:"type:text;not null"`
	Status        string `gorm:"size:16;not null"`
	// Contacts is a JSON array of URLs.
	Contacts    string `gorm:"type:text"`
	TermsAgreed bool
	// EABKeyID names the external account binding key used at creation.
	EABKeyID  string `gorm:"size:64;index"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Order is one certificate order (RFC 8555, Section 7.1.3).
type Order struct {
	ID        string    `gorm:"primaryKey;size:40;index:idx_orders_account_page,priority:2"`
	AccountID string    `gorm:"size:40;not null;index:idx_orders_account,priority:1;index:idx_orders_account_page,priority:1;index:idx_orders_account_pending,priority:1"`
	Status    string    `gorm:"size:16;not null;index;index:idx_orders_account_pending,priority:2"`
	Expires   time.Time `gorm:"index:idx_orders_account_pending,priority:3"`
	NotBefore *time.Time
	NotAfter  *time.Time
	// Identifiers is a JSON array of {"type","value"} objects.
	Identifiers string `gorm:"type:text;not null"`
	// NamesHash is the [NameSetHash] of the identifier values, joined with
	// commas in their order; per-name rate limits count orders by it.
	NamesHash string `gorm:"size:32;index:idx_orders_names_created,priority:1"`
	Profile   string `gorm:"size:64"`
	// Error is the JSON problem document that made the order invalid.
	Error string `gorm:"type:text"`
	// CSR is the DER of the finalize request, kept so an interrupted
	// issuance can be completed after a restart.
	CSR               []byte
	CertificateSerial string `gorm:"size:64"`
	// Replaces is the ARI certificate ID this order renews (RFC 9773).
	Replaces  string    `gorm:"size:200;index"`
	CreatedAt time.Time `gorm:"index:idx_orders_account,priority:2;index:idx_orders_names_created,priority:2"`
	UpdatedAt time.Time
}

// OrderAuthorization links an order to one of its authorizations; an
// authorization may serve several orders of the same account.
type OrderAuthorization struct {
	OrderID string `gorm:"primaryKey;size:40"`
	AuthzID string `gorm:"primaryKey;size:40;index"`
}

// Authorization is one identifier authorization (RFC 8555, Section 7.1.4).
type Authorization struct {
	ID              string `gorm:"primaryKey;size:40"`
	AccountID       string `gorm:"size:40;not null;index:idx_authz_reuse,priority:1"`
	IdentifierType  string `gorm:"size:32;not null"`
	IdentifierValue string `gorm:"size:255;not null;index:idx_authz_reuse,priority:2"`
	Wildcard        bool
	Status          string `gorm:"size:16;not null"`
	Profile         string `gorm:"size:64"`
	// Method is how the authorization became valid without a challenge:
	// "grant" for an [OwnershipGrant]; empty when a challenge decides.
	Method string `gorm:"size:16"`
	// GrantID names the grant that made the authorization valid.
	GrantID   string    `gorm:"size:40;index"`
	Expires   time.Time `gorm:"index"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Challenge is one way to prove control of an authorization's identifier
// (RFC 8555, Section 7.1.5).
type Challenge struct {
	ID          string `gorm:"primaryKey;size:40"`
	AuthzID     string `gorm:"size:40;not null;index"`
	Type        string `gorm:"size:32;not null"`
	Token       string `gorm:"size:64;not null"`
	Status      string `gorm:"size:16;not null;index"`
	Position    int
	ValidatedAt *time.Time
	// Error is the JSON problem document of a failed validation.
	Error string `gorm:"type:text"`
	// Record is the JSON validation record kept for audit.
	Record    string `gorm:"type:text"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SerialReservation records a serial number before the signer is asked to
// use it, so that every signature the CA ever made can be accounted for.
type SerialReservation struct {
	Serial    string `gorm:"primaryKey;size:64"`
	OrderID   string `gorm:"size:40;index"`
	CreatedAt time.Time
}

// Certificate is one issued certificate with its revocation state.
//
// The inventory lists certificates newest first under one filter, so the
// filtered columns are indexed together with the creation time: a query
// walks the index in order and stops at its limit instead of sorting every
// match (BENCHMARKS.md, "One million certificates").
type Certificate struct {
	Serial      string `gorm:"primaryKey;size:64"`
	OrderID     string `gorm:"size:40;index"`
	AccountID   string `gorm:"size:40;index:idx_certificates_account_created,priority:1"`
	IssuerKeyID string `gorm:"size:64"`
	DER         []byte `gorm:"not null"`
	// Names is the comma-separated list of SAN values, for filtering.
	Names string `gorm:"type:text"`
	// NamesHash identifies the set of names (see [NameSetHash]); the
	// inventory and the per-name rate limits find certificates through it
	// and [NameSetMember]. The creation time index carries it too, so that
	// a name filter walking certificates newest first reads a row only
	// when its set matches.
	NamesHash string `gorm:"size:32;index:idx_certificates_names_created,priority:1;index:idx_certificates_created_at,priority:2"`
	Profile   string `gorm:"size:64;index:idx_certificates_profile_created,priority:1"`
	// KeyHash is the hex SHA-256 of the subject public key info.
	KeyHash          string    `gorm:"size:64;index"`
	NotBefore        time.Time `gorm:"index"`
	NotAfter         time.Time `gorm:"index"`
	Status           string    `gorm:"size:16;not null;index:idx_certificates_status_created,priority:1"`
	RevokedAt        *time.Time
	RevocationReason int
	Replaces         string `gorm:"size:200"`
	// ARIID is the certificate's own RFC 9773 identifier
	// ([CertificateID]), which a renewal's replaces field names; empty
	// for certificates stored before it was kept. It follows from
	// IssuerKeyID and Serial, but SQL cannot spell it, and the expiry
	// scan joins orders on it.
	ARIID string `gorm:"column:ari_id;size:200"`
	// RenewalDue, when set, moves the renewal window to start at this time
	// (RFC 9773, Section 4.2, operator-driven early renewal).
	RenewalDue *time.Time
	CreatedAt  time.Time `gorm:"index:idx_certificates_created_at,priority:1;index:idx_certificates_account_created,priority:2;index:idx_certificates_profile_created,priority:2;index:idx_certificates_status_created,priority:2;index:idx_certificates_names_created,priority:2"`
}

// NameSetMember records that a name is one of a set of names some
// certificate was issued for. Certificates renewed for the same names
// share a set, so a fleet's history of millions of certificates has far
// fewer sets; a name query matches names here, then reads the
// certificates of the matching sets by [Certificate.NamesHash].
type NameSetMember struct {
	Name    string `gorm:"primaryKey;size:255"`
	SetHash string `gorm:"primaryKey;size:32"`
}

// UsedNonce records a redeemed nonce until it expires; the primary key makes
// redemption single-use across replicas (RFC 8555, Section 6.5).
type UsedNonce struct {
	Value   string    `gorm:"primaryKey;size:64"`
	Expires time.Time `gorm:"index"`
}

// Setting is a small key/value row for values every replica must share, such
// as the nonce MAC key.
type Setting struct {
	Name  string `gorm:"primaryKey;size:64"`
	Value []byte
}

// EABKey is an external account binding MAC key (RFC 8555, Section 7.3.4).
type EABKey struct {
	ID string `gorm:"primaryKey;size:64"`
	// Directory names the ACME directory whose accounts the key may bind
	// (SECURITY-CATALOGUE C6).
	Directory string `gorm:"size:32;not null;default:acme"`
	Label     string `gorm:"size:200"`
	MACKey    []byte `gorm:"not null"`
	Reusable  bool
	Policy    string `gorm:"size:200"`
	Bindings  int
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AuditEvent is one link of the tamper-evident audit chain.
type AuditEvent struct {
	Seq      int64     `gorm:"primaryKey;autoIncrement:false"`
	Time     time.Time `gorm:"index"`
	Type     string    `gorm:"size:64;not null;index"`
	Actor    string    `gorm:"size:200"`
	Subject  string    `gorm:"size:200"`
	Outcome  string    `gorm:"size:16"`
	Reason   string    `gorm:"type:text"`
	Data     string    `gorm:"type:text"`
	PrevHash string    `gorm:"size:64"`
	Hash     string    `gorm:"size:64;not null"`
}

// AuditHead holds the sequence number and hash of the newest audit event.
// Writers lock this single row, which keeps the chain linear under
// concurrent transactions on every database.
type AuditHead struct {
	ID   int `gorm:"primaryKey;autoIncrement:false"`
	Seq  int64
	Hash string `gorm:"size:64"`
}

// RetiredAccountKey records a key an account used before a key change
// (RFC 8555, Section 7.3.5), by its RFC 7638 thumbprint. A dns-persist-01
// record made with it still names the account
// (draft-ietf-acme-dns-persist-02, Section 4.2).
type RetiredAccountKey struct {
	AccountID  string    `gorm:"primaryKey;size:40"`
	Thumbprint string    `gorm:"primaryKey;size:64"`
	RetiredAt  time.Time `gorm:"not null"`
}

func allModels() []any {
	return []any{
		&Account{}, &Order{}, &OrderAuthorization{}, &Authorization{},
		&Challenge{}, &SerialReservation{}, &Certificate{}, &UsedNonce{},
		&Setting{}, &EABKey{}, &AuditEvent{}, &AuditHead{}, &BlockedKey{}, &UsedToken{}, &PolicyVersion{},
		&Lease{},
		&AdminToken{}, &ExpiryNotice{}, &OwnershipGrant{}, &NameSetMember{},
		&RetiredAccountKey{},
	}
}

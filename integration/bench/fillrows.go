package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store"
)

// fillBatch holds the rows of some certificates, written in one
// transaction.
type fillBatch struct {
	orders  []store.Order
	links   []store.OrderAuthorization
	authzs  []store.Authorization
	chals   []store.Challenge
	certs   []store.Certificate
	blocked []store.BlockedKey
	// members are the name sets first seen in this batch.
	members []store.NameSetMember
}

func (b *fillBatch) reset() { *b = fillBatch{} }

// fillIssuers are the intermediates the history was issued by: the
// current one of the data folder and, before rotation, an earlier one
// that no longer exists.
type fillIssuers struct {
	current, previous []byte // subject key IDs
	rotation          time.Time
}

func (f fillIssuers) keyIDAt(t time.Time) []byte {
	if t.Before(f.rotation) {
		return f.previous
	}
	return f.current
}

// authzState is the authorization a lineage's next order may reuse for
// one of its names.
type authzState struct {
	id      string
	expires time.Time
}

// rowMaker turns planned certificates into rows, in issue order. It keeps
// what a lineage carries from one certificate to the next: the ARI
// certificate ID to replace, the reused key and the reusable
// authorizations.
type rowMaker struct {
	m       *fillModel
	issuers fillIssuers
	der     []byte // shared by every certificate
	csr     []byte // shared by every order
	prevID  []string
	keyHash []string
	authzs  [][]authzState
	// named marks the lineages whose name set is recorded.
	named []bool
}

func newRowMaker(m *fillModel, issuers fillIssuers, der, csr []byte) *rowMaker {
	return &rowMaker{m: m, issuers: issuers, der: der, csr: csr,
		prevID: make([]string, len(m.lineages)), keyHash: make([]string, len(m.lineages)),
		authzs: make([][]authzState, len(m.lineages)), named: make([]bool, len(m.lineages))}
}

// add appends the rows of pc to b: now and then a failed order first,
// then the valid order with its authorizations and the certificate.
func (r *rowMaker) add(b *fillBatch, pc plannedCert) {
	li, index := int(pc.lineage), int(pc.index)
	l := &r.m.lineages[li]
	acct := r.m.accounts[l.account].id
	rng := r.m.rngFor(li, index, streamRows)
	issued := pc.at

	// 1. Now and then the client failed validation before, in an order
	// that retention has not purged yet.
	ordered := issued.Add(-3 * time.Second)
	if r.m.now.Sub(issued) < failedOrderWindow && rng.Float64() < shareFailedOrder {
		r.addFailedOrder(b, rng, l, acct, ordered.Add(-10*time.Minute))
	}

	// 2. The order and its authorizations, reused while they last.
	serial := randomSerial(rng)
	order := store.Order{ID: randomID(rng), AccountID: acct, Status: state.StatusValid,
		Expires: ordered.Add(8 * time.Hour).Truncate(time.Second), Identifiers: identifiersJSON(l.names),
		NamesHash: r.namesHash(li), Profile: l.profile.name, CSR: r.csr, CertificateSerial: serialHex(serial),
		Replaces: r.prevID[li], CreatedAt: ordered, UpdatedAt: issued}
	if !l.ari {
		order.Replaces = ""
	}
	if r.authzs[li] == nil {
		r.authzs[li] = make([]authzState, len(l.names))
	}
	for j, name := range l.names {
		a := &r.authzs[li][j]
		if a.id == "" || !ordered.Add(time.Hour).Before(a.expires) {
			validated := ordered.Add(time.Second)
			*a = authzState{id: randomID(rng), expires: validated.Add(authzReuse).Truncate(time.Second)}
			r.addAuthz(b, rng, acct, l.profile.name, name, a.id, state.StatusValid, ordered,
				validated, a.expires, "")
		}
		b.links = append(b.links, store.OrderAuthorization{OrderID: order.ID, AuthzID: a.id})
	}
	b.orders = append(b.orders, order)

	// 3. The certificate, revoked now and then.
	b.certs = append(b.certs, r.certificate(rng, li, order, serial, issued))
	c := &b.certs[len(b.certs)-1]
	if !r.named[li] {
		r.named[li] = true
		b.members = append(b.members, store.NameSetMembers(c.Names)...)
	}
	if c.RevokedAt != nil && c.RevocationReason == 1 {
		b.blocked = append(b.blocked, store.BlockedKey{KeyHash: c.KeyHash,
			Reason: "keyCompromise revocation of " + c.Serial, CreatedAt: *c.RevokedAt})
	}
	r.prevID[li] = certificateID(r.issuers.keyIDAt(issued), serial)
}

// namesHash returns the name set hash of lineage li, which its orders and
// certificates share.
func (r *rowMaker) namesHash(li int) string {
	return store.NameSetHash(strings.Join(r.m.lineages[li].names, ","))
}

// certificate makes the certificate row of an order issued at issued.
func (r *rowMaker) certificate(rng *rand.Rand, li int, order store.Order, serial *big.Int,
	issued time.Time) store.Certificate {
	l := &r.m.lineages[li]
	keyHash := r.keyHash[li]
	if keyHash == "" || !l.reuseKey {
		keyHash = randomHex(rng, 32)
		r.keyHash[li] = keyHash
	}
	notBefore := issued.Add(-time.Minute).Truncate(time.Second)
	names := strings.Join(l.names, ",")
	c := store.Certificate{Serial: order.CertificateSerial, OrderID: order.ID,
		AccountID: order.AccountID, IssuerKeyID: hex.EncodeToString(r.issuers.keyIDAt(issued)),
		DER: r.der, Names: names, NamesHash: r.namesHash(li), Profile: l.profile.name,
		KeyHash:   keyHash,
		NotBefore: notBefore, NotAfter: notBefore.Add(l.profile.lifetime), Status: state.StatusValid,
		Replaces: order.Replaces, CreatedAt: issued}
	if rng.Float64() < shareRevoked {
		at := issued.Add(time.Duration(rng.Float64() * float64(c.NotAfter.Sub(issued))))
		if at.Before(r.m.now) {
			c.Status = state.StatusRevoked
			c.RevokedAt = &at
			c.RevocationReason = []int{0, 0, 0, 1, 4, 4, 4, 4, 5, 5}[rng.IntN(10)]
		}
	}
	if rng.Float64() < shareRenewalDue {
		due := issued.Add(l.interval / 2)
		c.RenewalDue = &due
	}
	return c
}

// addFailedOrder appends an order that went invalid because validation
// failed, with its invalid authorizations.
func (r *rowMaker) addFailedOrder(b *fillBatch, rng *rand.Rand, l *lineage, acct string,
	at time.Time) {
	problem := `{"type":"urn:ietf:params:acme:error:connection",` +
		`"detail":"connecting to the http-01 port: connection refused","status":400}`
	order := store.Order{ID: randomID(rng), AccountID: acct, Status: state.StatusInvalid,
		Expires: at.Add(8 * time.Hour).Truncate(time.Second), Identifiers: identifiersJSON(l.names),
		NamesHash: store.NameSetHash(strings.Join(l.names, ",")), Profile: l.profile.name, Error: problem, CreatedAt: at, UpdatedAt: at.Add(2 * time.Second)}
	for _, name := range l.names {
		id := randomID(rng)
		r.addAuthz(b, rng, acct, l.profile.name, name, id, state.StatusInvalid, at,
			at.Add(2*time.Second), at.Add(8*time.Hour).Truncate(time.Second), problem)
		b.links = append(b.links, store.OrderAuthorization{OrderID: order.ID, AuthzID: id})
	}
	b.orders = append(b.orders, order)
}

// addAuthz appends an authorization for name decided at decided with
// status, and its challenges: the one that decided it (valid, or invalid
// with problem), the others still pending, as the gateway leaves them.
func (r *rowMaker) addAuthz(b *fillBatch, rng *rand.Rand, acct, profile, name, id, status string,
	created, decided, expires time.Time, problem string) {
	idType, value, wildcard := identifierOf(name)
	b.authzs = append(b.authzs, store.Authorization{ID: id, AccountID: acct, IdentifierType: idType,
		IdentifierValue: value, Wildcard: wildcard, Status: status, Profile: profile,
		Expires: expires, CreatedAt: created, UpdatedAt: decided})
	types := challengeTypes(idType, wildcard)
	chosen := types[0]
	if len(types) > 1 && rng.Float64() < 0.3 {
		chosen = types[1+rng.IntN(len(types)-1)]
	}
	for pos, typ := range types {
		ch := store.Challenge{ID: randomID(rng), AuthzID: id, Type: typ, Token: randomID(rng) +
			randomID(rng)[:21], Status: state.StatusPending, Position: pos, CreatedAt: created,
			UpdatedAt: created}
		if typ == chosen {
			at := decided
			ch.Status, ch.ValidatedAt, ch.UpdatedAt = status, &at, decided
			ch.Record = validationRecord(typ, value, ch.Token, decided)
			ch.Error = problem
		}
		b.chals = append(b.chals, ch)
	}
}

// challengeTypes are the types the default configuration offers for an
// identifier, the preferred one first.
func challengeTypes(idType string, wildcard bool) []string {
	switch {
	case wildcard:
		return []string{challenges.TypeDNS01}
	case idType == state.IdentifierIP:
		return []string{challenges.TypeHTTP01, challenges.TypeTLSALPN01}
	}
	return []string{challenges.TypeHTTP01, challenges.TypeDNS01, challenges.TypeTLSALPN01}
}

func validationRecord(typ, value, token string, at time.Time) string {
	rec := challenges.Record{Type: typ, Hostname: value, Started: at.Add(-40 * time.Millisecond),
		Duration: 40 * time.Millisecond}
	switch typ {
	case challenges.TypeHTTP01:
		rec.Port, rec.URL = "80", "http://"+value+"/.well-known/acme-challenge/"+token
		rec.AddressesResolved, rec.AddressUsed = []string{"10.20.0.7"}, "10.20.0.7"
	case challenges.TypeTLSALPN01:
		rec.Port = "443"
		rec.AddressesResolved, rec.AddressUsed = []string{"10.20.0.7"}, "10.20.0.7"
	case challenges.TypeDNS01:
		rec.Hostname = "_acme-challenge." + value
		rec.Resolvers = []string{"10.0.0.53:53"}
	}
	b, _ := json.Marshal(rec)
	return string(b)
}

// identifierOf splits a certificate name into the identifier type, the
// authorization's value and whether it is a wildcard.
func identifierOf(name string) (string, string, bool) {
	if _, err := netip.ParseAddr(name); err == nil {
		return state.IdentifierIP, name, false
	}
	if v, ok := strings.CutPrefix(name, "*."); ok {
		return state.IdentifierDNS, v, true
	}
	return state.IdentifierDNS, name, false
}

func identifiersJSON(names []string) string {
	ids := make([]state.Identifier, 0, len(names))
	for _, n := range names {
		typ, _, _ := identifierOf(n)
		ids = append(ids, state.Identifier{Type: typ, Value: n})
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// randomSerial draws a positive 128-bit serial, as ca.NewSerial does.
func randomSerial(rng *rand.Rand) *big.Int {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[0] |= 0x01 // never zero
	return new(big.Int).SetBytes(b)
}

func serialHex(serial *big.Int) string { return hex.EncodeToString(serial.Bytes()) }

// certificateID is the RFC 9773 certificate ID (Section 4.1): the
// authority key ID and the serial's DER INTEGER content, each base64url.
func certificateID(aki []byte, serial *big.Int) string {
	value := serial.Bytes()
	if value[0]&0x80 != 0 {
		value = append([]byte{0}, value...)
	}
	return base64.RawURLEncoding.EncodeToString(aki) + "." +
		base64.RawURLEncoding.EncodeToString(value)
}

// randomID makes an identifier shaped like the gateway's: 16 random bytes
// in base64url.
func randomID(rng *rand.Rand) string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// fakeKeyID derives a subject key ID for an intermediate that does not
// exist, from a label.
func fakeKeyID(label string) []byte {
	sum := sha256.Sum256([]byte(label))
	return sum[:20]
}

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// sampledCert is one certificate drawn from the store and the filter
// values derived from it.
type sampledCert struct {
	serial, account, keyHash, profile string
	names                             []string
	issued                            time.Time
	// certID is its RFC 9773 certificate ID.
	certID string
	// label is the first label of its first name ("api-123"), domain the
	// two labels after it ("payments.prod").
	label, domain string
}

// listSample holds the values the cases draw from.
type listSample struct {
	certs    []sampledCert
	accounts []string
	issuers  []string
}

func (s *listSample) pick(rng *rand.Rand) *sampledCert { return &s.certs[rng.IntN(len(s.certs))] }

// sampleSize is how many certificates the filter values are drawn from.
const sampleSize = 500

// drawSample picks certificates spread over the store: each is the first
// at or after a random serial, so busy accounts and long lineages are
// drawn as often as they hold certificates. Only certificates with a DNS
// name are kept, since the name filters need one.
func drawSample(ctx context.Context, st *store.Store, seed uint64, now time.Time) (*listSample,
	error) {
	db := st.DB().WithContext(ctx)
	s := &listSample{}
	if err := db.Model(&store.Account{}).Pluck("id", &s.accounts).Error; err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	err := db.Model(&store.Certificate{}).Distinct("issuer_key_id").
		Where("status = ? AND not_after > ?", state.StatusRevoked, now).
		Pluck("issuer_key_id", &s.issuers).Error
	if err != nil {
		return nil, fmt.Errorf("listing issuers: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	for tries := 0; len(s.certs) < sampleSize && tries < 4*sampleSize; tries++ {
		var rows []store.Certificate
		err := db.Omit("der").Where("serial >= ?", randomHex(rng, 8)).Order("serial").
			Limit(1).Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("drawing certificates: %w", err)
		}
		if len(rows) == 1 {
			if c, ok := sampled(&rows[0]); ok {
				s.certs = append(s.certs, c)
			}
		}
	}
	if len(s.certs) == 0 || len(s.accounts) == 0 {
		return nil, errors.New("the store holds no certificates with DNS names: fill it first")
	}
	return s, nil
}

func sampled(c *store.Certificate) (sampledCert, bool) {
	names := strings.Split(c.Names, ",")
	typ, value, _ := identifierOf(names[0])
	labels := strings.Split(value, ".")
	if typ != state.IdentifierDNS || len(labels) < 3 {
		return sampledCert{}, false
	}
	keyID, _ := hex.DecodeString(c.IssuerKeyID)
	serial, _ := new(big.Int).SetString(c.Serial, 16)
	return sampledCert{serial: c.Serial, account: c.AccountID, keyHash: c.KeyHash,
		profile: c.Profile, names: names, issued: c.CreatedAt, certID: certificateID(keyID, serial),
		label: labels[0], domain: labels[1] + "." + labels[2]}, true
}

// errRollback undoes a transaction that only measures.
var errRollback = errors.New("rolled back on purpose")

// hotCases time the store queries on the issuance path (new order,
// finalize, revocation, ARI), those that rate limits add when configured,
// and the background work of the gateway (CRL, metrics, expiry webhooks,
// upkeep, retention, report), each with the arguments the gateway passes.
func hotCases() []listCase {
	tx := func(q func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error)) func(
		context.Context, *store.Store, *rand.Rand, *listSample) (int, error) {
		return func(ctx context.Context, st *store.Store, rng *rand.Rand, s *listSample) (int, error) {
			return q(st.Read(ctx), rng, s)
		}
	}
	count := func(n int64, err error) (int, error) { return int(n), err }
	now := func() time.Time { return time.Now().UTC() }
	week := func(n int) store.Window { return store.Window{After: now().Add(-7 * 24 * time.Hour), Limit: n} }
	return []listCase{
		{name: "hot/certificate", cli: "finalize, download, revoke, ARI, OCSP: by serial",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				_, err := r.Certificate(s.pick(rng).serial)
				return 1, err
			})},
		{name: "hot/key-blocked", cli: "finalize: KeyBlocked",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				_, err := r.KeyBlocked(s.pick(rng).keyHash)
				return 1, err
			})},
		{name: "hot/certificates-by-key", cli: "keyCompromise revocation: CertificatesByKey",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				rows, err := r.CertificatesByKey(s.pick(rng).keyHash, now())
				return len(rows), err
			})},
		{name: "hot/count-pending-orders", cli: "new order: CountPendingOrders",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				return count(r.CountPendingOrders(s.pick(rng).account, now()))
			})},
		{name: "hot/reusable-authz", cli: "new order: ReusableAuthorization",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				c := s.pick(rng)
				typ, value, wildcard := identifierOf(c.names[0])
				_, err := r.ReusableAuthorization(c.account, typ, value, wildcard, c.profile,
					now().Add(time.Hour), true)
				if errors.Is(err, store.ErrNotFound) {
					return 0, nil
				}
				return 1, err
			})},
		{name: "hot/count-replacing-orders", cli: "new order with ARI replaces: CountReplacingOrders",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				return count(r.CountReplacingOrders(s.pick(rng).certID,
					[]string{state.StatusProcessing, state.StatusValid}))
			})},
		{name: "hot/valid-authz-for", cli: "revocation by another account: ValidAuthorizationsFor",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				c := s.pick(rng)
				rows, err := r.ValidAuthorizationsFor(c.account, c.names, now())
				return len(rows), err
			})},
		{name: "hot/account-orders", cli: "orders list of an account: AccountOrders",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				rows, err := r.AccountOrders(s.pick(rng).account, "", 101)
				return len(rows), err
			})},
		{name: "rate/certs-of-account", cli: "rate limit per account (7 days, 50)",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				rows, err := r.RecentCertificates(s.pick(rng).account, week(50))
				return len(rows), err
			})},
		{name: "rate/orders-of-account", cli: "rate limit per account (7 days, 50)",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				rows, err := r.RecentOrders(s.pick(rng).account, week(50))
				return len(rows), err
			})},
		{name: "rate/certs-for-name", cli: "rate limit per identifier (7 days, 50)",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				rows, err := r.RecentCertificatesFor(s.pick(rng).names[0], week(50))
				return len(rows), err
			})},
		{name: "rate/orders-for-name", cli: "rate limit per identifier (7 days, 50)",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				rows, err := r.RecentOrdersFor(s.pick(rng).names[0], week(50))
				return len(rows), err
			})},
		{name: "show/renewals", cli: "certs show: CertificatesReplacing",
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				c := s.pick(rng)
				rows, err := r.CertificatesReplacing(c.account, c.serial)
				return len(rows), err
			})},
		{name: "bg/crl", cli: "CRL of an issuer: RevokedCertificates", reps: 10,
			run: tx(func(r *store.Tx, rng *rand.Rand, s *listSample) (int, error) {
				if len(s.issuers) == 0 {
					return 0, nil
				}
				rows, err := r.RevokedCertificates(s.issuers[rng.IntN(len(s.issuers))], now())
				return len(rows), err
			})},
		{name: "bg/metrics", cli: "certificate gauges: CountCertificates (24h)", reps: 10,
			run: tx(func(r *store.Tx, _ *rand.Rand, _ *listSample) (int, error) {
				c, err := r.CountCertificates(now(), 24*time.Hour)
				return int(c.Valid), err
			})},
		{name: "bg/expiry-webhook", cli: "expiry webhook scan: ExpiringWithoutRenewal (1h, 500)",
			reps: 10, run: tx(func(r *store.Tx, _ *rand.Rand, _ *listSample) (int, error) {
				rows, err := r.ExpiringWithoutRenewal(now(), now().Add(time.Hour), 500)
				return len(rows), err
			})},
		{name: "bg/stuck-orders", cli: "upkeep every 30s: StuckOrders", reps: 10,
			run: tx(func(r *store.Tx, _ *rand.Rand, _ *listSample) (int, error) {
				rows, err := r.StuckOrders(now().Add(-time.Minute), 100)
				return len(rows), err
			})},
		{name: "bg/stuck-challenges", cli: "upkeep every 30s: StuckChallenges", reps: 10,
			run: tx(func(r *store.Tx, _ *rand.Rand, _ *listSample) (int, error) {
				rows, err := r.StuckChallenges(now().Add(-time.Minute), 100)
				return len(rows), err
			})},
		{name: "bg/retention", cli: "hourly purge, write lock held: PurgeExpired (rolled back)",
			reps: 3, run: func(ctx context.Context, st *store.Store, _ *rand.Rand, _ *listSample) (int,
				error) {
				var n store.PurgeCounts
				err := st.Transact(ctx, func(tx *store.Tx) error {
					var err error
					if n, err = tx.PurgeExpired(now().Add(-7*24*time.Hour), time.Time{}); err != nil {
						return err
					}
					return errRollback
				})
				if errors.Is(err, errRollback) {
					err = nil
				}
				return int(n.Orders + n.Authorizations + n.Challenges), err
			}},
		{name: "bg/report", cli: "acmegate report (30 days): BuildReport", reps: 3,
			run: func(ctx context.Context, st *store.Store, _ *rand.Rand, _ *listSample) (int, error) {
				rep, err := st.BuildReport(ctx, now().Add(-30*24*time.Hour), now(), now())
				if err != nil {
					return 0, err
				}
				return len(rep.Rows), nil
			}},
	}
}

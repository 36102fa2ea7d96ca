package state

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store"
)

// Clock tells the time. Tests use a fake that moves only when told.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Issuer signs certificates; *ca.Issuer implements it.
type Issuer interface {
	Issue(req ca.IssueRequest) (*x509.Certificate, []byte, error)
	ChainPEM() []byte
	KeyID() []byte
	CreateCRL(entries []ca.RevokedEntry, number *big.Int, thisUpdate, nextUpdate time.Time,
		rand io.Reader) ([]byte, error)
}

var _ Issuer = (*ca.Issuer)(nil)

// Config holds the tunables of the state machine. Zero values get the
// defaults of [Config.withDefaults].
type Config struct {
	// Directory names the ACME directory this engine serves ("acme" by
	// default). Accounts belong to one directory and are refused at others.
	Directory string
	// Chaos makes the directory behave like a demanding but valid server,
	// to certify clients against (see [Chaos]).
	Chaos Chaos
	// OrderLifetime is how long a new order stays usable; default 8h.
	OrderLifetime time.Duration
	// PendingAuthzLifetime is how long a new authorization waits for a
	// challenge; default 8h.
	PendingAuthzLifetime time.Duration
	// ValidAuthzLifetime is how long a validated authorization is reused
	// for the same account; default 24h, and zero after defaults means
	// never reuse.
	ValidAuthzLifetime time.Duration
	// DisableAuthzReuse turns authorization reuse off.
	DisableAuthzReuse bool
	// ChallengeTypes are the challenge types offered for non-wildcard DNS
	// identifiers, in order; default http-01, dns-01, tls-alpn-01.
	// Wildcards get dns-01 only; IP identifiers get http-01 and tls-alpn-01.
	ChallengeTypes []string
	// Profiles are the certificate profiles clients may select; the map key
	// is the profile name. Default: a "default" profile of 24 hours.
	Profiles map[string]ca.Profile
	// DefaultProfile names the profile used when the order names none.
	DefaultProfile string
	// MaxIdentifiers bounds the identifiers of one order; default 100.
	MaxIdentifiers int
	// MaxPendingOrders bounds the pending or ready orders of one account;
	// default 300.
	MaxPendingOrders int
	// ValidationWait is how long a challenge POST waits for the validation
	// result before answering with the challenge still processing;
	// default 2s.
	ValidationWait time.Duration
	// ValidationTimeout bounds one validation attempt; default 15s.
	ValidationTimeout time.Duration
	// Validators bounds concurrent validations; default 32.
	Validators int
	// FinalizeWait is how long a finalize request waits for the signer
	// before answering with the order processing; default 5s.
	FinalizeWait time.Duration
	// RequireEAB makes external account binding mandatory.
	RequireEAB bool
	// TermsOfService, when set, must be agreed to at account creation.
	TermsOfService string
	// Policy restricts identifiers.
	Policy Policy
	// AccountURLPrefix turns an account ID into its URL (prefix + ID); CAA
	// accounturi checks (RFC 8657) and validators see the full URL.
	AccountURLPrefix string
	// TokenChallengeDomains lists the DNS suffixes (such as
	// "svc.cluster.local") whose names are offered the tkauth-01 token
	// challenge, when a validator for it is configured. Wildcards never get
	// it.
	TokenChallengeDomains []string
	// CacheAccounts keeps usable accounts in memory between requests. Set
	// it only when this engine makes every change to its accounts: one
	// process on its own database, never replicas sharing one.
	CacheAccounts bool
}

// CAAChecker checks CAA records before an authorization becomes valid;
// *caa.Checker implements it.
type CAAChecker interface {
	Check(ctx context.Context, id challenges.Identifier, wildcard bool, accountURI, method string) ([]string, error)
}

func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	setDur(&c.OrderLifetime, 8*time.Hour)
	setDur(&c.PendingAuthzLifetime, 8*time.Hour)
	setDur(&c.ValidAuthzLifetime, 24*time.Hour)
	setDur(&c.ValidationWait, 2*time.Second)
	setDur(&c.ValidationTimeout, 15*time.Second)
	setDur(&c.FinalizeWait, 5*time.Second)
	if c.Directory == "" {
		c.Directory = "acme"
	}
	if len(c.ChallengeTypes) == 0 {
		c.ChallengeTypes = []string{challenges.TypeHTTP01, challenges.TypeDNS01, challenges.TypeTLSALPN01}
	}
	if len(c.Profiles) == 0 {
		c.Profiles = map[string]ca.Profile{"default": ca.DefaultProfile()}
	}
	if c.DefaultProfile == "" {
		c.DefaultProfile = "default"
	}
	if c.MaxIdentifiers == 0 {
		c.MaxIdentifiers = 100
	}
	if c.MaxPendingOrders == 0 {
		c.MaxPendingOrders = 300
	}
	if c.Validators == 0 {
		c.Validators = 32
	}
	return c
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, ok := c.Profiles[c.DefaultProfile]; !ok {
		return fmt.Errorf("state: default profile %q is not among the profiles", c.DefaultProfile)
	}
	for name, p := range c.Profiles {
		if p.Lifetime <= 0 {
			return fmt.Errorf("state: profile %q has no lifetime", name)
		}
	}
	return c.Policy.validate()
}

// Engine runs the ACME state machine. It is safe for concurrent use.
type Engine struct {
	cfg        Config
	store      *store.Store
	issuers    *Issuers
	validators map[string]challenges.Validator
	caa        CAAChecker
	policy     *policy.Engine
	clock      Clock
	rand       io.Reader
	log        *slog.Logger
	metrics    *metrics

	queue    chan validationJob
	inflight sync.WaitGroup
	waitersM sync.Mutex
	waiters  map[string]chan struct{}
	stop     chan struct{}
	stopOnce sync.Once

	crlM sync.Mutex
	crls map[string]cachedCRL // by issuer key ID in hex

	accounts *accountCache // nil unless Config.CacheAccounts
}

// Options are the dependencies of [New].
type Options struct {
	Config Config
	Store  *store.Store
	// Issuer signs every certificate when Issuers is nil.
	Issuer Issuer
	// Issuers, when set, replaces Issuer: its active member signs, and the
	// others serve the certificates they issued (see [Issuers]).
	Issuers    *Issuers
	Validators map[string]challenges.Validator
	// CAA, when set, is asked after every successful validation; a refusal
	// makes the authorization invalid.
	CAA CAAChecker
	// Policy, when set, decides orders by the versioned issuance policy on
	// top of Config.Policy: identifiers, profiles, lifetimes, key types,
	// challenge types and rate limits. Nil applies Config.Policy alone.
	Policy *policy.Engine
	Clock  Clock
	// Rand supplies identifiers, tokens and serials; nil means crypto/rand.
	Rand   io.Reader
	Logger *slog.Logger
	// Registerer, when set, receives the engine's Prometheus series
	// (metrics.go); engines sharing one registry share the series.
	Registerer prometheus.Registerer
}

// New builds an Engine and starts its validation workers. Call
// [Engine.Close] to stop them.
func New(opts Options) (*Engine, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Store == nil || (opts.Issuer == nil && opts.Issuers == nil) {
		return nil, errors.New("state: a store and an issuer are required")
	}
	issuers := opts.Issuers
	if issuers == nil {
		var err error
		if issuers, err = NewIssuers(opts.Issuer); err != nil {
			return nil, err
		}
	}
	e := &Engine{
		cfg:        opts.Config.withDefaults(),
		store:      opts.Store,
		issuers:    issuers,
		validators: opts.Validators,
		caa:        opts.CAA,
		policy:     opts.Policy,
		clock:      opts.Clock,
		rand:       opts.Rand,
		log:        opts.Logger,
		metrics:    newMetrics(opts.Registerer),
		waiters:    map[string]chan struct{}{},
		stop:       make(chan struct{}),
		crls:       map[string]cachedCRL{},
	}
	if e.cfg.CacheAccounts {
		e.accounts = newAccountCache()
	}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.rand == nil {
		e.rand = rand.Reader
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "state")
	e.queue = make(chan validationJob, 4*e.cfg.Validators)
	for range e.cfg.Validators {
		go e.validationWorker()
	}
	return e, nil
}

// Close stops accepting validations and waits for in-flight validations and
// issuances to finish, or for ctx to end.
func (e *Engine) Close(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stop) })
	done := make(chan struct{})
	go func() {
		e.inflight.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("state: waiting for in-flight work: %w", ctx.Err())
	}
}

// Config returns the effective configuration, with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// Issuer returns the issuer the engine signs new certificates with.
func (e *Engine) Issuer() Issuer { return e.issuers.Active() }

// Issuers returns every issuer the engine knows, the active one included.
func (e *Engine) Issuers() *Issuers { return e.issuers }

// newID returns a URL-safe identifier of 128 bits for a new account,
// order, authorization or challenge: the creation time in milliseconds
// (48 bits), then 80 random bits. Time first makes new rows' IDs sort
// together, so that the indexes keyed by them (primary keys, links between
// orders, authorizations and challenges) grow in one place instead of
// touching a random page of a large B-tree with every insert. The random
// part keeps IDs from being guessed; they name resources, and every access
// is still checked against the requesting account.
func (e *Engine) newID() (string, error) {
	var b [16]byte
	ms := uint64(e.clock.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	if _, err := io.ReadFull(e.rand, b[6:]); err != nil {
		return "", fmt.Errorf("state: generating identifier: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newRandom returns 128 random bits, base64url encoded.
func (e *Engine) newRandom() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(e.rand, b[:]); err != nil {
		return "", fmt.Errorf("state: generating a random value: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// notFound is the single answer for a missing resource and for one that
// belongs to another account, so the two cannot be told apart
// (SECURITY-CATALOGUE D1).
func notFound(kind string) error {
	return problem.New(problem.NotFound, "%s not found", kind)
}

// storeErr maps a store error: not-found becomes the given problem, the
// rest stays internal.
func storeErr(err error, kind string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(kind)
	}
	return err
}

package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/store"
)

// dbMetrics registers the database latency histogram on reg and returns
// the hook [store.Options.Observe] calls after each transaction.
func dbMetrics(reg prometheus.Registerer) func(time.Duration, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "acmegate_db_transaction_duration_seconds",
		Help:    "Database transaction latency by outcome.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"outcome"})
	reg.MustRegister(h)
	return func(d time.Duration, err error) {
		outcome := state.OutcomeSuccess
		if err != nil {
			outcome = state.OutcomeFailure
		}
		h.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// registerCommitMetrics exports the SQLite writer's batch commits by
// whether they waited for the disk (sqlite_synchronous SELECTIVE syncs
// only the batches that hold a durable change).
func registerCommitMetrics(reg prometheus.Registerer, st *store.Store) {
	for _, synced := range []bool{true, false} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "acmegate_db_commits_total",
			Help:        "Batches committed by the SQLite writer, by whether the commit synced the journal.",
			ConstLabels: prometheus.Labels{"synced": strconv.FormatBool(synced)},
		}, func() float64 {
			s, u := st.Commits()
			if synced {
				return float64(s)
			}
			return float64(u)
		}))
	}
}

// certificateCollector exports the number of valid certificates and of
// those expiring soon. Counts are cached for ttl so that scrapes do not
// each scan the certificate table.
type certificateCollector struct {
	count    func(ctx context.Context, now time.Time, within time.Duration) (store.CertificateCounts, error)
	within   time.Duration
	ttl      time.Duration
	now      func() time.Time
	log      *slog.Logger
	valid    *prometheus.Desc
	expiring *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	counts  store.CertificateCounts
	counted bool
}

func newCertificateCollector(st *store.Store, log *slog.Logger) *certificateCollector {
	return &certificateCollector{
		count: func(ctx context.Context, now time.Time, within time.Duration) (store.CertificateCounts, error) {
			return st.Read(ctx).CountCertificates(now, within)
		},
		within: 24 * time.Hour,
		ttl:    30 * time.Second,
		now:    time.Now,
		log:    log,
		valid: prometheus.NewDesc("acmegate_certificates_valid",
			"Certificates neither revoked nor expired.", nil, nil),
		expiring: prometheus.NewDesc("acmegate_certificates_expiring",
			"Valid certificates expiring within the next 24 hours.", nil, nil),
	}
}

func (c *certificateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.valid
	ch <- c.expiring
}

func (c *certificateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.counted || now.Sub(c.at) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := c.count(ctx, now, c.within)
		cancel()
		if err != nil {
			// The last counts, if any, are served until the database answers.
			c.log.Warn("counting certificates for metrics failed", "error", err)
		} else {
			c.counts, c.at, c.counted = counts, now, true
		}
	}
	if !c.counted {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.valid, prometheus.GaugeValue, float64(c.counts.Valid))
	ch <- prometheus.MustNewConstMetric(c.expiring, prometheus.GaugeValue, float64(c.counts.Expiring))
}

// activeSigner returns the key of the active issuer, or nil when the
// issuer does not expose one.
func activeSigner(issuers *state.Issuers) crypto.Signer {
	if iss, ok := issuers.Active().(*ca.Issuer); ok {
		return iss.Signer
	}
	return nil
}

// readinessProbe answers /readyz: ready when the database answers a ping
// and the signer signs a fixed digest. The signer's result is cached for
// ttl, and at most one signing probe runs at a time, so a hung HSM does
// not pile up goroutines.
type readinessProbe struct {
	db      interface{ Ping(context.Context) error }
	signer  crypto.Signer
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time

	mu        sync.Mutex
	checkedAt time.Time
	signerErr error
	checked   bool
	running   chan struct{} // closed when the running probe ends; nil when none runs
}

func readiness(db interface{ Ping(context.Context) error }, signer crypto.Signer) http.HandlerFunc {
	p := &readinessProbe{db: db, signer: signer, timeout: 2 * time.Second, ttl: 5 * time.Second,
		now: time.Now}
	return p.ServeHTTP
}

func (p *readinessProbe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	if err := p.db.Ping(ctx); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if err := p.checkSigner(ctx); err != nil {
		http.Error(w, "signer unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// readinessDigest is what the probe signs: the SHA-256 of a fixed label.
var readinessDigest = sha256.Sum256([]byte("acmegate readiness probe"))

func (p *readinessProbe) checkSigner(ctx context.Context) error {
	if p.signer == nil {
		return errors.New("no signer")
	}
	p.mu.Lock()
	if p.checked && p.now().Sub(p.checkedAt) < p.ttl {
		err := p.signerErr
		p.mu.Unlock()
		return err
	}
	done := p.running
	if done == nil {
		done = make(chan struct{})
		p.running = done
		go p.sign(done)
	}
	p.mu.Unlock()
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.signerErr
	case <-ctx.Done():
		return fmt.Errorf("signer did not answer: %w", ctx.Err())
	}
}

// sign runs one signing probe and records its result.
func (p *readinessProbe) sign(done chan struct{}) {
	var err error
	if _, ok := p.signer.Public().(ed25519.PublicKey); ok {
		_, err = p.signer.Sign(rand.Reader, readinessDigest[:], crypto.Hash(0))
	} else {
		_, err = p.signer.Sign(rand.Reader, readinessDigest[:], crypto.SHA256)
	}
	p.mu.Lock()
	p.signerErr, p.checkedAt, p.checked, p.running = err, p.now(), true, nil
	p.mu.Unlock()
	close(done)
}

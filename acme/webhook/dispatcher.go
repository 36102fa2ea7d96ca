package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/store"
)

// LeaseName is the store lease under which one replica at a time delivers.
const LeaseName = "webhooks"

// batchSize is how many audit events are read at a time.
const batchSize = 200

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// Endpoint is one receiver of events.
type Endpoint struct {
	// URL is where events are posted (http or https).
	URL string
	// Secret is the HMAC key of the signatures.
	Secret []byte
	// Events are the event types posted here; empty means all of them.
	Events []string
	// Timeout bounds one attempt; default 10s.
	Timeout time.Duration
}

// LogValue names the endpoint by scheme, host and path: the secret, and a
// query string that may hold a token, stay out of logs.
func (e Endpoint) LogValue() slog.Value {
	u, err := url.Parse(e.URL)
	if err != nil {
		return slog.StringValue("<unparsable URL>")
	}
	return slog.StringValue(u.Scheme + "://" + u.Host + u.Path)
}

func (e Endpoint) wants(eventType string) bool {
	return len(e.Events) == 0 || slices.Contains(e.Events, eventType)
}

// cursorName names the endpoint's cursor in the settings table. It
// follows the URL: an endpoint moved to a new URL starts afresh.
func (e Endpoint) cursorName() string {
	sum := sha256.Sum256([]byte(e.URL))
	return "webhook_cursor:" + hex.EncodeToString(sum[:8])
}

// Options are the dependencies and tunables of [New].
type Options struct {
	// Store is required.
	Store     *store.Store
	Endpoints []Endpoint
	// Holder identifies this replica as the holder of the lease; required.
	Holder string
	// PollInterval is how often [Dispatcher.Run] looks for new events;
	// default 5s. The lease lasts three intervals, at least 30s.
	PollInterval time.Duration
	// ExpiringWithin is the window of the expiry scan: valid certificates
	// expiring within it and not renewed are reported. Zero turns the
	// scan off.
	ExpiringWithin time.Duration
	// ScanInterval is how often the expiry scan runs; default 10m.
	ScanInterval time.Duration
	// MaxAttempts bounds the attempts of one delivery; default 6.
	MaxAttempts int
	// FirstRetry is the wait before the second attempt, doubled before
	// each further one up to a minute; default 1s.
	FirstRetry time.Duration
	// Client sends the requests; default a client that follows no
	// redirects.
	Client *http.Client
	// Metrics, when set, receives the delivery counters.
	Metrics prometheus.Registerer
	// UserAgent is sent with every request; default "acmegate-webhook".
	UserAgent string
	Clock     Clock
	Logger    *slog.Logger
}

// Dispatcher delivers events to the endpoints. [Dispatcher.Run] and
// [Dispatcher.RunOnce] must not run concurrently on one Dispatcher; any
// number of Dispatchers on several replicas may share a store.
type Dispatcher struct {
	store          *store.Store
	endpoints      []Endpoint
	holder         string
	interval       time.Duration
	leaseTTL       time.Duration
	expiringWithin time.Duration
	scanInterval   time.Duration
	maxAttempts    int
	firstRetry     time.Duration
	client         *http.Client
	userAgent      string
	clock          Clock
	log            *slog.Logger
	deliveries     *prometheus.CounterVec

	lastScan time.Time
}

// New checks opts and returns a dispatcher; nothing runs until
// [Dispatcher.Run] or [Dispatcher.RunOnce].
func New(opts Options) (*Dispatcher, error) {
	if opts.Store == nil || opts.Holder == "" {
		return nil, errors.New("webhook: a store and a lease holder are required")
	}
	for i, e := range opts.Endpoints {
		if err := checkEndpoint(e); err != nil {
			return nil, fmt.Errorf("webhook: endpoint %d: %w", i, err)
		}
	}
	d := &Dispatcher{store: opts.Store, endpoints: opts.Endpoints, holder: opts.Holder,
		interval: opts.PollInterval, expiringWithin: opts.ExpiringWithin,
		scanInterval: opts.ScanInterval, maxAttempts: opts.MaxAttempts,
		firstRetry: opts.FirstRetry, client: opts.Client, userAgent: opts.UserAgent,
		clock: opts.Clock, log: opts.Logger}
	d.setDefaults()
	d.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "acmegate_webhook_deliveries_total",
		Help: "Webhook delivery attempts by result: delivered, retried or dropped.",
	}, []string{"result"})
	if opts.Metrics != nil {
		if err := opts.Metrics.Register(d.deliveries); err != nil {
			return nil, fmt.Errorf("webhook: registering metrics: %w", err)
		}
	}
	return d, nil
}

func (d *Dispatcher) setDefaults() {
	if d.interval <= 0 {
		d.interval = 5 * time.Second
	}
	d.leaseTTL = max(30*time.Second, 3*d.interval)
	if d.scanInterval <= 0 {
		d.scanInterval = 10 * time.Minute
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = 6
	}
	if d.firstRetry <= 0 {
		d.firstRetry = time.Second
	}
	if d.client == nil {
		d.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if d.userAgent == "" {
		d.userAgent = "acmegate-webhook"
	}
	if d.clock == nil {
		d.clock = systemClock{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("component", "webhook")
}

func checkEndpoint(e Endpoint) error {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the URL must be an absolute http or https URL")
	}
	if len(e.Secret) == 0 {
		return errors.New("the secret is empty")
	}
	for _, ev := range e.Events {
		if !slices.Contains(Events(), ev) {
			return fmt.Errorf("unknown event type %q", ev)
		}
	}
	return nil
}

// Run delivers events every poll interval until ctx ends. Failures are
// logged; the next round tries again.
func (d *Dispatcher) Run(ctx context.Context) {
	tick := time.NewTicker(d.interval)
	defer tick.Stop()
	for {
		if err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("webhook round failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// RunOnce does one round on this replica if it holds the lease, and
// nothing otherwise: the expiry scan when it is due, then every endpoint's
// pending events, endpoints in parallel. It returns when all endpoints are
// up to date (or gave up on an event), when ctx ends, or when the lease is
// lost to another replica.
func (d *Dispatcher) RunOnce(ctx context.Context) error {
	// 1. Hold the lease, or leave the work to the replica that does.
	held, err := d.store.TryLease(ctx, LeaseName, d.holder, d.leaseTTL)
	if err != nil || !held {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keeper sync.WaitGroup
	keeper.Go(func() { d.keepLease(ctx, cancel) })
	defer keeper.Wait()
	defer cancel()

	// 2. Report certificates expiring without renewal. The reports are
	// audit events, delivered below like any other.
	var errs []error
	if now := d.clock.Now(); d.expiringWithin > 0 && !now.Before(d.lastScan.Add(d.scanInterval)) {
		if n, err := d.scanExpiring(ctx, now); err != nil {
			errs = append(errs, err)
		} else {
			d.lastScan = now
			if n > 0 {
				d.log.Info("certificates expiring without renewal reported", "certificates", n)
			}
		}
	}

	// 3. Bring every endpoint up to date.
	results := make([]error, len(d.endpoints))
	var wg sync.WaitGroup
	for i, ep := range d.endpoints {
		wg.Go(func() { results[i] = d.drain(ctx, ep) })
	}
	wg.Wait()
	return errors.Join(append(errs, results...)...)
}

// keepLease renews the lease every third of its lifetime while a round
// runs, and cancels the round when another replica took it.
func (d *Dispatcher) keepLease(ctx context.Context, cancel context.CancelFunc) {
	tick := time.NewTicker(d.leaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		held, err := d.store.TryLease(ctx, LeaseName, d.holder, d.leaseTTL)
		if ctx.Err() != nil {
			return
		}
		if err != nil || !held {
			d.log.Warn("webhook lease lost; stopping this round", "error", err)
			cancel()
			return
		}
	}
}

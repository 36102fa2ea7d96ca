package state

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the state machine's Prometheus series. They work
// unregistered, so an engine built without a registry records into
// series nobody reads.
type metrics struct {
	issuance      *prometheus.HistogramVec
	validations   *prometheus.CounterVec
	validationDur *prometheus.HistogramVec
	signer        prometheus.Histogram
	signerErrors  prometheus.Counter

	// requested holds the arrival time of each finalize request whose
	// issuance is under way, by serial in hex. Recovered issuance has no
	// entry and records no latency.
	requested sync.Map
}

var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// newMetrics builds the series and registers them on reg when it is not
// nil. Series another engine already registered on reg (the staging
// directory's engine shares the process registry) are reused.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		issuance: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acmegate_issuance_duration_seconds",
			Help:    "Time from a finalize request to the certificate being stored, by profile.",
			Buckets: latencyBuckets,
		}, []string{"profile"}),
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acmegate_validations_total",
			Help: "Challenge validations by challenge type and outcome.",
		}, []string{"type", "outcome"}),
		validationDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acmegate_validation_duration_seconds",
			Help:    "Challenge validation latency by challenge type.",
			Buckets: latencyBuckets,
		}, []string{"type"}),
		signer: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "acmegate_signer_duration_seconds",
			Help:    "Latency of signing a certificate with the active issuer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		signerErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "acmegate_signer_errors_total",
			Help: "Certificate signing attempts the issuer refused or failed.",
		}),
	}
	if reg == nil {
		return m
	}
	m.issuance = register(reg, m.issuance)
	m.validations = register(reg, m.validations)
	m.validationDur = register(reg, m.validationDur)
	m.signer = register(reg, m.signer)
	m.signerErrors = register(reg, m.signerErrors)
	return m
}

// register registers c on reg, or returns the collector already
// registered under the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *metrics) observeValidation(typ, outcome string, d time.Duration) {
	m.validations.WithLabelValues(typ, outcome).Inc()
	m.validationDur.WithLabelValues(typ).Observe(d.Seconds())
}

func (m *metrics) observeSigner(d time.Duration, err error) {
	m.signer.Observe(d.Seconds())
	if err != nil {
		m.signerErrors.Inc()
	}
}

func outcomeOf(err error) string {
	if err != nil {
		return OutcomeFailure
	}
	return OutcomeSuccess
}

func (m *metrics) finalizeStarted(serial string, at time.Time) { m.requested.Store(serial, at) }

func (m *metrics) finalizeEnded(serial string) { m.requested.Delete(serial) }

// issued records the issuance latency of a stored certificate.
func (m *metrics) issued(serial, profile string) {
	if at, ok := m.requested.Load(serial); ok {
		m.issuance.WithLabelValues(profile).Observe(time.Since(at.(time.Time)).Seconds())
	}
}

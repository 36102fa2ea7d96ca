package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/webhook"
	"github.com/acmegate/acmegate/store"
)

// WebhookConfig is one endpoint that lifecycle events are posted to
// (package acme/webhook).
type WebhookConfig struct {
	// URL receives the events as JSON POSTs; http or https.
	URL string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key that signs each body (header
	// X-Acmegate-Signature: sha256=<hex>); at least 16 bytes, trailing
	// white space ignored.
	SecretFile string `yaml:"secret_file"`
	// Events are the event types posted: certificate.issued,
	// certificate.renewed, certificate.revoked, challenge.invalid,
	// certificate.expiring. Empty means all.
	Events []string `yaml:"events"`
	// Timeout bounds one attempt; default 10s.
	Timeout Duration `yaml:"timeout"`
}

// WebhookDeliveryConfig tunes delivery to every webhook.
type WebhookDeliveryConfig struct {
	// PollInterval is how often the audit log is read for new events.
	PollInterval Duration `yaml:"poll_interval"`
	// ExpiringWithin reports each valid certificate that expires within
	// this and has no later certificate of the same account and names,
	// once, as certificate.expiring; 0s turns the scan off. Keep it below
	// the time between the end of the renewal window (the last sixth of a
	// lifetime) and expiry for your shortest profile: 1h suits 6-hour
	// certificates, and so the default profiles.
	ExpiringWithin Duration `yaml:"expiring_within"`
	// ScanInterval is how often the expiry scan runs.
	ScanInterval Duration `yaml:"scan_interval"`
	// MaxAttempts bounds the attempts of one delivery; the event is then
	// dropped with an error log.
	MaxAttempts int `yaml:"max_attempts"`
	// FirstRetry is the wait before the second attempt, doubled before
	// each further one up to a minute.
	FirstRetry Duration `yaml:"first_retry"`
}

func defaultWebhookDelivery() WebhookDeliveryConfig {
	return WebhookDeliveryConfig{
		PollInterval:   Duration(5 * time.Second),
		ExpiringWithin: Duration(time.Hour),
		ScanInterval:   Duration(10 * time.Minute),
		MaxAttempts:    6,
		FirstRetry:     Duration(time.Second),
	}
}

// validateWebhooks reports the first bad field of the webhooks and their
// delivery settings. Secret files are read at start-up, not here.
func validateWebhooks(hooks []WebhookConfig, d WebhookDeliveryConfig) error {
	for i, h := range hooks {
		u, err := url.Parse(h.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: webhooks[%d].url must be an absolute http or https URL", i)
		}
		if h.SecretFile == "" {
			return fmt.Errorf("config: webhooks[%d].secret_file is required", i)
		}
		for _, ev := range h.Events {
			if !slices.Contains(webhook.Events(), ev) {
				return fmt.Errorf("config: webhooks[%d].events: unknown event %q; use %v", i, ev,
					webhook.Events())
			}
		}
		if h.Timeout < 0 {
			return fmt.Errorf("config: webhooks[%d].timeout must not be negative", i)
		}
	}
	switch {
	case d.PollInterval <= 0:
		return errors.New("config: webhook_delivery.poll_interval must be positive")
	case d.ScanInterval <= 0:
		return errors.New("config: webhook_delivery.scan_interval must be positive")
	case d.ExpiringWithin < 0:
		return errors.New("config: webhook_delivery.expiring_within must not be negative")
	case d.MaxAttempts < 1 || d.MaxAttempts > 20:
		return errors.New("config: webhook_delivery.max_attempts must be between 1 and 20")
	case d.FirstRetry <= 0:
		return errors.New("config: webhook_delivery.first_retry must be positive")
	}
	return nil
}

// startWebhooks reads the webhook secrets and runs the dispatcher until ctx
// ends; replica is this process's lease holder ID. Nothing runs without
// webhooks.
func startWebhooks(ctx context.Context, cfg Config, st *store.Store, replica string,
	reg prometheus.Registerer, log *slog.Logger) error {
	if len(cfg.Webhooks) == 0 {
		return nil
	}
	endpoints := make([]webhook.Endpoint, 0, len(cfg.Webhooks))
	for i, h := range cfg.Webhooks {
		secret, err := readWebhookSecret(h.SecretFile)
		if err != nil {
			return fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		endpoints = append(endpoints, webhook.Endpoint{URL: h.URL, Secret: secret,
			Events: h.Events, Timeout: time.Duration(h.Timeout)})
	}
	d := cfg.WebhookDelivery
	dispatcher, err := webhook.New(webhook.Options{Store: st, Endpoints: endpoints,
		Holder: replica, PollInterval: time.Duration(d.PollInterval),
		ExpiringWithin: time.Duration(d.ExpiringWithin), ScanInterval: time.Duration(d.ScanInterval),
		MaxAttempts: d.MaxAttempts, FirstRetry: time.Duration(d.FirstRetry), Metrics: reg,
		UserAgent: "acmegate-webhook/" + version, Logger: log})
	if err != nil {
		return err
	}
	go dispatcher.Run(ctx)
	log.Info("webhook delivery started", "endpoints", len(endpoints),
		"expiring_within", time.Duration(d.ExpiringWithin))
	return nil
}

// readWebhookSecret reads a shared secret, without trailing white space.
func readWebhookSecret(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the webhook secret: %w", err)
	}
	secret := bytes.TrimRight(raw, " \t\r\n")
	if len(secret) < 16 {
		return nil, fmt.Errorf("the webhook secret in %s is shorter than 16 bytes", path)
	}
	return secret, nil
}

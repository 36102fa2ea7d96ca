package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/acmegate/acmegate/store"
)

// maxRetryDelay caps the backoff between attempts.
const maxRetryDelay = time.Minute

// drain delivers the endpoint's events after its cursor, moving the cursor
// past each event it has dealt with: delivered, dropped after the last
// attempt, or not subscribed. An event interrupted by ctx stays pending.
func (d *Dispatcher) drain(ctx context.Context, ep Endpoint) error {
	cursor, err := d.cursor(ctx, ep)
	if err != nil {
		return err
	}
	saved := cursor
	defer func() {
		if cursor != saved {
			d.saveCursor(ctx, ep, cursor)
		}
	}()
	for {
		events, err := d.store.AuditEvents(ctx, cursor, time.Time{}, batchSize)
		if err != nil {
			return err
		}
		for i := range events {
			p, ok, err := payloadFor(ctx, d.store, &events[i])
			if err != nil {
				return fmt.Errorf("webhook: describing audit event %d: %w", events[i].Seq, err)
			}
			if ok && ep.wants(p.Type) {
				if err := d.deliver(ctx, ep, p); err != nil {
					return err
				}
				cursor = events[i].Seq
				d.saveCursor(ctx, ep, cursor)
				saved = cursor
				continue
			}
			cursor = events[i].Seq
		}
		if len(events) < batchSize {
			return nil
		}
	}
}

// cursor loads the endpoint's cursor, starting a new endpoint at the newest
// audit event.
func (d *Dispatcher) cursor(ctx context.Context, ep Endpoint) (int64, error) {
	var seq int64
	err := d.store.Transact(ctx, func(tx *store.Tx) error {
		var found bool
		var err error
		if seq, found, err = tx.Cursor(ep.cursorName()); err != nil || found {
			return err
		}
		if seq, err = tx.LatestAuditSeq(); err != nil {
			return err
		}
		return tx.SetCursor(ep.cursorName(), seq)
	})
	if err != nil {
		return 0, fmt.Errorf("webhook: loading the cursor of %s: %w", ep.URL, err)
	}
	return seq, nil
}

// saveCursor persists the cursor, even when ctx has ended: what was
// delivered must not be delivered again for nothing. A failure is logged;
// the events after the stored cursor are then delivered again.
func (d *Dispatcher) saveCursor(ctx context.Context, ep Endpoint, seq int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := d.store.Transact(ctx, func(tx *store.Tx) error {
		return tx.SetCursor(ep.cursorName(), seq)
	})
	if err != nil {
		d.log.Error("saving webhook cursor failed", "endpoint", ep, "seq", seq, "error", err)
	}
}

// deliver posts p to ep until an attempt succeeds or the attempts are
// spent; it returns an error only when ctx ended first.
func (d *Dispatcher) deliver(ctx context.Context, ep Endpoint, p *Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("webhook: encoding event %s: %w", p.ID, err)
	}
	delay := d.firstRetry
	for attempt := 1; ; attempt++ {
		err := d.post(ctx, ep, p, body, attempt)
		if err == nil {
			d.deliveries.WithLabelValues("delivered").Inc()
			d.log.Info("webhook delivered", "endpoint", ep, "event", p.Type, "event_id", p.ID,
				"attempt", attempt)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= d.maxAttempts {
			d.deliveries.WithLabelValues("dropped").Inc()
			d.log.Error("webhook delivery gave up", "endpoint", ep, "event", p.Type,
				"event_id", p.ID, "attempts", attempt, "error", err)
			return nil
		}
		d.deliveries.WithLabelValues("retried").Inc()
		d.log.Warn("webhook delivery failed; retrying", "endpoint", ep, "event", p.Type,
			"event_id", p.ID, "attempt", attempt, "retry_in", delay, "error", err)
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, maxRetryDelay)
	}
}

// post makes one attempt. Any status other than 2xx is a failure.
func (d *Dispatcher) post(ctx context.Context, ep Endpoint, p *Payload, body []byte,
	attempt int) error {
	timeout := ep.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.userAgent)
	req.Header.Set(HeaderSignature, Sign(ep.Secret, body))
	req.Header.Set(HeaderEvent, p.Type)
	req.Header.Set(HeaderEventID, p.ID)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

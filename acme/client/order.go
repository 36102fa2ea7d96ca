package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// OrderRequest is what [Client.NewOrder] asks for (RFC 8555,
// Section 7.4).
type OrderRequest struct {
	// Identifiers are the names and addresses of the certificate; see
	// [NewIdentifier].
	Identifiers []Identifier
	// Profile, when set, names a certificate profile the directory offers
	// (draft-ietf-acme-profiles-00, Section 4).
	Profile string
	// Replaces, when set, is the certificate ID (see [CertificateID]) of
	// the certificate this order renews (RFC 9773, Section 5).
	Replaces string
	// NotBefore and NotAfter, when not zero, ask for a validity period.
	NotBefore, NotAfter time.Time
}

// NewOrder creates an order (RFC 8555, Section 7.4). It needs an account.
func (c *Client) NewOrder(ctx context.Context, req OrderRequest) (*Order, error) {
	if len(req.Identifiers) == 0 {
		return nil, errors.New("client: an order needs at least one identifier")
	}
	dir, err := c.Directory(ctx)
	if err != nil {
		return nil, err
	}
	p := orderPayload{Identifiers: req.Identifiers, Profile: req.Profile, Replaces: req.Replaces}
	if !req.NotBefore.IsZero() {
		p.NotBefore = req.NotBefore.UTC().Format(time.RFC3339)
	}
	if !req.NotAfter.IsZero() {
		p.NotAfter = req.NotAfter.UTC().Format(time.RFC3339)
	}
	o := new(Order)
	resp, err := c.postJSON(ctx, dir.NewOrder, p, o)
	if err != nil {
		return nil, fmt.Errorf("client: creating an order: %w", err)
	}
	if o.URL = resp.header.Get("Location"); o.URL == "" {
		return nil, errors.New("client: the new-order answer has no Location header")
	}
	return o, nil
}

// Order fetches an order (RFC 8555, Section 7.4).
func (c *Client) Order(ctx context.Context, url string) (*Order, error) {
	o, _, err := c.order(ctx, url)
	return o, err
}

func (c *Client) order(ctx context.Context, url string) (*Order, time.Duration, error) {
	o := new(Order)
	resp, err := c.postJSON(ctx, url, nil, o)
	if err != nil {
		return nil, 0, fmt.Errorf("client: fetching order %s: %w", url, err)
	}
	o.URL = url
	return o, retryAfter(resp.header, time.Now()), nil
}

// WaitOrder polls an order while it is pending or processing and returns
// it once it is ready or valid. An invalid order gives an error wrapping
// its *ProblemError when it has one. A pending order whose authorizations
// nobody completes is polled until the poll timeout.
func (c *Client) WaitOrder(ctx context.Context, url string) (*Order, error) {
	var order *Order
	err := c.poll(ctx, "order "+url, func(ctx context.Context) (time.Duration, bool, error) {
		o, retry, err := c.order(ctx, url)
		if err != nil {
			return 0, false, err
		}
		order = o
		return retry, o.Status != StatusPending && o.Status != StatusProcessing, nil
	})
	if err != nil {
		return nil, err
	}
	return order, orderError(order)
}

// orderError returns nil for a ready or valid order and an error
// otherwise.
func orderError(o *Order) error {
	switch {
	case o.Status == StatusReady || o.Status == StatusValid:
		return nil
	case o.Error != nil:
		return fmt.Errorf("client: order %s is %s: %w", o.URL, o.Status, o.Error)
	}
	return fmt.Errorf("client: order %s is %s", o.URL, o.Status)
}

// Finalize submits the DER CSR of a ready order (RFC 8555, Section 7.4)
// and polls until the certificate is issued. It returns the valid order,
// whose Certificate member is the URL for [Client.Certificate]. A refused
// CSR gives a *ProblemError such as badCSR; an order that became invalid
// gives an error wrapping its problem.
func (c *Client) Finalize(ctx context.Context, order *Order, csrDER []byte) (*Order, error) {
	if order.Finalize == "" {
		return nil, errors.New("client: the order has no finalize URL")
	}
	p := finalizePayload{CSR: base64.RawURLEncoding.EncodeToString(csrDER)}
	o := new(Order)
	resp, err := c.postJSON(ctx, order.Finalize, p, o)
	if err != nil {
		return nil, fmt.Errorf("client: finalizing order %s: %w", order.URL, err)
	}
	o.URL = order.URL
	if o.URL == "" {
		o.URL = resp.header.Get("Location")
	}
	if o.Status == StatusProcessing || o.Status == StatusReady {
		if o.URL == "" {
			return nil, errors.New("client: the order is processing and its URL is unknown")
		}
		if o, err = c.WaitOrder(ctx, o.URL); err != nil {
			return nil, err
		}
	}
	if o.Status != StatusValid {
		if err := orderError(o); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("client: order %s is %s after finalize, want valid", o.URL, o.Status)
	}
	if o.Certificate == "" {
		return nil, fmt.Errorf("client: the valid order %s has no certificate URL", o.URL)
	}
	return o, nil
}

// Certificate downloads a certificate chain (RFC 8555, Section 7.4.2): PEM,
// the end-entity certificate first, then the certificates that certify
// it.
func (c *Client) Certificate(ctx context.Context, url string) ([]byte, error) {
	resp, err := c.post(ctx, url, nil, false)
	if err != nil {
		return nil, fmt.Errorf("client: downloading certificate %s: %w", url, err)
	}
	if !bytes.Contains(resp.body, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("client: the download of %s holds no PEM certificate", url)
	}
	return resp.body, nil
}

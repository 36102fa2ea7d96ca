package client

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// CertificateID returns the RFC 9773 (Section 4.1) identifier of a
// certificate: the base64url key identifier of its Authority Key
// Identifier extension, a ".", and the base64url DER value octets of its
// serial number (the INTEGER content, leading zero byte included). It
// returns an error when the certificate has no Authority Key Identifier.
func CertificateID(cert *x509.Certificate) (string, error) {
	if len(cert.AuthorityKeyId) == 0 {
		return "", errors.New("client: the certificate has no authority key identifier")
	}
	der, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return "", fmt.Errorf("client: encoding the serial number: %w", err)
	}
	var integer asn1.RawValue
	if _, err := asn1.Unmarshal(der, &integer); err != nil {
		return "", fmt.Errorf("client: decoding the serial number: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(cert.AuthorityKeyId) + "." +
		base64.RawURLEncoding.EncodeToString(integer.Bytes), nil
}

// RenewalInfo fetches the renewal information of cert (RFC 9773,
// Section 4.2) with a plain GET. It returns ErrUnsupported when the
// directory has no renewalInfo, a *ProblemError when the server refuses,
// and an error for a window whose end is not after its start, which
// RFC 9773, Section 4.2 says to treat as no answer.
func (c *Client) RenewalInfo(ctx context.Context, cert *x509.Certificate) (*RenewalInfo, error) {
	dir, err := c.Directory(ctx)
	if err != nil {
		return nil, err
	}
	if dir.RenewalInfo == "" {
		return nil, fmt.Errorf("client: renewal information: %w", ErrUnsupported)
	}
	id, err := CertificateID(cert)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodGet, strings.TrimSuffix(dir.RenewalInfo, "/")+"/"+id, nil)
	if err != nil {
		return nil, fmt.Errorf("client: fetching renewal information of %s: %w", id, err)
	}
	var ri renewalInfoJSON
	if err := resp.decode(&ri); err != nil {
		return nil, fmt.Errorf("client: renewal information of %s: %w", id, err)
	}
	w := ri.SuggestedWindow
	if !w.End.After(w.Start) {
		return nil, fmt.Errorf(
			"client: renewal information of %s: window end %s is not after its start %s",
			id, w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	return &RenewalInfo{
		Window:         w,
		ExplanationURL: ri.ExplanationURL,
		RetryAfter:     retryAfter(resp.header, time.Now()),
	}, nil
}

// RandomTime returns a uniformly random time within the window, as
// RFC 9773, Section 4.2 recommends for choosing when to renew. When spread
// is positive, only the first spread of the window is used (a deployment
// that wants renewals soon after the window opens). r supplies the
// randomness; nil means the global source.
func (w Window) RandomTime(spread time.Duration, r *rand.Rand) time.Time {
	span := w.End.Sub(w.Start)
	if spread > 0 {
		span = min(span, spread)
	}
	if span <= 0 {
		return w.Start
	}
	var n int64
	if r != nil {
		n = r.Int64N(int64(span))
	} else {
		n = rand.Int64N(int64(span))
	}
	return w.Start.Add(time.Duration(n))
}
